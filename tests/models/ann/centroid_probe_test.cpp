// The IVF previews' centroid-graph probe (workload.ivf.centroid_graph) against a brute-force
// partial sort over the centroids written here, the previews' answers with and without the graph,
// Zoom's recall (preview + exact re-rank) against exact kNN, RAM, and the keys' errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "models/ann/centroid_probe.h"
#include "models/ann/distance.h"
#include "models/ann/ivf.h"
#include "models/ann/ivf_pq4.h"
#include "models/ann/knn.h"
#include "models/ann/zoom.h"
#include "tests/models/ann/test_util.h"
#include "tests/models/ann/zoom_study.h"

namespace tessel::ann {
namespace {

using testing::error_of;
using testing::run_study;

// The nprobe nearest centroids by brute force: every distance, then a sort on (distance, id).
std::vector<Neighbour> brute_probe(const std::vector<float>& c, int nlist, int dim, const float* q,
                                   int nprobe) {
  std::vector<Neighbour> all;
  for (int l = 0; l < nlist; ++l) all.push_back({l2_sq(q, c.data() + int64_t{l} * dim, dim), l});
  std::sort(all.begin(), all.end());
  all.resize(std::min(nprobe, nlist));
  return all;
}

IvfParams ivf_params(int nlist, bool graph) {
  IvfParams ip;
  ip.nlist = nlist;
  ip.iterations = 8;
  ip.threads = 2;
  ip.centroid_graph = graph;
  return ip;
}
PqParams pq_params() {
  PqParams pp;
  pp.m = 16;
  pp.iterations = 8;
  pp.train_size = 8000;
  pp.threads = 2;
  return pp;
}

struct Mixture {
  VectorSet base, queries;
  Mixture(int64_t n, int nq, int centres) {
    MixtureSpec m;
    m.centres = centres;
    m.dim = 32;
    m.sigma = 0.1;
    m.seed = 21;
    base = gaussian_mixture(m, n, 0);
    queries = gaussian_mixture(m, nq, 1);
  }
};

TEST(CentroidProbe, WidePoolReturnsExactlyTheBruteForceLists) {
  const Mixture s(4000, 100, 30);
  const IvfPqIndex x = build_ivf_pq(s.base, ivf_params(128, true), pq_params());
  ASSERT_EQ(x.centroid_graph.graph.size(), 128);
  for (int nprobe : {1, 7, 32, 128}) {
    // search_L >= nlist: the pool never drops a node and the graph is connected, so every
    // centroid is evaluated and the pool's head is the exact order.
    CentroidProbe probe(x.centroids, x.nlist, x.dim, &x.centroid_graph, x.nlist);
    for (int64_t q = 0; q < s.queries.n; ++q) {
      const auto want = brute_probe(x.centroids, x.nlist, x.dim, s.queries.row(q), nprobe);
      const auto& got = probe.probe(s.queries.row(q), nprobe);
      ASSERT_EQ(got.size(), want.size());
      for (std::size_t j = 0; j < want.size(); ++j) {
        ASSERT_EQ(got[j].id, want[j].id) << "query " << q << " nprobe " << nprobe << " rank " << j;
        ASSERT_EQ(got[j].dist, want[j].dist);
      }
    }
  }
  // So both previews answer exactly as with brute force (same index, graph removed).
  IvfPqIndex plain = x;
  plain.centroid_graph = {};
  IvfPreview with(x, false, x.nlist), without(plain);
  const IvfPq4Index x4 = build_ivf_pq4(s.base, ivf_params(128, true), pq_params());
  IvfPq4Index plain4 = x4;
  plain4.centroid_graph = {};
  IvfPq4Preview with4(x4, false, x.nlist), without4(plain4);
  std::vector<Neighbour> a, b;
  for (int64_t q = 0; q < s.queries.n; ++q) {
    with.search(s.queries.row(q), 8, 50, a);
    without.search(s.queries.row(q), 8, 50, b);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t j = 0; j < a.size(); ++j) ASSERT_EQ(a[j].id, b[j].id);
    with4.search(s.queries.row(q), 8, 50, a);
    without4.search(s.queries.row(q), 8, 50, b);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t j = 0; j < a.size(); ++j) ASSERT_EQ(a[j].id, b[j].id);
  }
}

TEST(CentroidProbe, TinyNlistUsesTheCompleteGraph) {
  const Mixture s(500, 20, 5);
  const IvfPqIndex x = build_ivf_pq(s.base, ivf_params(5, true), pq_params());
  ASSERT_EQ(x.centroid_graph.graph.edge_count(), 5 * 4);
  CentroidProbe probe(x.centroids, x.nlist, x.dim, &x.centroid_graph, 1);
  for (int64_t q = 0; q < s.queries.n; ++q) {
    const auto want = brute_probe(x.centroids, x.nlist, x.dim, s.queries.row(q), 3);
    const auto& got = probe.probe(s.queries.row(q), 3);
    ASSERT_EQ(got.size(), 3u);
    for (int j = 0; j < 3; ++j) EXPECT_EQ(got[j].id, want[j].id);
  }
}

TEST(CentroidProbe, RebuildIsDeterministicAndCountedInRam) {
  const Mixture s(4000, 10, 30);
  const IvfPqIndex x = build_ivf_pq(s.base, ivf_params(128, true), pq_params());
  const CentroidGraph again = build_centroid_graph(x.centroids, x.nlist, x.dim, 1);
  EXPECT_EQ(again.graph.edges, x.centroid_graph.graph.edges);
  EXPECT_EQ(again.graph.offsets, x.centroid_graph.graph.offsets);
  EXPECT_EQ(again.graph.entry, x.centroid_graph.graph.entry);
  EXPECT_EQ(again.graph.extra_entries, x.centroid_graph.graph.extra_entries);
  IvfPqIndex plain = x;
  plain.centroid_graph = {};
  const Graph& g = x.centroid_graph.graph;
  const int64_t graph_bytes = g.edge_count() * 4 + (128 + 1) * 8 +
                              static_cast<int64_t>(g.extra_entries.size()) * 4 + 128 * 32 * 4;
  EXPECT_EQ(x.ram_bytes() - plain.ram_bytes(), graph_bytes);
  EXPECT_LE(g.max_degree(), 40);  // R = 24 plus repair edges; not the complete graph
}

// Zoom's answer: the preview's candidates re-ranked by exact distance (what the full view does).
double zoom_recall(const VectorSet& base, const VectorSet& queries, const KnnResult& truth,
                   const std::function<void(const float*, std::vector<Neighbour>&)>& preview) {
  int64_t hit = 0;
  std::vector<Neighbour> cand;
  for (int64_t q = 0; q < queries.n; ++q) {
    preview(queries.row(q), cand);
    for (Neighbour& c : cand)
      c.dist = static_cast<float>(l2_sq_exact(queries.row(q), base.row(c.id), base.dim));
    std::sort(cand.begin(), cand.end());
    const std::set<int32_t> t(truth.ids.begin() + q * 10, truth.ids.begin() + q * 10 + 10);
    for (int j = 0; j < 10 && j < static_cast<int>(cand.size()); ++j) hit += t.count(cand[j].id);
  }
  return static_cast<double>(hit) / static_cast<double>(queries.n * 10);
}

TEST(CentroidProbe, DefaultPoolMatchesBruteForceOnA20kMixture) {
  const Mixture s(20000, 300, 100);
  const int nprobe = 16;
  const IvfPqIndex x = build_ivf_pq(s.base, ivf_params(256, true), pq_params());
  CentroidProbe probe(x.centroids, x.nlist, x.dim, &x.centroid_graph);
  int64_t common = 0;
  for (int64_t q = 0; q < s.queries.n; ++q) {
    const auto want = brute_probe(x.centroids, x.nlist, x.dim, s.queries.row(q), nprobe);
    const auto& got = probe.probe(s.queries.row(q), nprobe);
    std::set<int32_t> w;
    for (const Neighbour& n : want) w.insert(n.id);
    for (const Neighbour& n : got) common += w.count(n.id);
  }
  const double overlap = static_cast<double>(common) / static_cast<double>(s.queries.n * nprobe);
  EXPECT_GE(overlap, 0.98);

  KnnOptions ko;
  ko.threads = 2;
  const KnnResult truth = exact_knn(s.base, s.queries, 10, Backend::kCpu, ko);
  IvfPqIndex plain = x;
  plain.centroid_graph = {};
  IvfPreview with(x), without(plain);
  const double r_graph = zoom_recall(s.base, s.queries, truth, [&](const float* q, auto& out) {
    with.search(q, nprobe, 100, out);
  });
  const double r_brute = zoom_recall(s.base, s.queries, truth, [&](const float* q, auto& out) {
    without.search(q, nprobe, 100, out);
  });
  EXPECT_GE(r_brute, 0.9);  // the reference itself is a working Zoom
  EXPECT_NEAR(r_graph, r_brute, 0.01);
  // The 4-bit preview through the same probe.
  const IvfPq4Index x4 = build_ivf_pq4(s.base, ivf_params(256, true), pq_params());
  IvfPq4Index plain4 = x4;
  plain4.centroid_graph = {};
  IvfPq4Preview with4(x4), without4(plain4);
  const double r4_graph = zoom_recall(s.base, s.queries, truth, [&](const float* q, auto& out) {
    with4.search(q, nprobe, 100, out);
  });
  const double r4_brute = zoom_recall(s.base, s.queries, truth, [&](const float* q, auto& out) {
    without4.search(q, nprobe, 100, out);
  });
  EXPECT_GE(r4_brute, 0.8);
  EXPECT_NEAR(r4_graph, r4_brute, 0.01);
}

std::string yaml(const std::string& ivf_extra, const std::string& pq_extra = "") {
  return "hw:\n  threads: 1\n  build_threads: 1\n"
         "workload:\n  vectors: \"mixture:3000\"\n  queries: \"mixture:40:1\"\n"
         "  ivf: {nlist: 64, iterations: 6" +
         ivf_extra + "}\n  pq: {m: 16, iterations: 6, train_size: 3000" + pq_extra +
         "}\n"
         "  baselines: {nsg: false, ivfpq: true}\n  nprobe: 8\n";
}

TEST(CentroidProbe, ZoomStudyOptionAndCachedRebuild) {
  RunContext ctx;
  ctx.cache_dir = testing::temp_path("zoom_centroid_cache");
  std::filesystem::remove_all(ctx.cache_dir);
  // search_L = nlist: the graph probe is exact, so recall equals brute force's.
  const SimResult off = run_study(yaml(""), ctx);
  const SimResult on = run_study(yaml(", centroid_graph: true, centroid_search_L: 64"), ctx);
  EXPECT_EQ(on.metrics.at("ivf_cached"), 1);  // the graph is rebuilt on load, not stored
  EXPECT_GT(on.metrics.at("centroid_graph_build_s"), 0);
  EXPECT_EQ(off.metrics.count("centroid_graph_build_s"), 0u);
  EXPECT_EQ(on.metrics.at("recall"), off.metrics.at("recall"));
  EXPECT_EQ(on.metrics.at("recall_ivfpq"), off.metrics.at("recall_ivfpq"));
  EXPECT_GT(on.metrics.at("ram_bytes_per_vector"), off.metrics.at("ram_bytes_per_vector"));
  const SimResult on4 =
      run_study(yaml(", centroid_graph: true, centroid_search_L: 64", ", bits: 4"), ctx);
  EXPECT_GE(on4.metrics.at("recall"), 0.8);
  EXPECT_GT(on4.metrics.at("centroid_graph_build_s"), 0);
}

TEST(CentroidProbe, BadKeysAreConfigErrorsNamingTheKey) {
  auto configure = [](const std::string& text) {
    return error_of([&] {
      const Config root = Config::parse(text, "zoom.yaml");
      ZoomStudy s;
      s.configure(root.child("hw"), root.child("workload"));
    });
  };
  EXPECT_NE(configure(yaml(", centroid_graph: true, centroid_search_L: 0"))
                .find("workload.ivf.centroid_search_L"),
            std::string::npos);
  EXPECT_NE(configure(yaml(", centroid_graph: maybe")).find("workload.ivf.centroid_graph"),
            std::string::npos);
}

}  // namespace
}  // namespace tessel::ann
