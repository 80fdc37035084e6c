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

// With `tie`, words 5 and 900 get the same row and a bias far above every other word's, so
// they are each row's two best words with exactly equal logits: the lower-id rule decides.
OutputLayer random_layer(int64_t vocab, int dim, uint64_t seed, bool tie = true) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  OutputLayer l;
  l.vocab = vocab;
  l.dim = dim;
  l.weight.resize(static_cast<std::size_t>(vocab) * dim);
  l.bias.resize(static_cast<std::size_t>(vocab));
  for (float& w : l.weight) w = g(rng) / 8;
  for (float& b : l.bias) b = g(rng);
  if (tie) {
    std::copy(l.row(5), l.row(5) + dim, l.weight.begin() + 900 * dim);
    l.bias[5] = l.bias[900] = 20.0f;
  }
  return l;
}

// GPU decode against full_softmax and exact_topk on every row: log Z, the top values, and
// the ids (which may differ only between logits within rounding of each other).
void expect_matches_cpu(const OutputLayer& layer, CudaSoftmax& gpu, int n, int K, uint64_t seed) {
  const int dim = layer.dim;
  const auto vocab = static_cast<int>(layer.vocab);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> h(static_cast<std::size_t>(n) * dim);
  for (float& x : h) x = g(rng);
  std::vector<int32_t> ids(static_cast<std::size_t>(n) * K);
  std::vector<float> top(ids.size());
  std::vector<double> log_z(n);
  gpu.decode(h.data(), n, K, ids.data(), top.data(), log_z.data());
  std::vector<float> logits(vocab), probs(vocab), cpu_top(K);
  std::vector<int32_t> cpu_ids(K);
  for (int r = 0; r < n; ++r) {
    SCOPED_TRACE("n " + std::to_string(n) + " K " + std::to_string(K) + " row " +
                 std::to_string(r));
    const double cpu_log_z = full_softmax(layer, h.data() + r * dim, logits.data(), probs.data());
    EXPECT_NEAR(log_z[r], cpu_log_z, 1e-4);
    exact_topk(logits.data(), vocab, K, cpu_ids.data(), cpu_top.data());
    for (int j = 0; j < K; ++j) {
      const int32_t id = ids[r * K + j];
      ASSERT_GE(id, 0) << "rank " << j;
      ASSERT_LT(id, vocab) << "rank " << j;
      EXPECT_NEAR(top[r * K + j], cpu_top[j], 1e-4) << "rank " << j;
      if (id != cpu_ids[j]) EXPECT_NEAR(logits[id], cpu_top[j], 1e-4) << "rank " << j;
    }
  }
}

TEST(FgdCuda, FullSoftmaxAndTopKMatchTheCpu) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no GPU";
  const OutputLayer layer = random_layer(30000, 128, 3);
  CudaSoftmax gpu(layer);
  for (int n : {1, 7})
    for (int K : {1, 2, 10, 100}) expect_matches_cpu(layer, gpu, n, K, 4 + n * 1000 + K);
}

// The tie: the two best words are 5 and 900, and when their logits are equal (the same row
// and bias; equal unless the GEMM summed the two columns in different orders) the lower id
// ranks first, as exact_topk ranks it.
TEST(FgdCuda, TiedBestWordsRankByLowerId) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no GPU";
  const OutputLayer layer = random_layer(30000, 128, 3);
  CudaSoftmax gpu(layer);
  std::vector<float> h(4 * 128, 0.25f), top(4 * 2);
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = static_cast<float>(i % 7) / 7 - 0.4f;
  std::vector<int32_t> ids(4 * 2);
  std::vector<double> log_z(4);
  gpu.decode(h.data(), 4, 2, ids.data(), top.data(), log_z.data());
  int equal = 0;
  for (int r = 0; r < 4; ++r) {
    const int a = ids[r * 2], b = ids[r * 2 + 1];
    EXPECT_TRUE((a == 5 && b == 900) || (a == 900 && b == 5))
        << "row " << r << ": " << a << ", " << b;
    EXPECT_NEAR(top[r * 2], top[r * 2 + 1], 1e-5) << "row " << r;
    if (top[r * 2] == top[r * 2 + 1]) {
      EXPECT_EQ(a, 5) << "row " << r;
      ++equal;
    }
  }
  RecordProperty("rows_with_bitwise_equal_logits", equal);
}

// A vocabulary below the kernel's 512 threads (idle threads) and K = the whole vocabulary.
TEST(FgdCuda, SmallVocabularyAndWholeVocabularyTopK) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no GPU";
  const OutputLayer layer = random_layer(300, 16, 6, false);
  CudaSoftmax gpu(layer);
  for (int K : {1, 300}) expect_matches_cpu(layer, gpu, 3, K, 7 + K);
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
