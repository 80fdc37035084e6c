# Recall@10 vs single-thread QPS (CPU time) from ann_bench CSVs; brute force as a flat line.
# gnuplot -e "csv='mixture200k.csv'; out='mixture200k.svg'; title='...'; bf=525; bfs=16708; xmin=0.5" plot.gp
set terminal svg size 760,480 font "sans,12" background rgb "white"
set output out
set datafile separator ","
set title title noenhanced
set xlabel "recall@10" noenhanced
set ylabel "queries per second (1 thread, CPU time)"
set logscale y
set grid
if (!exists("xmin")) xmin = 0.5
set key bottom left
set xrange [xmin:1.002]
sel(g) = (strcol(1) eq g) ? $3 : 1/0
plot csv using (sel("nsg")):4 with linespoints pt 7 title "NSG", \
     csv using (sel("hnsw-flat")):4 with linespoints pt 5 title "HNSW-style (flat)", \
     csv using (sel("mrng")):4 with linespoints pt 9 title "exact MRNG (small set)", \
     bf with lines dt 2 lw 2 title "brute force (full base)", \
     bfs with lines dt 3 lw 2 title "brute force (MRNG's small set)"
