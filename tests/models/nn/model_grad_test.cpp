// Whole-model gradients (Transformer LM, classifier head, PLD skip/rescale, masks, MLP)
// against central finite differences in double precision on tiny shapes.
#include <gtest/gtest.h>

#include "models/common/rng.h"
#include "models/nn/mlp.h"
#include "models/nn/transformer.h"
#include "tests/models/nn/gradcheck.h"

namespace tessel::nn {
namespace {

using test::max_rel_error;
using test::numeric_grad;

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
  c.layers = 2;
  c.width = 8;
  c.heads = 2;
  c.mlp_ratio = 2;
  c.head = head;
  c.classes = 3;
  return c;
}

// Analytic gradient of every parameter against finite differences.
void check_model(Transformer<double>& m, const data::TokenBatch& b, const StepOptions& o,
                 double tol) {
  m.params().zero_grad();
  m.forward_backward(b, o);
  const std::vector<double> analytic = m.params().grads();
  auto& values = m.params().values();
  const auto numeric = numeric_grad(values, [&] { return m.loss(b, o); });
  for (const auto& p : m.params().infos()) {
    std::vector<double> num(numeric.begin() + p.offset, numeric.begin() + p.offset + p.size());
    EXPECT_LT(max_rel_error(analytic.data() + p.offset, num), tol) << p.name;
  }
}

TEST(ModelGrad, TransformerLanguageModel) {
  Transformer<double> m(tiny_config(Head::kLanguageModel));
  m.init(3);
  data::TokenBatch b = tiny_batch(2, 5, 7, 4);
  b.targets[3] = -1;  // an ignored position must not contribute
  check_model(m, b, {}, 1e-6);
}

TEST(ModelGrad, TransformerClassifierHead) {
  Transformer<double> m(tiny_config(Head::kClassifier));
  m.init(5);
  check_model(m, tiny_batch(3, 4, 7, 6), {}, 1e-6);
}

TEST(ModelGrad, LayerSkipAndRescale) {
  Transformer<double> m(tiny_config(Head::kLanguageModel));
  m.init(7);
  StepOptions o;
  o.layer_scale = {0.0, 1.6};  // block 0 dropped, block 1 kept with p = 0.625
  const data::TokenBatch b = tiny_batch(2, 4, 7, 8);
  check_model(m, b, o, 1e-6);
  // A dropped block receives no gradient at all.
  for (const auto& p : m.params().infos()) {
    if (p.layer != 0) continue;
    for (int64_t k = 0; k < p.size(); ++k) ASSERT_EQ(m.params().grads()[p.offset + k], 0.0);
  }
}

TEST(ModelGrad, ParameterMaskInForwardAndGradient) {
  Transformer<double> m(tiny_config(Head::kLanguageModel));
  m.init(9);
  const int id = m.params().index("h1.w_fc");
  const auto& info = m.params().info(id);
  std::vector<double> mask(static_cast<std::size_t>(info.size()));
  for (std::size_t k = 0; k < mask.size(); ++k) mask[k] = (k % 4) < 2 ? 1.0 : 0.0;  // 2:4
  m.params().set_mask(id, mask);
  const data::TokenBatch b = tiny_batch(2, 5, 7, 10);
  // The forward sees value ⊙ mask: changing a masked-out weight changes nothing.
  const double before = m.loss(b);
  m.params().values()[info.offset + 2] += 5.0;
  EXPECT_EQ(m.loss(b), before);
  check_model(m, b, {}, 1e-6);
  for (std::size_t k = 0; k < mask.size(); ++k) {
    if (mask[k] == 0) {
      ASSERT_EQ(m.params().grads()[info.offset + k], 0.0);
    }
  }
}

TEST(ModelGrad, TruncatedBatchIsTheShorterSequence) {
  Transformer<double> m(tiny_config(Head::kLanguageModel));
  m.init(11);
  const data::TokenBatch full = tiny_batch(2, 6, 7, 12);
  const data::TokenBatch cut = full.truncated(3);
  ASSERT_EQ(cut.seq, 3);
  // Causality: the first 3 logits of each sequence do not depend on later tokens.
  m.loss(full);
  const Matrix<double> lf = m.logits();
  m.loss(cut);
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 3; ++t)
      EXPECT_LT((lf.row(b * 6 + t) - m.logits().row(b * 3 + t)).cwiseAbs().maxCoeff(), 1e-12);
  check_model(m, cut, {}, 1e-6);
}

TEST(ModelGrad, MlpClassifier) {
  MlpConfig c;
  c.inputs = 5;
  c.hidden = {6, 4};
  c.classes = 3;
  MlpClassifier<double> m(c);
  m.init(13);
  const auto z = normal_values(4 * 5, 1.0, 14);
  Matrix<double> x(4, 5);
  std::copy(z.begin(), z.end(), x.data());
  const std::vector<int32_t> y = {0, 2, 1, 2};
  m.params().zero_grad();
  m.forward_backward(x, y);
  const std::vector<double> analytic = m.params().grads();
  const auto numeric = numeric_grad(m.params().values(), [&] { return m.loss(x, y); });
  EXPECT_LT(max_rel_error(analytic.data(), numeric), 1e-7);
}

}  // namespace
}  // namespace tessel::nn
