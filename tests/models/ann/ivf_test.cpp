// IVF-PQ preview against brute-force ADC, and Zoom (preview + full-view re-rank) recall against
// exact search on a small mixture; the NSG-on-PQ preview likewise.
#include <gtest/gtest.h>

#include <set>

#include "models/ann/full_view.h"
#include "models/ann/ivf.h"
#include "models/ann/nsg.h"
#include "models/ann/zoom_graph_preview.h"
#include "tests/models/ann/test_util.h"

namespace tessel::ann {
namespace {

using Small = testing::SmallMixture;

IvfPqIndex small_index(const VectorSet& base, int m, bool residual = true) {
  IvfParams ip;
  ip.by_residual = residual;
  ip.nlist = 32;
  ip.iterations = 8;
  ip.threads = 1;
  PqParams pp;
  pp.m = m;
  pp.iterations = 8;
  pp.threads = 1;
  return build_ivf_pq(base, ip, pp);
}

// The code of a slot, decoded and added to its list's centroid (residual codes).
std::vector<float> reconstruct(const IvfPqIndex& x, int64_t slot) {
  const int m = x.pq.m();
  std::vector<uint8_t> code(m);
  pq_unblock_code(x.codes.data(), slot, m, code.data());
  std::vector<float> v(x.dim);
  x.pq.decode(code.data(), v.data());
  if (x.by_residual) {
    const int64_t l =
        std::upper_bound(x.list_begin.begin(), x.list_begin.end(), slot) - x.list_begin.begin() - 1;
    for (int k = 0; k < x.dim; ++k) v[k] += x.centroids[l * x.dim + k];
  }
  return v;
}

TEST(IvfPq, ListsHoldEveryVectorOnceWithItsCode) {
  const Small s;
  for (bool residual : {true, false}) {
    const IvfPqIndex x = small_index(s.base, 8, residual);
    std::vector<int> seen(s.base.n, 0);
    std::vector<uint8_t> code(8), want(8);
    std::vector<float> r(x.dim);
    for (int64_t slot = 0; slot < x.size(); ++slot) {
      if (x.ids[slot] < 0) continue;
      const int32_t id = x.ids[slot];
      ++seen[id];
      const int64_t l = std::upper_bound(x.list_begin.begin(), x.list_begin.end(), slot) -
                        x.list_begin.begin() - 1;
      // The list is the nearest centroid (brute force), the code that of x - c (or x).
      double best = 1e30;
      for (int c = 0; c < x.nlist; ++c)
        best = std::min(best, static_cast<double>(testing::ref_dist(
                                  s.base.row(id), x.centroids.data() + c * x.dim, x.dim)));
      EXPECT_LE(static_cast<double>(
                    testing::ref_dist(s.base.row(id), x.centroids.data() + l * x.dim, x.dim)),
                best * (1 + 1e-5));
      for (int k = 0; k < x.dim; ++k)
        r[k] = s.base.row(id)[k] - (residual ? x.centroids[l * x.dim + k] : 0.0f);
      x.pq.encode(r.data(), want.data());
      pq_unblock_code(x.codes.data(), slot, 8, code.data());
      ASSERT_EQ(code, want) << "slot " << slot;
    }
    for (int64_t i = 0; i < s.base.n; ++i) ASSERT_EQ(seen[i], 1) << "vector " << i;
    EXPECT_EQ(x.data_checksum, vectors_checksum(s.base));
  }
}

// With every list probed, the preview returns the candidates nearest by the distance to the
// reconstructed vector (centroid + decoded residual), computed here in long double: each
// returned distance equals its reconstruction's (to float rounding of the table decomposition)
// and none farther than the 50th nearest reconstruction.
TEST(IvfPq, ProbingEveryListIsTheBruteForceTopCandidates) {
  const Small s;
  for (bool residual : {true, false}) {
    const IvfPqIndex x = small_index(s.base, 8, residual);
    IvfPreview prev(x, true);
    std::vector<Neighbour> got;
    std::vector<std::vector<float>> rec;
    std::vector<int32_t> slot_id;
    for (int64_t slot = 0; slot < x.size(); ++slot)
      if (x.ids[slot] >= 0) rec.push_back(reconstruct(x, slot)), slot_id.push_back(x.ids[slot]);
    for (int64_t j = 0; j < 10; ++j) {
      const float* q = s.queries.row(j);
      prev.search(q, x.nlist, 50, got);
      ASSERT_EQ(got.size(), 50u);
      std::vector<long double> exact(s.base.n);
      for (std::size_t i = 0; i < rec.size(); ++i)
        exact[slot_id[i]] = testing::ref_dist(q, rec[i].data(), x.dim);
      std::vector<long double> sorted = exact;
      std::nth_element(sorted.begin(), sorted.begin() + 49, sorted.end());
      const long double tol = 1e-4L * sorted[49];
      for (const Neighbour& n : got) {
        EXPECT_NEAR(n.dist, static_cast<double>(exact[n.id]), static_cast<double>(tol))
            << "query " << j << " id " << n.id;
        EXPECT_LE(exact[n.id], sorted[49] + tol);
      }
    }
  }
}

// Zoom's recall@10: preview candidates re-ranked by exact distances read from the full view,
// against brute-force exact neighbours. The threshold comes from exact search itself: with every
// list probed and C = 100 candidates, a true neighbour is lost only if more than 100 vectors have
// a nearer reconstruction (centroid + decoded residual); the brute-force count below says how
// many of the true top 10 are in that top 100, and Zoom must find exactly those (re-rank is exact)
// and, with 8 of 32 lists probed, at least 95% of them.
TEST(Zoom, RecallOnASmallSetMatchesTheBoundFromExactSearch) {
  const Small s;
  const IvfPqIndex x = small_index(s.base, 16);
  const std::string path = testing::temp_path("zoom_small.tfv");
  write_full_view(path, s.base);
  FullViewOptions fo;
  fo.expected_checksum = x.data_checksum;
  fo.expected_dim = x.dim;
  FullView fv(path, fo);
  IvfPreview prev(x);
  std::vector<std::vector<float>> rec(s.base.n);
  for (int64_t slot = 0; slot < x.size(); ++slot)
    if (x.ids[slot] >= 0) rec[x.ids[slot]] = reconstruct(x, slot);
  int64_t bound = 0, all_lists = 0, some_lists = 0, total = 0;
  std::vector<Neighbour> cand;
  for (int64_t j = 0; j < s.queries.n; ++j) {
    const float* q = s.queries.row(j);
    const auto truth = testing::ref_knn(s.base, q, 10);
    std::vector<std::pair<long double, int32_t>> adc;
    for (int64_t i = 0; i < s.base.n; ++i)
      adc.emplace_back(testing::ref_dist(q, rec[i].data(), x.dim), static_cast<int32_t>(i));
    std::sort(adc.begin(), adc.end());
    std::set<int32_t> top100;
    for (int r = 0; r < 100; ++r) top100.insert(adc[r].second);
    for (int32_t t : truth) bound += top100.count(t);
    total += 10;
    for (int nprobe : {32, 8}) {
      prev.search(q, nprobe, 100, cand);
      std::vector<int32_t> ids;
      for (const auto& c : cand) ids.push_back(c.id);
      int32_t out[10];
      float dist[10];
      fv.rerank(q, ids.data(), static_cast<int>(ids.size()), 10, out, dist);
      const std::set<int32_t> found(out, out + 10);
      int64_t hit = 0;
      for (int32_t t : truth) hit += found.count(t);
      (nprobe == 32 ? all_lists : some_lists) += hit;
    }
  }
  // Near-ties at the 100th place may differ by float rounding: one neighbour of slack.
  EXPECT_NEAR(static_cast<double>(all_lists), static_cast<double>(bound), 1.0);
  EXPECT_GE(static_cast<double>(some_lists), 0.95 * static_cast<double>(bound));
  EXPECT_GE(static_cast<double>(bound) / total, 0.9);  // m = 16 on this mixture
}

TEST(Zoom, NsgSearchedOnPqDistancesFindsTheNeighbours) {
  const Small s;
  NsgParams np;
  np.threads = 1;
  np.entry_points = 16;
  const Graph g = build_nsg(s.base, np);
  PqParams pp;
  pp.m = 16;
  pp.iterations = 8;
  pp.threads = 1;
  const ProductQuantizer pq = ProductQuantizer::train(s.base, pp);
  const auto rows = pq.encode_all(s.base);
  GraphPqPreview prev(g, pq, rows.data());
  const std::string path = testing::temp_path("zoom_graph.tfv");
  write_full_view(path, s.base);
  FullView fv(path, {});
  int64_t hit = 0;
  std::vector<Neighbour> cand;
  for (int64_t j = 0; j < s.queries.n; ++j) {
    const float* q = s.queries.row(j);
    prev.search(q, 100, 100, cand);
    ASSERT_EQ(cand.size(), 100u);
    ASSERT_TRUE(std::is_sorted(cand.begin(), cand.end()));
    std::vector<int32_t> ids;
    for (const auto& c : cand) ids.push_back(c.id);
    int32_t out[10];
    float dist[10];
    fv.rerank(q, ids.data(), 100, 10, out, dist);
    const auto truth = testing::ref_knn(s.base, q, 10);
    const std::set<int32_t> found(out, out + 10);
    for (int32_t t : truth) hit += found.count(t);
  }
  EXPECT_GE(static_cast<double>(hit) / (10.0 * s.queries.n), 0.9);
}

}  // namespace
}  // namespace tessel::ann
