// Whole-model gradients (Transformer LM, classifier head, PLD skip/rescale, masks, MLP)
// against central finite differences in double precision on tiny shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "models/common/rng.h"
#include "models/nn/mlp.h"
#include "models/nn/transformer.h"
#include "runtime/core/error.h"
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

TEST(ModelGrad, PostLayerNormLanguageModelAndClassifier) {
  for (Head head : {Head::kLanguageModel, Head::kClassifier}) {
    TransformerConfig c = tiny_config(head);
    c.norm = Norm::kPostLN;
    Transformer<double> m(c);
    m.init(15);
    check_model(m, tiny_batch(2, 5, 7, 16), {}, 1e-6);
  }
}

// --- Both layouts against plain loops written from the equations ---

// Row-major [rows, cols] parameter `name` of m, copied out.
struct Weights {
  const Transformer<double>& m;
  std::vector<double> operator()(const std::string& name) const {
    const auto& info = m.params().info(m.params().index(name));
    const auto& v = m.params().values();
    return {v.begin() + info.offset, v.begin() + info.offset + info.size()};
  }
};

using Rows = std::vector<std::vector<double>>;

Rows affine(const Rows& x, const std::vector<double>& w, const std::vector<double>& b, int out) {
  Rows y(x.size(), std::vector<double>(static_cast<std::size_t>(out)));
  for (std::size_t r = 0; r < x.size(); ++r)
    for (int j = 0; j < out; ++j) {
      double s = b[static_cast<std::size_t>(j)];
      for (std::size_t i = 0; i < x[r].size(); ++i) s += x[r][i] * w[i * out + j];
      y[r][static_cast<std::size_t>(j)] = s;
    }
  return y;
}

Rows layer_norm(const Rows& x, const std::vector<double>& g, const std::vector<double>& b) {
  Rows y = x;
  for (auto& row : y) {
    double mean = 0, var = 0;
    for (double v : row) mean += v / row.size();
    for (double v : row) var += (v - mean) * (v - mean) / row.size();
    for (std::size_t i = 0; i < row.size(); ++i)
      row[i] = (row[i] - mean) / std::sqrt(var + 1e-5) * g[i] + b[i];
  }
  return y;
}

Rows add(Rows a, const Rows& b) {
  for (std::size_t r = 0; r < a.size(); ++r)
    for (std::size_t i = 0; i < a[r].size(); ++i) a[r][i] += b[r][i];
  return a;
}

// Causal multi-head self-attention on one sequence's rows (q | k | v columns, heads
// contiguous inside each), scores scaled by 1/sqrt(head width).
Rows causal_attention(const Rows& qkv, int c, int heads) {
  const int hd = c / heads, seq = static_cast<int>(qkv.size());
  Rows out(qkv.size(), std::vector<double>(static_cast<std::size_t>(c), 0.0));
  for (int h = 0; h < heads; ++h)
    for (int t = 0; t < seq; ++t) {
      std::vector<double> score(static_cast<std::size_t>(t + 1));
      double mx = -1e300, sum = 0;
      for (int j = 0; j <= t; ++j) {
        double s = 0;
        for (int d = 0; d < hd; ++d) s += qkv[t][h * hd + d] * qkv[j][c + h * hd + d];
        score[j] = s / std::sqrt(static_cast<double>(hd));
        mx = std::max(mx, score[j]);
      }
      for (double& s : score) sum += (s = std::exp(s - mx));
      for (int j = 0; j <= t; ++j)
        for (int d = 0; d < hd; ++d)
          out[t][h * hd + d] += score[j] / sum * qkv[j][2 * c + h * hd + d];
    }
  return out;
}

// Mean next-token cross-entropy of one LM batch.
double loop_reference_loss(const Transformer<double>& m, const data::TokenBatch& b) {
  const TransformerConfig& c = m.config();
  const Weights w{m};
  const int f = c.mlp_ratio * c.width;
  const std::vector<double> wte = w("wte"), wpe = w("wpe");
  double loss = 0;
  for (int s = 0; s < b.batch; ++s) {
    Rows x(static_cast<std::size_t>(b.seq), std::vector<double>(static_cast<std::size_t>(c.width)));
    for (int t = 0; t < b.seq; ++t)
      for (int i = 0; i < c.width; ++i)
        x[t][i] = wte[b.tokens[s * b.seq + t] * c.width + i] + wpe[t * c.width + i];
    for (int l = 0; l < c.layers; ++l) {
      const std::string h = "h" + std::to_string(l) + ".";
      auto attention = [&](const Rows& in) {
        return affine(causal_attention(affine(in, w(h + "w_qkv"), w(h + "b_qkv"), 3 * c.width),
                                       c.width, c.heads),
                      w(h + "w_proj"), w(h + "b_proj"), c.width);
      };
      auto mlp = [&](const Rows& in) {
        Rows a = affine(in, w(h + "w_fc"), w(h + "b_fc"), f);
        for (auto& row : a)
          for (double& v : row)
            v = 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        return affine(a, w(h + "w_fc2"), w(h + "b_fc2"), c.width);
      };
      if (c.norm == Norm::kPreLN) {
        x = add(x, attention(layer_norm(x, w(h + "ln1_g"), w(h + "ln1_b"))));
        x = add(x, mlp(layer_norm(x, w(h + "ln2_g"), w(h + "ln2_b"))));
      } else {
        x = layer_norm(add(x, attention(x)), w(h + "ln1_g"), w(h + "ln1_b"));
        x = layer_norm(add(x, mlp(x)), w(h + "ln2_g"), w(h + "ln2_b"));
      }
    }
    x = layer_norm(x, w("lnf_g"), w("lnf_b"));
    for (int t = 0; t < b.seq; ++t) {
      std::vector<double> logit(static_cast<std::size_t>(c.vocab_size), 0.0);
      double mx = -1e300, sum = 0;
      for (int v = 0; v < c.vocab_size; ++v) {
        for (int i = 0; i < c.width; ++i) logit[v] += x[t][i] * wte[v * c.width + i];
        mx = std::max(mx, logit[v]);
      }
      for (double z : logit) sum += std::exp(z - mx);
      loss += mx + std::log(sum) - logit[b.targets[s * b.seq + t]];
    }
  }
  return loss / (b.batch * b.seq);
}

TEST(ModelGrad, BothLayoutsMatchLoopsWrittenFromTheEquations) {
  for (Norm norm : {Norm::kPreLN, Norm::kPostLN}) {
    TransformerConfig c = tiny_config(Head::kLanguageModel);
    c.norm = norm;
    Transformer<double> m(c);
    // Every parameter random (gains and biases too), so that each LayerNorm's placement
    // and affine part shows in the loss.
    const auto z = normal_values(static_cast<std::size_t>(m.params().size()), 0.5, 17);
    std::copy(z.begin(), z.end(), m.params().values().begin());
    m.params().prepare_forward();
    const data::TokenBatch b = tiny_batch(2, 5, 7, 18);
    const double reference = loop_reference_loss(m, b);
    EXPECT_NEAR(m.loss(b), reference, 1e-12 * reference) << (norm == Norm::kPreLN ? "pre" : "post");
  }
  // The two layouts are different functions of the same parameters.
  TransformerConfig c = tiny_config(Head::kLanguageModel);
  Transformer<double> pre(c);
  c.norm = Norm::kPostLN;
  Transformer<double> post(c);
  pre.init(19);
  post.params().values() = pre.params().values();
  post.params().prepare_forward();
  const data::TokenBatch b = tiny_batch(2, 5, 7, 20);
  EXPECT_GT(std::fabs(pre.loss(b) - post.loss(b)), 1e-6);
}

TEST(ModelGrad, PostLayerNormRefusesLayerDropping) {
  TransformerConfig c = tiny_config(Head::kLanguageModel);
  c.norm = Norm::kPostLN;
  Transformer<double> m(c);
  m.init(21);
  StepOptions o;
  o.layer_scale = {1.0, 1.0};
  EXPECT_THROW(m.loss(tiny_batch(2, 4, 7, 22), o), Error);
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
