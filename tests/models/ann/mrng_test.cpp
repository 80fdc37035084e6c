// Exact MRNG checked edge by edge against the rule; monotone greedy search; HNSW-style graph.
#include "models/ann/mrng.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "models/ann/distance.h"
#include "models/ann/search.h"
#include "models/common/rng.h"
#include "runtime/core/error.h"
#include "tests/models/ann/test_util.h"

namespace tessel::ann {
namespace {

VectorSet small_mixture(int64_t n, int dim, uint64_t stream) {
  MixtureSpec spec;
  spec.centres = 6, spec.dim = dim, spec.sigma = 0.1, spec.seed = 5;
  return gaussian_mixture(spec, n, stream);
}

// For every ordered pair (p, q): q is occluded when some out-neighbour r of p is nearer to p
// (by distance, then id) and nearer to q than p is. MRNG: p -> q is an edge exactly when q is
// not occluded. Distances here are the independent long-double reference.
void expect_mrng_rule(const VectorSet& base, const Graph& g) {
  const int64_t n = base.n;
  std::vector<long double> d(static_cast<std::size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      d[i * n + j] = testing::ref_dist(base.row(i), base.row(j), base.dim);
  int64_t kept = 0, omitted = 0;
  for (int64_t p = 0; p < n; ++p) {
    const std::set<int32_t> out(g.neighbours(p), g.neighbours(p) + g.degree(p));
    ASSERT_EQ(static_cast<int>(out.size()), g.degree(p)) << "duplicate edge at " << p;
    ASSERT_EQ(out.count(static_cast<int32_t>(p)), 0u) << "self loop at " << p;
    for (int64_t q = 0; q < n; ++q) {
      if (q == p) continue;
      const long double dpq = d[p * n + q];
      bool occluded = false;
      for (int32_t r : out) {
        const bool nearer = d[p * n + r] < dpq || (d[p * n + r] == dpq && r < q);
        if (nearer && d[r * n + q] < dpq) occluded = true;
      }
      if (out.count(static_cast<int32_t>(q))) {
        ++kept;
        ASSERT_FALSE(occluded) << "edge " << p << "->" << q << " violates the MRNG rule";
      } else {
        ++omitted;
        ASSERT_TRUE(occluded) << "edge " << p << "->" << q << " omitted but could be added";
      }
    }
  }
  EXPECT_EQ(kept + omitted, n * (n - 1));
  EXPECT_GT(kept, n);  // more than a spanning structure
}

TEST(Mrng, EveryEdgeSatisfiesTheRuleAndNoneIsMissing) {
  for (int dim : {2, 16, 128}) {
    SCOPED_TRACE(dim);
    const VectorSet base = small_mixture(500, dim, 0);
    const Graph g = build_exact_mrng(base);
    ASSERT_EQ(g.size(), 500);
    expect_mrng_rule(base, g);
  }
}

TEST(Mrng, GreedySearchReachesEveryBasePointFromTheEntry) {
  // MRNG is a monotonic search network: from any node there is a path with strictly decreasing
  // distance to any base point, so pure greedy descent (L = 1) must end on the point itself.
  const VectorSet base = small_mixture(800, 32, 1);
  const Graph g = build_exact_mrng(base);
  EXPECT_EQ(count_reachable(g, g.entry), 800);
  Searcher s(g, base);
  for (int64_t i = 0; i < base.n; ++i) {
    int32_t id;
    float d;
    s.search(base.row(i), SearchParams{1, 1}, &id, &d);
    ASSERT_EQ(id, i);
  }
}

TEST(Mrng, SelectMatchesTheRuleOnExplicitCandidates) {
  // Points on a line: p = 0; candidates 1, 2, 4 (x = 1, 2, 4) and 5 at (0, 3) off the line.
  VectorSet v(5, 2);
  const float xy[5][2] = {{0, 0}, {1, 0}, {2, 0}, {0, 3}, {4, 0}};
  for (int i = 0; i < 5; ++i) v.row(i)[0] = xy[i][0], v.row(i)[1] = xy[i][1];
  auto dist = [&](int32_t a, int32_t b) {
    return static_cast<float>(testing::ref_dist(v.row(a), v.row(b), 2));
  };
  std::vector<Neighbour> c;
  for (int32_t q : {1, 2, 3, 4}) c.push_back({dist(0, q), q});
  std::sort(c.begin(), c.end());
  int64_t evals = 0;
  // 1 kept; 2 occluded by 1; (0,3) at distance 9 from p: d(1,3) = 10 > 9, kept; 4 occluded.
  EXPECT_EQ(select_mrng(c, 0, dist, &evals), (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(evals, 1 + 1 + 1);  // 2 vs 1; 3 vs 1; 4 vs 1 (occluded at the first test)
  EXPECT_EQ(select_mrng(c, 1, dist), (std::vector<int32_t>{1}));
}

// select_mrng tries the most recent occluder first; the kept set must not depend on that
// order. p = (0, 0); r1 = (1, 0), r2 = (0, 1.1), then three candidates behind r2.
TEST(Mrng, SelectTriesTheLastOccluderFirst) {
  VectorSet v(6, 2);
  const float xy[6][2] = {{0, 0}, {1, 0}, {0, 1.1f}, {0, 2}, {0.1f, 2.5f}, {-0.1f, 3}};
  for (int i = 0; i < 6; ++i) v.row(i)[0] = xy[i][0], v.row(i)[1] = xy[i][1];
  auto dist = [&](int32_t a, int32_t b) {
    return static_cast<float>(testing::ref_dist(v.row(a), v.row(b), 2));
  };
  std::vector<Neighbour> c;
  for (int32_t q = 1; q < 6; ++q) c.push_back({dist(0, q), q});
  std::sort(c.begin(), c.end());
  int64_t evals = 0;
  EXPECT_EQ(select_mrng(c, 0, dist, &evals), (std::vector<int32_t>{1, 2}));
  // r2 vs r1 (kept); (0, 2): r1 then r2 occludes; the last two: r2 first, occluded at once.
  // Testing r1 first every time would take 7.
  EXPECT_EQ(evals, 1 + 2 + 1 + 1);
}

// Against the rule in double, in the natural order, on random candidate lists in 8-D.
TEST(Mrng, SelectMatchesTheRuleInTheNaturalOrder) {
  Rng rng(23);
  for (int trial = 0; trial < 50; ++trial) {
    VectorSet v(300, 8);
    for (float& x : v.data) x = static_cast<float>(rng.uniform());
    auto dist = [&](int32_t a, int32_t b) { return l2_sq_exact(v.row(a), v.row(b), 8); };
    std::vector<Neighbour> c;
    for (int32_t q = 1; q < v.n; ++q) c.push_back({static_cast<float>(dist(0, q)), q});
    std::sort(c.begin(), c.end());
    const int max_degree = trial % 2 ? 0 : 12;
    std::vector<int32_t> want;
    for (const Neighbour& q : c) {
      if (max_degree > 0 && static_cast<int>(want.size()) >= max_degree) break;
      bool occluded = false;
      for (int32_t r : want) occluded = occluded || static_cast<float>(dist(r, q.id)) < q.dist;
      if (!occluded) want.push_back(q.id);
    }
    EXPECT_EQ(select_mrng(c, max_degree,
                          [&](int32_t a, int32_t b) { return static_cast<float>(dist(a, b)); }),
              want)
        << trial;
  }
}

// Vamana's relaxation, checked by hand. p = (0, 0); r = (1, 0), q = (1, 2), s = (3, 0): squared
// distances to p 1, 5, 9; d2(r, q) = 4, d2(r, s) = 4, d2(q, s) = 8. The rule on plain distances:
// r occludes q when alpha * 2 < sqrt(5) = 2.236, i.e. for alpha < 1.118; r occludes s when
// alpha * 2 < 3, for alpha < 1.5; q never occludes s (alpha * 2.83 > 3).
TEST(Mrng, SelectWithAlphaKeepsAnEdgeTheMrngRuleDrops) {
  VectorSet v(4, 2);
  const float xy[4][2] = {{0, 0}, {1, 0}, {1, 2}, {3, 0}};
  for (int i = 0; i < 4; ++i) v.row(i)[0] = xy[i][0], v.row(i)[1] = xy[i][1];
  auto dist = [&](int32_t a, int32_t b) {
    return static_cast<float>(testing::ref_dist(v.row(a), v.row(b), 2));
  };
  const std::vector<Neighbour> c = {{1, 1}, {5, 2}, {9, 3}};
  EXPECT_EQ(select_mrng(c, 0, dist, nullptr, 1.0f), (std::vector<int32_t>{1}));
  EXPECT_EQ(select_mrng(c, 0, dist, nullptr, 1.1f), (std::vector<int32_t>{1}));
  int64_t evals = 0;
  EXPECT_EQ(select_mrng(c, 0, dist, &evals, 1.2f), (std::vector<int32_t>{1, 2}));
  // q vs r; s vs r (kept nodes are tried in keeping order until one occludes) occludes.
  EXPECT_EQ(evals, 1 + 1);
  EXPECT_EQ(select_mrng(c, 0, dist, nullptr, 1.6f), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(select_mrng(c, 1, dist, nullptr, 1.6f), (std::vector<int32_t>{1}));
  EXPECT_THROW(select_mrng(c, 0, dist, nullptr, 0.9f), Error);
}

// Against the relaxed rule on plain distances in double (alpha * d(r, q) < d(p, q), square
// roots taken), on random candidate lists in 8-D; alpha = 1 also against the squared-float
// test of the rule before alpha existed, and the default argument gives the same list.
TEST(Mrng, SelectWithAlphaMatchesTheRuleInDouble) {
  Rng rng(31);
  for (int trial = 0; trial < 40; ++trial) {
    VectorSet v(300, 8);
    for (float& x : v.data) x = static_cast<float>(rng.uniform());
    auto d2 = [&](int32_t a, int32_t b) { return l2_sq_exact(v.row(a), v.row(b), 8); };
    auto fdist = [&](int32_t a, int32_t b) { return static_cast<float>(d2(a, b)); };
    std::vector<Neighbour> c;
    for (int32_t q = 1; q < v.n; ++q) c.push_back({fdist(0, q), q});
    std::sort(c.begin(), c.end());
    const int max_degree = trial % 2 ? 0 : 24;
    for (double alpha : {1.0, 1.1, 1.2, 1.5}) {
      std::vector<int32_t> want;
      for (const Neighbour& q : c) {
        if (max_degree > 0 && static_cast<int>(want.size()) >= max_degree) break;
        bool occluded = false;
        for (int32_t r : want)
          occluded = occluded || alpha * std::sqrt(d2(r, q.id)) < std::sqrt(d2(0, q.id));
        if (!occluded) want.push_back(q.id);
      }
      EXPECT_EQ(select_mrng(c, max_degree, fdist, nullptr, static_cast<float>(alpha)), want)
          << trial << " alpha " << alpha;
    }
    std::vector<int32_t> old_rule;
    for (const Neighbour& q : c) {
      if (max_degree > 0 && static_cast<int>(old_rule.size()) >= max_degree) break;
      bool occluded = false;
      for (int32_t r : old_rule) occluded = occluded || fdist(r, q.id) < q.dist;
      if (!occluded) old_rule.push_back(q.id);
    }
    EXPECT_EQ(select_mrng(c, max_degree, fdist, nullptr, 1.0f), old_rule) << trial;
    EXPECT_EQ(select_mrng(c, max_degree, fdist), old_rule) << trial;
  }
}

TEST(Mrng, HnswFlatGraphRespectsDegreeAndFindsNeighbours) {
  const VectorSet base = small_mixture(3000, 32, 2), queries = small_mixture(200, 32, 3);
  HnswParams hp;
  hp.M = 12, hp.max_degree = 24, hp.ef_construction = 80;
  const Graph g = build_hnsw_flat(base, hp);
  EXPECT_LE(g.max_degree(), 24);
  for (int64_t p = 0; p < g.size(); ++p) {
    const std::set<int32_t> out(g.neighbours(p), g.neighbours(p) + g.degree(p));
    ASSERT_EQ(static_cast<int>(out.size()), g.degree(p));
    ASSERT_EQ(out.count(static_cast<int32_t>(p)), 0u);
  }
  const KnnResult truth = exact_knn(base, queries, 10);
  const KnnResult found = search_batch(g, base, queries, SearchParams{100, 10});
  EXPECT_GE(recall_at(found, truth, 10), 0.95);
}

}  // namespace
}  // namespace tessel::ann
