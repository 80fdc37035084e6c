// The GPU full softmax and exact top-K (models/fgd/softmax_cuda.cu) against the CPU reference
// (OpenBLAS/Eigen logits, exact_topk, full_softmax); skips without a GPU.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "models/fgd/output_layer.h"
#include "models/fgd/softmax_cuda.h"
#include "runtime/core/error.h"

namespace tessel::fgd {
namespace {

OutputLayer random_layer(int64_t vocab, int dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  OutputLayer l;
  l.vocab = vocab;
  l.dim = dim;
  l.weight.resize(static_cast<std::size_t>(vocab) * dim);
  l.bias.resize(static_cast<std::size_t>(vocab));
  for (float& w : l.weight) w = g(rng) / 8;
  for (float& b : l.bias) b = g(rng);
  // Two exact ties (same row and bias) so the lower-id rule is exercised.
  std::copy(l.row(5), l.row(5) + dim, l.weight.begin() + 900 * dim);
  l.bias[900] = l.bias[5];
  return l;
}

TEST(FgdCuda, FullSoftmaxAndTopKMatchTheCpu) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no GPU";
  const OutputLayer layer = random_layer(30000, 128, 3);
  CudaSoftmax gpu(layer);
  std::mt19937_64 rng(4);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (int n : {1, 7}) {
    std::vector<float> h(static_cast<std::size_t>(n) * 128);
    for (float& x : h) x = g(rng);
    for (int K : {1, 10, 100}) {
      std::vector<int32_t> ids(static_cast<std::size_t>(n) * K);
      std::vector<float> top(ids.size());
      std::vector<double> log_z(n);
      gpu.decode(h.data(), n, K, ids.data(), top.data(), log_z.data());
      std::vector<float> logits(30000), probs(30000), cpu_top(K);
      std::vector<int32_t> cpu_ids(K);
      for (int r = 0; r < n; ++r) {
        const double cpu_log_z =
            full_softmax(layer, h.data() + r * 128, logits.data(), probs.data());
        EXPECT_NEAR(log_z[r], cpu_log_z, 1e-4) << "n " << n << " row " << r;
        exact_topk(logits.data(), 30000, K, cpu_ids.data(), cpu_top.data());
        for (int j = 0; j < K; ++j) {
          EXPECT_NEAR(top[r * K + j], cpu_top[j], 1e-4) << "row " << r << " rank " << j;
          // Ids agree unless two logits are within rounding of each other.
          if (ids[r * K + j] != cpu_ids[j]) {
            EXPECT_NEAR(logits[ids[r * K + j]], cpu_top[j], 1e-4) << "row " << r << " rank " << j;
          }
        }
      }
    }
  }
}

TEST(FgdCuda, KOutsideTheVocabularyIsAClearError) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no GPU";
  const OutputLayer layer = random_layer(1000, 16, 5);
  CudaSoftmax gpu(layer);
  std::vector<float> h(16, 0.5f), top(2000);
  std::vector<int32_t> ids(2000);
  std::vector<double> log_z(1);
  try {
    gpu.decode(h.data(), 1, 1001, ids.data(), top.data(), log_z.data());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "fgd cuda: K = 1001 exceeds the vocabulary of 1000 words");
  }
}

}  // namespace
}  // namespace tessel::fgd
