# Per layout: best QPS at each L over its repeated sweeps (the layouts alternate in time, so
# load from other jobs hits each about equally), then QPS@0.95/0.99 interpolated as ann_bench's
# qps_at does; max recall at the largest L.
import csv, sys, collections
for path in sys.argv[1:]:
    rows = list(csv.DictReader(open(path)))
    by = collections.OrderedDict()
    for r in rows:
        g = r['graph']
        by.setdefault(g, {})
        L = int(r['L'])
        prev = by[g].get(L)
        q = float(r['qps_cpu'])
        rec = float(r['recall_at_10'])
        if prev:
            assert abs(prev[0] - rec) < 1e-9, (g, L, prev[0], rec)
        if not prev or q > prev[1]:
            by[g][L] = (rec, q)
    def qps_at(pts, t):
        for i, (L, (rec, q)) in enumerate(pts):
            if rec >= t:
                if i == 0: return q
                (L0, (r0, q0)) = pts[i - 1]
                return q0 + (t - r0) / (rec - r0) * (q - q0)
        return 0
    print(path)
    for g, d in by.items():
        pts = sorted(d.items())
        n = sum(1 for r in rows if r['graph'] == g) // len(pts)
        print(f"  {g:16s} sweeps {n}  QPS@0.95 {qps_at(pts, .95):8.0f}  QPS@0.99 {qps_at(pts, .99):8.0f}  max recall {pts[-1][1][0]:.4f}")
