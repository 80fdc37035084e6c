// Exact kNN (CPU) against an independent long-double brute force; recall; argument errors.
#include "models/ann/knn.h"

#include <gtest/gtest.h>

#include "tests/models/ann/test_util.h"

namespace tessel::ann {
namespace {

using testing::ref_dist;
using testing::ref_knn;

VectorSet odd_dim_set(int64_t n, uint64_t stream) {
  MixtureSpec spec;
  spec.centres = 5, spec.dim = 37, spec.sigma = 0.2, spec.seed = 11;
  return gaussian_mixture(spec, n, stream);
}

TEST(ExactKnn, MatchesBruteForceAcrossBlockBoundaries) {
  // 4500 base vectors span three 2048-vector blocks; 130 queries span three query blocks; the
  // odd dimension exercises every loop tail.
  const VectorSet base = odd_dim_set(4500, 0), queries = odd_dim_set(130, 1);
  const int k = 10;
  const KnnResult r = exact_knn(base, queries, k);
  ASSERT_EQ(r.nq, 130);
  for (int64_t q = 0; q < queries.n; ++q) {
    const auto want = ref_knn(base, queries.row(q), k);
    for (int j = 0; j < k; ++j) {
      ASSERT_EQ(r.ids_of(q)[j], want[j]) << "query " << q << " rank " << j;
      EXPECT_NEAR(r.dist_of(q)[j],
                  static_cast<double>(ref_dist(queries.row(q), base.row(want[j]), 37)),
                  1e-6 * r.dist_of(q)[j]);
    }
  }
}

TEST(ExactKnn, ViewsAreReadInPlace) {
  const VectorSet base = odd_dim_set(700, 3), queries = odd_dim_set(20, 4);
  const VectorView b(base.data.data(), base.n, base.dim), q(queries.row(5), 15, queries.dim);
  const KnnResult r = exact_knn(b, q, 4);
  ASSERT_EQ(r.nq, 15);
  for (int64_t i = 0; i < 15; ++i) {
    const auto want = ref_knn(base, queries.row(5 + i), 4);
    for (int j = 0; j < 4; ++j) ASSERT_EQ(r.ids_of(i)[j], want[j]) << "query " << i;
  }
}

TEST(ExactKnn, ExcludeSelfTiesAndThreads) {
  VectorSet base = odd_dim_set(300, 2);
  // Exact duplicates of row 7 at rows 100 and 200: equal distances rank by id.
  std::copy(base.row(7), base.row(7) + base.dim, base.row(100));
  std::copy(base.row(7), base.row(7) + base.dim, base.row(200));
  KnnOptions opt;
  opt.exclude_self = true;
  opt.threads = 1;
  const KnnResult one = exact_knn(base, base, 5, Backend::kCpu, opt);
  opt.threads = 2;
  const KnnResult two = exact_knn(base, base, 5, Backend::kCpu, opt);
  EXPECT_EQ(one.ids, two.ids);
  EXPECT_EQ(one.dist, two.dist);
  EXPECT_EQ(one.ids_of(7)[0], 100);
  EXPECT_EQ(one.ids_of(7)[1], 200);
  EXPECT_EQ(one.dist_of(7)[0], 0.0f);
  EXPECT_EQ(one.ids_of(100)[0], 7);
  for (int64_t q = 0; q < base.n; ++q) {
    const auto want = ref_knn(base, base.row(q), 5, q);
    for (int j = 0; j < 5; ++j) ASSERT_EQ(one.ids_of(q)[j], want[j]) << q;
  }
  // k = n - 1 with exclude_self returns every other vector.
  const KnnResult all = exact_knn(base, base.slice(0, 3), 299, Backend::kCpu, {true, 0});
  EXPECT_EQ(all.ids_of(0)[298] >= 0, true);
}

TEST(ExactKnn, RecallAndErrors) {
  KnnResult truth, found;
  truth.nq = found.nq = 2;
  truth.k = found.k = 3;
  truth.ids = {1, 2, 3, 4, 5, 6};
  found.ids = {3, 9, 1, 6, 5, 4};
  truth.dist = found.dist = std::vector<float>(6, 0);
  EXPECT_DOUBLE_EQ(recall_at(found, truth, 3), 5.0 / 6.0);
  EXPECT_DOUBLE_EQ(recall_at(found, truth, 1), 0.0);  // 3 vs 1, 6 vs 4

  const VectorSet base = odd_dim_set(10, 0);
  EXPECT_EQ(testing::error_of([&] { exact_knn(base, base, 11); }),
            "exact_knn: k = 11 outside [1, 10]");
  VectorSet other(2, 5);
  EXPECT_EQ(testing::error_of([&] { exact_knn(base, other, 1); }),
            "exact_knn: base dimension 37 != query dimension 5");
  if (cuda_device_count() == 0) {
    EXPECT_NE(
        testing::error_of([&] { exact_knn(base, base, 1, Backend::kCuda); }).find("exact_knn:"),
        std::string::npos);
  }
}

}  // namespace
}  // namespace tessel::ann
