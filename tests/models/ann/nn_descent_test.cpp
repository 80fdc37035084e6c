// NN-descent against exact neighbour lists: recall, list invariants, single-thread determinism.
#include "models/ann/nn_descent.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/models/ann/test_util.h"

namespace tessel::ann {
namespace {

TEST(NnDescent, ConvergesToTheExactKnnGraph) {
  MixtureSpec spec;
  spec.centres = 10, spec.dim = 32, spec.seed = 9;
  const VectorSet base = gaussian_mixture(spec, 4000, 0);
  NnDescentParams p;
  p.k = 16;
  p.threads = 1;
  NnDescentStats st;
  const auto lists = nn_descent(base, p, &st);
  ASSERT_EQ(static_cast<int64_t>(lists.size()), base.n);
  // Recall over every node against the independent brute force.
  int64_t hits = 0;
  for (int64_t v = 0; v < base.n; ++v) {
    const auto& l = lists[v];
    ASSERT_EQ(static_cast<int>(l.size()), p.k);
    std::set<int32_t> ids;
    for (std::size_t j = 0; j < l.size(); ++j) {
      ASSERT_NE(l[j].id, v);
      ids.insert(l[j].id);
      if (j > 0) {
        ASSERT_LE(l[j - 1].dist, l[j].dist);
      }
      ASSERT_NEAR(l[j].dist,
                  static_cast<double>(testing::ref_dist(base.row(v), base.row(l[j].id), 32)),
                  1e-4 * l[j].dist);
    }
    ASSERT_EQ(static_cast<int>(ids.size()), p.k);  // no duplicates
    for (int32_t t : testing::ref_knn(base, base.row(v), p.k, v)) hits += ids.count(t);
  }
  const double recall = static_cast<double>(hits) / (base.n * p.k);
  EXPECT_GE(recall, 0.97);
  // The sampled estimate agrees with the full count.
  EXPECT_NEAR(knn_graph_recall(base, lists, p.k, 800, 1), recall, 0.02);
  // Far fewer distances than the n^2 / 2 of brute force.
  EXPECT_LT(st.distances, base.n * (base.n - 1) / 2 / 3);
  EXPECT_GE(st.iterations, 2);
  // One thread: the same graph on every run.
  const auto again = nn_descent(base, p);
  for (int64_t v = 0; v < base.n; v += 97)
    for (int j = 0; j < p.k; ++j) ASSERT_EQ(again[v][j].id, lists[v][j].id);
}

// Random-projection trees seed the lists (the default): on many tight clusters (a small
// tight32, docs/ann.md) the same recall against exact neighbours in fewer iterations and fewer
// distances than from random lists, and the same lists for any thread count.
TEST(NnDescent, TreeStartReachesTheSameRecallWithFewerDistances) {
  MixtureSpec spec;
  spec.centres = 100, spec.dim = 32, spec.sigma = 0.05;
  const VectorSet base = gaussian_mixture(spec, 10000, 0);
  NnDescentParams p;
  p.k = 16;
  p.threads = 1;
  ASSERT_GT(p.rp_trees, 0);
  NnDescentStats tree_st, random_st;
  const auto tree = nn_descent(base, p, &tree_st);
  p.rp_trees = 0;
  const auto random = nn_descent(base, p, &random_st);
  EXPECT_EQ(random_st.tree_distances, 0);
  EXPECT_GT(tree_st.tree_distances, 0);
  // Recall on 1,000 nodes against exact_knn (brute force).
  const double tree_recall = knn_graph_recall(base, tree, p.k, 1000, 3);
  const double random_recall = knn_graph_recall(base, random, p.k, 1000, 3);
  EXPECT_GE(tree_recall, 0.99);
  EXPECT_GE(tree_recall, random_recall - 0.005);
  EXPECT_LT(tree_st.iterations, random_st.iterations);
  EXPECT_LT(tree_st.distances, random_st.distances * 85 / 100);
  // Trees built and joined on two threads: the same lists.
  p.rp_trees = NnDescentParams{}.rp_trees;
  p.threads = 2;
  NnDescentStats two_st;
  const auto two = nn_descent(base, p, &two_st);
  EXPECT_EQ(two_st.updates, tree_st.updates);
  for (int64_t v = 0; v < base.n; ++v)
    for (int j = 0; j < p.k; ++j) ASSERT_EQ(two[v][j].id, tree[v][j].id) << v << " " << j;
}

}  // namespace
}  // namespace tessel::ann
