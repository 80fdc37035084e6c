# Recall@10 vs single-thread QPS (CPU time) from ann_bench CSVs; brute force as flat lines.
# gnuplot -e "csv='mixture200k.csv'; out='mixture200k.svg'; title='...'; bf=520; bfs=12113; xmin=0.5" plot.gp
# One colour per graph; line style per layout: plain (thin), packed with the SSE2 kernel
# (dashed), packed with the AVX2 kernel (thick). Graphs absent from a CSV draw nothing.
set terminal svg size 820,520 font "sans,12" background rgb "white"
set output out
set datafile separator ","
set title title noenhanced
set xlabel "recall@10" noenhanced
set ylabel "queries per second (1 thread, CPU time)"
set logscale y
set grid
if (!exists("xmin")) xmin = 0.5
set key outside right top font ",10"
set xrange [xmin:1.002]
sel(g) = (strcol(1) eq g) ? $3 : 1/0
plot csv using (sel("nsg")):4 with linespoints lc 1 pt 7 ps 0.6 lw 1 title "NSG", \
     csv using (sel("nsg+packed-sse2")):4 with linespoints lc 1 pt 7 ps 0.6 lw 2 dt 2 title "NSG packed (SSE2)", \
     csv using (sel("nsg+packed")):4 with linespoints lc 1 pt 7 ps 0.6 lw 3 title "NSG packed (AVX2)", \
     csv using (sel("hnsw-flat")):4 with linespoints lc 2 pt 5 ps 0.6 lw 1 title "HNSW-style (flat)", \
     csv using (sel("hnsw-flat+packed-sse2")):4 with linespoints lc 2 pt 5 ps 0.6 lw 2 dt 2 title "HNSW packed (SSE2)", \
     csv using (sel("hnsw-flat+packed")):4 with linespoints lc 2 pt 5 ps 0.6 lw 3 title "HNSW packed (AVX2)", \
     csv using (sel("mrng")):4 with linespoints lc 4 pt 9 ps 0.6 lw 1 title "exact MRNG (small set)", \
     csv using (sel("mrng+packed-sse2")):4 with linespoints lc 4 pt 9 ps 0.6 lw 2 dt 2 title "MRNG packed (SSE2)", \
     csv using (sel("mrng+packed")):4 with linespoints lc 4 pt 9 ps 0.6 lw 3 title "MRNG packed (AVX2)", \
     bf with lines lc 8 dt 2 lw 2 title "brute force (full base)", \
     bfs with lines lc 8 dt 3 lw 2 title "brute force (MRNG's set)"
