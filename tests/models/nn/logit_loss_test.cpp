// The Transformer's logit_loss seam: an extra loss term on the logits reaches the
// parameter gradients (finite differences in double), evaluation never sees it, and the
// Trainer's steps go through it.
#include <gtest/gtest.h>

#include "models/common/rng.h"
#include "models/nn/trainer.h"
#include "models/nn/transformer.h"
#include "tests/models/nn/gradcheck.h"

namespace tessel::nn {
namespace {

data::TokenBatch tiny_batch(int batch, int seq, int vocab, uint64_t seed) {
  Rng rng(seed);
  data::TokenBatch b;
  b.batch = batch;
  b.seq = seq;
  for (int i = 0; i < batch * seq; ++i) {
    b.tokens.push_back(static_cast<int32_t>(rng.next_u64() % vocab));
    b.targets.push_back(static_cast<int32_t>(rng.next_u64() % vocab));
  }
  for (int i = 0; i < batch; ++i) b.labels.push_back(i % 3);
  return b;
}

TransformerConfig tiny_config(Head head) {
  TransformerConfig c;
  c.vocab_size = 7;
  c.max_seq = 6;
  c.layers = 1;
  c.width = 8;
  c.heads = 2;
  c.mlp_ratio = 2;
  c.head = head;
  c.classes = 3;
  return c;
}

// The extra term: λ/2 · mean over rows of Σ_j (z_j - c_j)², with a per-column offset so
// the gradient is not proportional to the logits.
constexpr double kLambda = 0.3;
double penalty(const Matrix<double>& z) {
  double s = 0;
  for (Eigen::Index r = 0; r < z.rows(); ++r)
    for (Eigen::Index j = 0; j < z.cols(); ++j) s += std::pow(z(r, j) - 0.1 * j, 2);
  return 0.5 * kLambda * s / static_cast<double>(z.rows());
}

void check_head(Head head) {
  Transformer<double> m(tiny_config(head));
  m.init(5);
  const data::TokenBatch b = tiny_batch(2, 5, 7, 9);
  int calls = 0;
  m.logit_loss = [&](const data::TokenBatch& batch, const Matrix<double>& z, double loss,
                     Matrix<double>& dz) {
    ++calls;
    EXPECT_EQ(&batch, &b);
    for (Eigen::Index r = 0; r < z.rows(); ++r)
      for (Eigen::Index j = 0; j < z.cols(); ++j)
        dz(r, j) += kLambda * (z(r, j) - 0.1 * j) / static_cast<double>(z.rows());
    return loss + penalty(z);
  };
  m.params().zero_grad();
  const double reported = m.forward_backward(b);
  EXPECT_EQ(calls, 1);
  const std::vector<double> analytic = m.params().grads();
  // The reference: forward-only cross-entropy (loss() never calls the seam, checked by
  // `calls`) plus the penalty computed from the kept logits.
  auto total = [&] {
    const double ce = m.loss(b);
    return ce + penalty(m.logits());
  };
  EXPECT_NEAR(reported, total(), 1e-12);
  EXPECT_EQ(calls, 1);
  auto& values = m.params().values();
  const auto numeric = test::numeric_grad(values, total);
  EXPECT_EQ(calls, 1);
  for (const auto& p : m.params().infos()) {
    std::vector<double> num(numeric.begin() + p.offset, numeric.begin() + p.offset + p.size());
    EXPECT_LT(test::max_rel_error(analytic.data() + p.offset, num), 1e-6) << p.name;
  }
}

TEST(LogitLoss, LanguageModelGradientMatchesFiniteDifferences) {
  check_head(Head::kLanguageModel);
}

TEST(LogitLoss, ClassifierGradientMatchesFiniteDifferences) {
  check_head(Head::kClassifier);
}

const char* kTinyYaml = R"(name: tiny
seed: 3
task: lm
data:
  synthetic_chars: 4000
model:
  layers: 1
  width: 16
  heads: 2
train:
  batch_size: 4
  seq_len: 16
  steps: 3
  lr: 3.0e-3
  threads: 1
eval:
  every: 100
  batches: 1
)";

TEST(LogitLoss, TrainerStepsGoThroughTheSeam) {
  const TrainConfig config = TrainConfig::from_config(Config::parse(kTinyYaml, "tiny.yaml"));
  Trainer plain(config, "");
  const TrainResult base = plain.run(nullptr);
  Trainer hooked(config, "");
  ASSERT_NE(hooked.transformer(), nullptr);
  int calls = 0;
  // Adds a constant: the loss shifts by exactly 1 and the gradients (hence the
  // trajectory) stay those of the plain run.
  hooked.transformer()->logit_loss = [&](const data::TokenBatch&, const Matrix<float>&, float loss,
                                         Matrix<float>&) {
    ++calls;
    return loss + 1.0f;
  };
  const TrainResult r = hooked.run(nullptr);
  EXPECT_EQ(calls, 3);  // training steps only, not the evaluation
  ASSERT_EQ(r.losses.size(), base.losses.size());
  for (std::size_t i = 0; i < r.losses.size(); ++i)
    EXPECT_FLOAT_EQ(r.losses[i], base.losses[i] + 1.0) << i;
  EXPECT_EQ(r.evals.back().val_loss, base.evals.back().val_loss);
}

}  // namespace
}  // namespace tessel::nn
