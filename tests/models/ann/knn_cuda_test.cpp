// CUDA exact kNN against the CPU path: identical ids and distances (skips without a GPU).
#include <gtest/gtest.h>

#include "models/ann/knn.h"
#include "tests/models/ann/test_util.h"

namespace tessel::ann {
namespace {

class KnnCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  }
};

void expect_identical(const VectorSet& base, const VectorSet& queries, int k, bool self) {
  KnnOptions opt;
  opt.exclude_self = self;
  const KnnResult cpu = exact_knn(base, queries, k, Backend::kCpu, opt);
  const KnnResult gpu = exact_knn(base, queries, k, Backend::kCuda, opt);
  ASSERT_EQ(cpu.ids.size(), gpu.ids.size());
  int64_t diff = 0;
  for (std::size_t j = 0; j < cpu.ids.size(); ++j) diff += cpu.ids[j] != gpu.ids[j];
  EXPECT_EQ(diff, 0);
  EXPECT_EQ(cpu.dist, gpu.dist);
}

TEST_F(KnnCuda, MixtureIdenticalToCpu) {
  MixtureSpec spec;
  // 70k base vectors exceed one GPU chunk at 4096 queries, so the running-list merge is used.
  const VectorSet base = gaussian_mixture(spec, 70000, 0),
                  queries = gaussian_mixture(spec, 5000, 1);
  expect_identical(base, queries, 10, false);
  expect_identical(base, queries.slice(0, 300), 60, false);
  // All 5000 queries at k = 60: two query batches and five base chunks, so a running list
  // wider than a warp is reloaded between chunks.
  expect_identical(base, queries, 60, false);
  // Self-exclusion in a query batch that starts past 0 (20000 queries: five batches).
  const VectorSet both = base.slice(0, 20000);
  expect_identical(both, both, 10, true);
}

TEST_F(KnnCuda, NoQueriesGiveAnEmptyResultAsOnTheCpu) {
  MixtureSpec spec;
  const VectorSet base = gaussian_mixture(spec, 1000, 0);
  expect_identical(base, base.slice(0, 0), 5, false);
}

TEST_F(KnnCuda, MnistIdenticalToCpuIncludingSelfExclusion) {
  const std::string path = testing::mnist_images_path();
  if (path.empty()) GTEST_SKIP() << "../shared/data/mnist not present";
  const VectorSet all = read_mnist_images(path);
  expect_identical(all.slice(0, 9000), all.slice(9000, 10000), 10, false);
  expect_identical(all.slice(0, 3000), all.slice(0, 3000), 20, true);
}

}  // namespace
}  // namespace tessel::ann
