// Recall@10 vs single-thread QPS of NSG, exact MRNG, the flat HNSW-style graph and brute force.
//
// Not a Google Benchmark loop: each point is a full pass over the query set (recall needs every
// query), and brute force (exact_knn, one thread, blocked GEMM) is timed in the same process so
// speedups are ratios within one run on one machine. Single-thread work runs on the calling
// thread, so its CPU time (CLOCK_THREAD_CPUTIME_ID) is measured besides wall time: on a shared
// machine the wall clock also counts the time other processes held the core. QPS and speedups
// are reported on CPU time; wall-clock QPS goes to the CSV as well. Every graph is built first,
// then all of them are timed together, round by round at each L (time_curves), so a drift in
// the shared machine's speed falls on all of them alike.
//
//   ann_bench --set mixture --n 200000 --nq 1000 --graphs nsg,hnsw --csv out.csv
//   ann_bench --set mnist --graphs nsg,hnsw,mrng --mrng-n 5000 --csv mnist.csv
//   ann_bench --set mixture --graphs nsg,hnswlib16,hnswlib32 --layouts packed
//   ann_bench --set mixture --graphs nsg --layouts packed,packed-f32 --save-nsg mix.tann
//
// hnswlibM (M = 16, 32, ...; efConstruction --ef, default 200) is hnswlib itself (Debian's
// libhnswlib-dev) built and searched in this process, one thread, ef swept over --L.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "models/ann/conflict.h"
#include "models/ann/knn.h"
#include "models/ann/mrng.h"
#include "models/ann/nsg.h"
#include "models/ann/packed_index.h"
#include "models/ann/search.h"
#include "models/ann/vectors.h"
#include "runtime/core/cpu_time.h"

#if TESSEL_HAVE_HNSWLIB
#include <hnswlib/hnswlib.h>
#endif

using namespace tessel::ann;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Wall and calling-thread CPU seconds of one call.
struct Timing {
  double wall = 1e30, cpu = 1e30;
  template <typename F>
  void best_of(F f) {
    const auto t0 = Clock::now();
    const double c0 = tessel::thread_cpu_seconds();
    f();
    cpu = std::min(cpu, tessel::thread_cpu_seconds() - c0);
    wall = std::min(wall, seconds_since(t0));
  }
};

struct Point {
  std::string graph;
  int L;
  double recall, qps, qps_wall, mean_distances, mean_hops;
  double baseline = 0;  // brute-force QPS (CPU time) over the same base
};

// How a graph is laid out for searching: the graph and base as built ("plain"), or a
// PackedIndex with some of its three parts.
struct Layout {
  std::string name;
  bool packed = false;
  PackOptions options;
};

Layout parse_layout(const std::string& name) {
  Layout l{name, name != "plain", {}};
  // The ablation layouts (bfs, codes, huge) are the parts measured before the edge bounds.
  if (name == "bfs" || name == "codes" || name == "huge" || name == "packed-nb")
    l.options.edge_bounds = false;
  if (name == "bfs")
    l.options.codes = false;  // renumbering + huge pages, floats
  else if (name == "codes")
    l.options.reorder = false;  // codes + huge pages, build order
  else if (name == "huge")
    l.options.codes = false, l.options.reorder = false;
  else if (name == "packed-sse2")
    l.options.avx2 = false;
  else if (name == "packed-f32")
    l.options.rerank_vectors = RerankVectors::kFloat32;  // the layout before 2026-12-06
  else if (name == "packed-f16")
    l.options.rerank_vectors = RerankVectors::kHalf;  // binary16 values, not residuals
  else if (name != "plain" && name != "packed" && name != "packed-nb")
    throw std::runtime_error(
        "--layouts: unknown layout '" + name +
        "' (plain, huge, bfs, codes, packed, packed-nb, packed-sse2, packed-f32, packed-f16)");
  return l;
}

// One curve to measure: `once(L)` runs every query once at pool size (or ef) L on this thread
// and returns what it found with the mean distances and hops per query. The curves of one run
// are timed together (time_curves), so every graph meets the same machine.
struct Outcome {
  KnnResult found;
  double distances = 0, hops = 0;
};
struct Curve {
  std::string label;
  std::function<Outcome(int)> once;
  std::shared_ptr<const KnnResult> truth;
  double build_s = 0, baseline = 0;  // baseline: brute-force QPS (CPU time) over its base
  std::string extra;                 // for the summary line
};

// A graph searched in one layout. The curve outlives the caller's graph and base, so it keeps
// its own: the PackedIndex, or (plain) copies of both.
Curve graph_curve(const std::string& name, const Graph& g, const VectorSet& base,
                  const VectorSet& queries, const Layout& layout, int rerank, int width,
                  std::size_t* bytes) {
  std::shared_ptr<const Graph> graph;
  std::shared_ptr<const VectorSet> vectors;
  std::shared_ptr<const PackedIndex> packed;
  if (layout.packed) {
    packed = std::make_shared<const PackedIndex>(g, base, layout.options);
  } else {
    graph = std::make_shared<const Graph>(g);
    vectors = std::make_shared<const VectorSet>(base);
  }
  // Plain: the CSR graph (offsets and edges) and the float vectors.
  if (packed) {
    std::vector<int> deg(static_cast<std::size_t>(g.size()));
    for (int64_t u = 0; u < g.size(); ++u) deg[u] = g.degree(static_cast<int32_t>(u));
    std::sort(deg.begin(), deg.end());
    auto pct = [&](int q) { return deg[(deg.size() - 1) * q / 100]; };
    std::fprintf(stderr,
                 "  %s: slot stride %d ints, %lld overflow lists; degree p50 %d p90 %d p95 %d "
                 "p99 %d max %d\n",
                 name.c_str(), packed->slot_stride(),
                 static_cast<long long>(packed->overflow_nodes()), pct(50), pct(90), pct(95),
                 pct(99), deg.back());
  }
  *bytes = packed ? packed->bytes()
                  : g.offsets.size() * sizeof(int64_t) + g.edges.size() * sizeof(int32_t) +
                        static_cast<std::size_t>(base.n) * base.dim * sizeof(float);
  Curve c;
  c.label = layout.name == "plain" ? name : name + "+" + layout.name;
  if (width != 1) c.label += "-w" + std::to_string(width);
  c.once = [graph, vectors, packed, &queries, rerank, width](int L) {
    std::vector<SearchStats> stats;
    const SearchParams sp{L, 10, rerank, width};
    Outcome o;
    o.found = packed ? search_batch(*packed, queries, sp, 1, &stats)
                     : search_batch(*graph, *vectors, queries, sp, 1, &stats);
    for (const auto& s : stats) o.distances += s.distances, o.hops += s.hops;
    o.distances /= queries.n, o.hops /= queries.n;
    return o;
  };
  return c;
}

// Times every curve at each L (>= 10): `reps` rounds, each running every curve once in an order
// that rotates from round to round; the best time of each curve is kept. Interleaving matters on
// a shared machine, whose speed drifts by up to 50% over minutes: curves timed one after another
// would compare different machines. Each timed pass follows an untimed one of the same curve, so
// it finds its index in cache as a server answering a stream of queries would; without it every
// pass started with the other indexes' rows in the 32 MB L3, which cost the faster searches a
// larger share of their time (docs/ann.md, "Slot fill").
std::vector<std::vector<Point>> time_curves(const std::vector<Curve>& curves,
                                            const std::vector<int>& Ls, int reps, int64_t nq) {
  std::vector<std::vector<Point>> out(curves.size());
  for (int L : Ls) {
    if (L < 10) continue;
    std::vector<Timing> t(curves.size());
    std::vector<Outcome> last(curves.size());
    for (int r = 0; r < reps; ++r)
      for (std::size_t i = 0; i < curves.size(); ++i) {
        const std::size_t c = (i + static_cast<std::size_t>(r)) % curves.size();
        last[c] = curves[c].once(L);  // warm-up
        t[c].best_of([&] { last[c] = curves[c].once(L); });
      }
    for (std::size_t c = 0; c < curves.size(); ++c) {
      const double recall = recall_at(last[c].found, *curves[c].truth, 10);
      out[c].push_back({curves[c].label, L, recall, nq / t[c].cpu, nq / t[c].wall,
                        last[c].distances, last[c].hops, curves[c].baseline});
      std::fprintf(stderr, "  %-14s L=%4d recall@10=%.4f qps=%9.0f dist/q=%7.0f hops/q=%6.0f\n",
                   curves[c].label.c_str(), L, recall, out[c].back().qps, last[c].distances,
                   last[c].hops);
    }
  }
  return out;
}

// QPS at a recall target, interpolated linearly between the two sweep points around it
// (recall rises with L); 0 when the sweep never reaches the target.
double qps_at(const std::vector<Point>& pts, double target) {
  for (std::size_t i = 0; i < pts.size(); ++i)
    if (pts[i].recall >= target) {
      if (i == 0) return pts[0].qps;
      const Point &a = pts[i - 1], &b = pts[i];
      const double t = (target - a.recall) / (b.recall - a.recall);
      return a.qps + t * (b.qps - a.qps);
    }
  return 0;
}

#if TESSEL_HAVE_HNSWLIB
// hnswlib at each ef of `Ls` (>= 10), one thread, queries one by one as its searchKnn serves
// them; the best of `reps` timings. Memory: its level-0 array (vectors, links, labels) and the
// upper-level link lists, not its label map or visited-list pool (so it is counted low).
struct Hnswlib {
  std::unique_ptr<hnswlib::L2Space> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index;
  double build_cpu_s = 0;
  std::size_t bytes() const {
    std::size_t b = index->max_elements_ * index->size_data_per_element_;
    for (std::size_t i = 0; i < index->cur_element_count; ++i)
      b += index->element_levels_[i] * index->size_links_per_element_ + sizeof(void*) + sizeof(int);
    return b;
  }
};

Hnswlib build_hnswlib(const VectorSet& base, int M, int ef_construction) {
  Hnswlib h;
  h.space = std::make_unique<hnswlib::L2Space>(static_cast<std::size_t>(base.dim));
  const double c0 = tessel::thread_cpu_seconds();
  h.index = std::make_unique<hnswlib::HierarchicalNSW<float>>(
      h.space.get(), static_cast<std::size_t>(base.n), static_cast<std::size_t>(M),
      static_cast<std::size_t>(ef_construction), 100);
  for (int64_t i = 0; i < base.n; ++i)
    h.index->addPoint(base.row(i), static_cast<hnswlib::labeltype>(i));
  h.build_cpu_s = tessel::thread_cpu_seconds() - c0;
  return h;
}

// hnswlib searched at ef = L, queries one by one as its searchKnn serves them.
Curve hnswlib_curve(const std::string& label, std::shared_ptr<Hnswlib> h,
                    const VectorSet& queries) {
  Curve c;
  c.label = label;
  c.once = [h, &queries](int ef) {
    h->index->setEf(static_cast<std::size_t>(ef));
    Outcome o;
    o.found.nq = queries.n;
    o.found.k = 10;
    o.found.ids.assign(queries.n * 10, -1);
    o.found.dist.assign(queries.n * 10, 0);
    h->index->metric_distance_computations = 0;
    h->index->metric_hops = 0;
    for (int64_t q = 0; q < queries.n; ++q) {
      auto pq = h->index->searchKnn(queries.row(q), 10);
      for (int j = static_cast<int>(pq.size()) - 1; j >= 0; --j, pq.pop()) {
        o.found.ids[q * 10 + j] = static_cast<int32_t>(pq.top().second);
        o.found.dist[q * 10 + j] = pq.top().first;
      }
    }
    o.distances = static_cast<double>(h->index->metric_distance_computations) / queries.n;
    o.hops = static_cast<double>(h->index->metric_hops) / queries.n;
    return o;
  };
  return c;
}
#endif

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(std::stoi(item));
  return v;
}

// Conflicting nodes of graph g (k = 10) and their effect on search: once with the query set
// (split by whether a query's true nearest neighbour is conflicting), once with base vectors as
// queries, up to 300 conflicting and as many other nodes, so both classes are well populated.
std::vector<std::string> conflict_lines;
void conflict_study(const std::string& name, const Graph& g, const VectorSet& base,
                    const VectorSet& queries) {
  const KnnResult self = exact_knn(base, base, 10, Backend::kCpu, {true, 0});
  const ConflictReport cr = find_conflicting_nodes(g, self, 10);
  auto line = [&](const char* what, const PathStudy& ps) {
    char buf[512];
    std::snprintf(buf, sizeof(buf),
                  "%-9s %-12s | NN conflicting: %4lld queries, greedy hops %5.2f, greedy "
                  "success %.3f, hops to NN (L=%d) %5.2f, recall@1 %.3f | other: %4lld queries, "
                  "greedy hops %5.2f, success %.3f, hops to NN %5.2f, recall@1 %.3f",
                  name.c_str(), what, (long long)ps.conflicting.queries, ps.conflicting.greedy_hops,
                  ps.conflicting.greedy_success, ps.L, ps.conflicting.hops_to_nn,
                  ps.conflicting.recall_at_1, (long long)ps.other.queries, ps.other.greedy_hops,
                  ps.other.greedy_success, ps.other.hops_to_nn, ps.other.recall_at_1);
    conflict_lines.push_back(buf);
    std::fprintf(stderr, "%s\n", buf);
  };
  char head[256];
  std::snprintf(head, sizeof(head),
                "%-9s conflicts (k=10): %lld of %lld kNN pairs lack the edge; %lld of %lld nodes "
                "conflicting; %lld in nobody's kNN",
                name.c_str(), (long long)cr.conflict_pairs, (long long)cr.knn_pairs,
                (long long)cr.conflicting_nodes, (long long)cr.nodes,
                (long long)cr.without_reverse_knn);
  conflict_lines.push_back(head);
  std::fprintf(stderr, "%s\n", head);
  line("query set", conflict_path_study(g, base, queries, exact_knn(base, queries, 1), cr, 32));
  std::vector<int32_t> pick_c, pick_o;
  for (int64_t i = 0; i < base.n && pick_c.size() < 300; ++i)
    if (cr.conflicting[i]) pick_c.push_back(static_cast<int32_t>(i));
  for (int64_t i = base.n - 1; i >= 0 && pick_o.size() < pick_c.size(); --i)
    if (!cr.conflicting[i]) pick_o.push_back(static_cast<int32_t>(i));
  pick_c.insert(pick_c.end(), pick_o.begin(), pick_o.end());
  VectorSet q(static_cast<int64_t>(pick_c.size()), base.dim);
  KnnResult truth;
  truth.nq = q.n;
  truth.k = 1;
  for (int64_t i = 0; i < q.n; ++i) {
    std::copy(base.row(pick_c[i]), base.row(pick_c[i]) + base.dim, q.row(i));
    truth.ids.push_back(pick_c[i]);
    truth.dist.push_back(0);
  }
  line("base points", conflict_path_study(g, base, q, truth, cr, 32));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Recall@10 vs QPS of graph ANN search against brute force (single thread)"};
  std::string set = "mixture",
              mnist = TESSEL_SOURCE_DIR "/../shared/data/mnist/t10k-images-idx3-ubyte.gz";
  std::string graphs = "nsg,hnsw", csv,
              Ls_text = "10,12,16,20,24,32,40,48,64,80,96,128,160,200,256,320";
  int64_t n = 200000, nq = 1000, mrng_n = 5000;
  int random_edges = 8, entry_points = -1;
  int reps = 2, build_threads = 1, passes = 1, knn_k = 20, R = 32, C = 500, Lb = 40, M = 16,
      ef = 200, rp_trees = tessel::ann::NnDescentParams{}.rp_trees,
      rp_leaf = tessel::ann::NnDescentParams{}.rp_leaf;
  MixtureSpec mix;
  app.add_option("--set", set, "mixture | mnist");
  app.add_option("--dim", mix.dim, "mixture dimension");
  app.add_option("--centres", mix.centres, "mixture centres (uniform in [0,1]^dim)");
  app.add_option("--sigma", mix.sigma, "mixture standard deviation per coordinate");
  app.add_option("--mnist", mnist, "MNIST t10k images (first 9000 base, last 1000 queries)");
  app.add_option("--n", n, "mixture base size");
  app.add_option("--nq", nq, "mixture query count");
  app.add_option("--graphs", graphs, "comma list of nsg, hnsw, mrng");
  app.add_option("--mrng-n", mrng_n, "base size for the exact MRNG (a prefix of the base)");
  app.add_option("--L", Ls_text, "pool sizes to sweep");
  app.add_option("--reps", reps, "timed repetitions per point (best kept)");
  app.add_option("--build-threads", build_threads, "threads for graph construction");
  app.add_option("--passes", passes, "NSG search-collect-prune passes");
  app.add_option("--knn-k", knn_k, "NN-descent k");
  app.add_option("--rp-trees", rp_trees, "NN-descent: random-projection trees seeding the lists");
  app.add_option("--rp-leaf", rp_leaf, "NN-descent: largest tree leaf (0: max(10, k))");
  app.add_option("--entry-points", entry_points,
                 "NSG: k-means++ seeds used as extra search starts (-1: auto, round(sqrt(n)/8))");
  app.add_option("--random-edges", random_edges,
                 "NSG: random edges per node in the first pass's search graph");
  app.add_option("--R", R, "NSG out-degree bound");
  std::string alphas_text = "1";
  app.add_option("--alpha", alphas_text,
                 "NSG prune relaxation(s), comma list: one NSG per value, labelled nsg-a<alpha> "
                 "when not just 1; index files get the suffix .a<alpha> then");
  std::string reverses_text = "auto";
  app.add_option("--reverse", reverses_text,
                 "NSG reverse-edge merge(s), comma list of auto (the default), reprune, append, "
                 "fill, slack<s> (e.g. slack1.25): one NSG per value, labelled and suffixed "
                 "-<value> when not auto");
  app.add_option("--C", C, "NSG prune candidates");
  bool path_candidates = true;
  app.add_option("--path-candidates", path_candidates,
                 "NSG: the candidate search's expanded nodes join the C nearest (0: the paper's "
                 "C nearest only)");
  bool slot_fill = tessel::ann::NsgParams{}.slot_fill;
  app.add_option("--slot-fill", slot_fill,
                 "NSG: fill short lists with their nearest occluded candidates up to the packed "
                 "slot's capacity (default true; 0: the lists as pruned)");
  app.add_option("--Lb", Lb, "NSG build pool size");
  app.add_option("--M", M, "HNSW M (max degree 2M)");
  app.add_option("--ef", ef, "HNSW and hnswlib ef_construction");
  app.add_option("--csv", csv, "write the curves here");
  std::string layouts_text = "plain,packed", load_nsg;
  int rerank = -1;
  app.add_option("--rerank", rerank, "searches on codes: float re-rank of this many (-1: auto)");
  app.add_option("--layouts", layouts_text,
                 "search layouts per graph: plain, huge, bfs, codes, packed (fp16 re-rank, "
                 "edge bounds), packed-nb (no edge bounds), packed-sse2, packed-f32 (float32 "
                 "re-rank)");
  std::string widths_text = "1";
  app.add_option("--widths", widths_text,
                 "search beam widths (SearchParams::width), comma list: one curve per value, "
                 "labelled -w<width> when not 1");
  std::string save_nsg;
  app.add_option("--load-nsg", load_nsg, "search this NSG index file instead of building one");
  app.add_option("--save-nsg", save_nsg, "write the NSG built here to this index file");
  CLI11_PARSE(app, argc, argv);

  VectorSet base, queries;
  if (set == "mnist") {
    const VectorSet all = read_mnist_images(mnist);
    base = all.slice(0, 9000);
    queries = all.slice(9000, 10000);
  } else {
    base = gaussian_mixture(mix, n, 0);
    queries = gaussian_mixture(mix, nq, 1);
  }
  const std::vector<int> Ls = parse_list(Ls_text), widths = parse_list(widths_text);
  std::vector<Layout> layouts;
  {
    std::stringstream ls(layouts_text);
    std::string item;
    while (std::getline(ls, item, ',')) layouts.push_back(parse_layout(item));
  }
  std::fprintf(stderr, "%s: base %lld x %d, %lld queries\n", set.c_str(), (long long)base.n,
               base.dim, (long long)queries.n);

  // Brute force, one thread, in this run.
  KnnOptions one;
  one.threads = 1;
  Timing bf;
  KnnResult truth;
  for (int r = 0; r < reps; ++r)
    bf.best_of([&] { truth = exact_knn(base, queries, 10, Backend::kCpu, one); });
  const double bf_qps = queries.n / bf.cpu, bf_qps_wall = queries.n / bf.wall;
  std::fprintf(stderr, "  brute force: %.1f QPS CPU time, %.1f wall (batched GEMM, 1 thread)\n",
               bf_qps, bf_qps_wall);

  std::vector<Point> all;
  std::vector<std::string> summary;
  // `baseline`: brute-force QPS over the same base the graph indexes.
  auto report = [&](const std::string& name, double build_s, const std::vector<Point>& pts,
                    const std::string& extra, double baseline) {
    all.insert(all.end(), pts.begin(), pts.end());
    const double q90 = qps_at(pts, 0.90), q95 = qps_at(pts, 0.95), q99 = qps_at(pts, 0.99);
    char line[640];
    std::snprintf(line, sizeof(line),
                  "%-14s build %7.1f s CPU  QPS@0.90 %8.0f (%5.1fx)  QPS@0.95 %8.0f (%5.1fx)  "
                  "QPS@0.99 %8.0f  max recall %.4f  %s",
                  name.c_str(), build_s, q90, q90 / baseline, q95, q95 / baseline, q99,
                  pts.back().recall, extra.c_str());
    summary.push_back(line);
    std::fprintf(stderr, "%s\n", line);
  };
  // One curve per layout of graph g, timed with the others after every graph is built.
  std::vector<Curve> to_time;
  const auto truth_shared = std::make_shared<const KnnResult>(truth);
  auto curves = [&](const std::string& name, double build_s, const Graph& g, const VectorSet& b,
                    std::shared_ptr<const KnnResult> t, const std::string& extra, double baseline) {
    for (const Layout& layout : layouts)
      for (int width : widths) {
        std::size_t bytes = 0;
        Curve c = graph_curve(name, g, b, queries, layout, rerank, width, &bytes);
        c.truth = t, c.build_s = build_s, c.baseline = baseline;
        c.extra = extra + " " + std::to_string(bytes / b.n) + " B/vector";
        to_time.push_back(std::move(c));
      }
  };

  std::stringstream gl(graphs);
  std::string gname;
  while (std::getline(gl, gname, ',')) {
    if (gname == "nsg") {
      std::vector<std::string> alpha_texts;
      {
        std::stringstream as(alphas_text);
        std::string item;
        while (std::getline(as, item, ',')) alpha_texts.push_back(item);
      }
      const bool several = alpha_texts.size() > 1 || std::stof(alpha_texts.front()) != 1.0f;
      std::vector<std::string> reverse_texts;
      {
        std::stringstream rs(reverses_text);
        std::string item;
        while (std::getline(rs, item, ',')) reverse_texts.push_back(item);
      }
      for (const std::string& alpha_text : alpha_texts)
        for (const std::string& reverse_text : reverse_texts) {
          const std::string rtag = reverse_text == "auto" ? "" : "-" + reverse_text;
          const std::string name = (several ? "nsg-a" + alpha_text : "nsg") + rtag;
          const std::string suffix = (several ? ".a" + alpha_text : "") + rtag;
          NsgParams p;
          p.alpha = std::stof(alpha_text);
          // slack<s>: the slack merge at s (e.g. slack1.25); otherwise a merge's name.
          const bool slack = reverse_text.rfind("slack", 0) == 0 && reverse_text.size() > 5;
          if (!reverse_merge_from_name(slack ? "slack" : reverse_text, &p.reverse))
            throw std::runtime_error("--reverse: unknown merge '" + reverse_text + "'");
          if (slack) p.reverse_slack = std::stof(reverse_text.substr(5));
          p.knn.k = knn_k;
          p.knn.rp_trees = rp_trees, p.knn.rp_leaf = rp_leaf;
          p.L = Lb, p.R = R, p.C = C, p.threads = build_threads, p.passes = passes;
          p.path_candidates = path_candidates;
          p.slot_fill = slot_fill;
          p.random_edges = random_edges;
          p.entry_points = entry_points;
          NsgStats st;
          const double c0 = tessel::thread_cpu_seconds();
          auto load_checked = [&] {
            IndexFile f = load_index(load_nsg + suffix);
            if (f.base_checksum != 0 && f.base_checksum != vector_checksum(base))
              throw std::runtime_error(load_nsg + suffix + " was built from another base");
            return f.graph;
          };
          const Graph g = !load_nsg.empty()
                              ? load_checked()
                              : build_nsg(base, p, &st, 1000,
                                          [](const std::string& stage, int64_t d, int64_t t) {
                                            std::fprintf(stderr, "    nsg %s %lld/%lld\n",
                                                         stage.c_str(), (long long)d, (long long)t);
                                          });
          // The recall measurement inside is excluded (wall seconds; it runs on all threads).
          const double build_s =
              tessel::thread_cpu_seconds() - c0 - (build_threads == 1 ? st.seconds_recall : 0);
          const double knn_recall = st.knn_recall;
          if (!save_nsg.empty())
            save_index(save_nsg + suffix, {g, GraphKind::kNsg, base.dim, vector_checksum(base)});
          char extra[384];
          std::snprintf(
              extra, sizeof(extra),
              "knn %.1fs (recall@%d %.3f, %d it, %.0f dist/node) prune %.1fs (%.0f dist/node) "
              "reverse %.1fs (%s, "
              "re-prune strands %lld) repair %.1fs (%lld edges) fill %.1fs (%lld edges to %d) "
              "mean deg %.1f",
              st.seconds_knn, knn_k, knn_recall, st.knn.iterations,
              static_cast<double>(st.knn.distances) / static_cast<double>(base.n), st.seconds_prune,
              static_cast<double>(st.prune_distances) / static_cast<double>(base.n),
              st.seconds_reverse,
              st.reverse_used == ReverseMerge::kReprune ? "re-prune"
              : st.reverse_used == ReverseMerge::kSlack ? "slack"
                                                        : "other",
              (long long)st.stranded_by_reprune, st.seconds_repair, (long long)st.repair_edges,
              st.seconds_fill, (long long)st.fill_edges, st.fill_degree, g.mean_degree());
          curves(
              name, build_s, g, base, truth_shared,
              load_nsg.empty() ? extra : "loaded from " + load_nsg + suffix + ": build not timed",
              bf_qps);
          // The study needs the exact kNN of every base vector: affordable on MNIST, not on 200k.
          if (base.n <= 20000) conflict_study(name, g, base, queries);
        }
    } else if (gname == "hnsw") {
      HnswParams hp;
      hp.M = M, hp.max_degree = 2 * M, hp.ef_construction = ef;
      const double c0 = tessel::thread_cpu_seconds();
      const Graph g = build_hnsw_flat(base, hp);
      const double build_s = tessel::thread_cpu_seconds() - c0;
      char extra[128];
      std::snprintf(extra, sizeof(extra), "mean deg %.1f", g.mean_degree());
      curves("hnsw-flat", build_s, g, base, truth_shared, extra, bf_qps);
      if (base.n <= 20000) conflict_study("hnsw-flat", g, base, queries);
    } else if (gname.rfind("hnswlib", 0) == 0) {
#if TESSEL_HAVE_HNSWLIB
      const int hM = std::stoi(gname.substr(7));
      auto h = std::make_shared<Hnswlib>(build_hnswlib(base, hM, ef));
      Curve c = hnswlib_curve(gname, h, queries);
      c.truth = truth_shared, c.build_s = h->build_cpu_s, c.baseline = bf_qps;
      c.extra = "M " + std::to_string(hM) + " efC " + std::to_string(ef) + " " +
                std::to_string(h->bytes() / base.n) + " B/vector";
      to_time.push_back(std::move(c));
#else
      std::fprintf(stderr, "%s: this build has no hnswlib\n", gname.c_str());
      return 2;
#endif
    } else if (gname == "mrng") {
      const VectorSet small = base.slice(0, std::min(mrng_n, base.n));
      const KnnResult small_truth = exact_knn(small, queries, 10, Backend::kCpu, one);
      Timing sbf;
      for (int r = 0; r < reps; ++r)
        sbf.best_of([&] { exact_knn(small, queries, 10, Backend::kCpu, one); });
      const double small_bf = sbf.cpu;
      const double c0 = tessel::thread_cpu_seconds();
      const Graph g = build_exact_mrng(small, build_threads);
      const double build_s = tessel::thread_cpu_seconds() - c0;
      // The small set has its own brute-force baseline: ratios against the full base would flatter
      // it.
      char extra[256];
      std::snprintf(extra, sizeof(extra),
                    "on the first %lld vectors (speedups vs brute force over them: %.0f QPS); "
                    "mean deg %.1f",
                    (long long)small.n, queries.n / small_bf, g.mean_degree());
      curves("mrng", build_s, g, small, std::make_shared<const KnnResult>(small_truth), extra,
             queries.n / small_bf);
      conflict_study("mrng", g, small, queries);
    }
  }

  const auto points = time_curves(to_time, Ls, reps, queries.n);
  for (std::size_t c = 0; c < to_time.size(); ++c)
    report(to_time[c].label, to_time[c].build_s, points[c], to_time[c].extra, to_time[c].baseline);

  std::printf("set %s base %lld queries %lld brute-force %.1f QPS (CPU time; %.1f wall)\n",
              set.c_str(), (long long)base.n, (long long)queries.n, bf_qps, bf_qps_wall);
  for (const auto& s : summary) std::printf("%s\n", s.c_str());
  for (const auto& s : conflict_lines) std::printf("%s\n", s.c_str());
  if (!csv.empty()) {
    std::ofstream f(csv);
    // brute_force_qps_cpu: over the base this graph indexes (the MRNG's is the small prefix).
    f << "graph,L,recall_at_10,qps_cpu,qps_wall,mean_distances,mean_hops,brute_force_qps_cpu,"
         "speedup\n";
    for (const auto& p : all) {
      const double b = p.baseline > 0 ? p.baseline : bf_qps;
      f << p.graph << "," << p.L << "," << p.recall << "," << p.qps << "," << p.qps_wall << ","
        << p.mean_distances << "," << p.mean_hops << "," << b << "," << p.qps / b << "\n";
    }
  }
  return 0;
}
