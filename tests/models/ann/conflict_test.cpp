// Conflicting nodes against a brute-force reading of the definition; path-length study sanity.
#include "models/ann/conflict.h"

#include <gtest/gtest.h>

#include <set>

#include "models/ann/mrng.h"
#include "tests/models/ann/test_util.h"

namespace tessel::ann {
namespace {

TEST(Conflict, CountsMatchTheDefinitionOnExactMrng) {
  MixtureSpec spec;
  spec.centres = 4, spec.dim = 24, spec.seed = 3;
  const VectorSet base = gaussian_mixture(spec, 1200, 0);
  const Graph g = build_exact_mrng(base);
  const int k = 10;
  const KnnResult knn = exact_knn(base, base, k, Backend::kCpu, {true, 0});
  const ConflictReport r = find_conflicting_nodes(g, knn, k);

  // Reference: neighbour sets from the independent brute force, edges as std::set.
  std::vector<std::vector<int32_t>> near(base.n);
  for (int64_t p = 0; p < base.n; ++p) near[p] = testing::ref_knn(base, base.row(p), k, p);
  int64_t pairs = 0, conflicting = 0, orphan = 0;
  std::vector<int> rknn(base.n, 0), linked(base.n, 0);
  for (int64_t p = 0; p < base.n; ++p) {
    const std::set<int32_t> out(g.neighbours(p), g.neighbours(p) + g.degree(p));
    for (int32_t q : near[p]) {
      ++rknn[q];
      if (out.count(q))
        ++linked[q];
      else
        ++pairs;
    }
  }
  for (int64_t q = 0; q < base.n; ++q) {
    orphan += rknn[q] == 0;
    const bool c = rknn[q] > 0 && linked[q] == 0;
    conflicting += c;
    ASSERT_EQ(static_cast<bool>(r.conflicting[q]), c) << "node " << q;
  }
  EXPECT_EQ(r.conflict_pairs, pairs);
  EXPECT_EQ(r.conflicting_nodes, conflicting);
  EXPECT_EQ(r.without_reverse_knn, orphan);
  EXPECT_GT(r.conflict_pairs, 0);
  EXPECT_GT(r.conflicting_nodes, 0);  // in 24-d the rule drops many near neighbours
}

TEST(Conflict, PathStudySplitsQueriesByTheirNearestNeighbour) {
  MixtureSpec spec;
  spec.centres = 4, spec.dim = 24, spec.seed = 3;
  const VectorSet base = gaussian_mixture(spec, 1500, 0), queries = gaussian_mixture(spec, 300, 1);
  const Graph g = build_exact_mrng(base);
  const KnnResult knn = exact_knn(base, base, 10, Backend::kCpu, {true, 0});
  const ConflictReport r = find_conflicting_nodes(g, knn, 10);
  const KnnResult truth = exact_knn(base, queries, 1);
  const PathStudy s = conflict_path_study(g, base, queries, truth, r, 32);
  // Exact MRNG with a pool of 32 finds nearly every true nearest neighbour.
  EXPECT_GE(
      (s.conflicting.recall_at_1 * s.conflicting.queries + s.other.recall_at_1 * s.other.queries) /
          queries.n,
      0.97);
  int64_t expect_conflicting = 0;
  for (int64_t q = 0; q < queries.n; ++q) expect_conflicting += r.conflicting[truth.ids_of(q)[0]];
  EXPECT_EQ(s.conflicting.queries, expect_conflicting);
  EXPECT_EQ(s.conflicting.queries + s.other.queries, queries.n);
  for (const PathClass* c : {&s.conflicting, &s.other}) {
    if (c->queries == 0) continue;
    EXPECT_GE(c->greedy_hops, 1.0);  // the entry node is always expanded
    EXPECT_GE(c->beam_hops, 1.0);
    EXPECT_GE(c->greedy_success, 0.0);
    EXPECT_LE(c->greedy_success, 1.0);
    EXPECT_GE(c->recall_at_1, 0.0);
    EXPECT_LE(c->recall_at_1, 1.0);
  }
}

}  // namespace
}  // namespace tessel::ann
