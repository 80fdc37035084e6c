// Every layer's backward against central finite differences (double), and forward
// against naive loops written independently of the Eigen kernels.
#include "models/nn/layers.h"

#include <gtest/gtest.h>

#include <cmath>

#include "models/nn/transformer.h"
#include "tests/models/nn/gradcheck.h"

namespace tessel::nn {
namespace {

using test::max_rel_error;
using test::numeric_grad;
using M = Matrix<double>;

M random_matrix(int r, int c, uint64_t seed, double scale = 1.0) {
  const auto z = normal_values(static_cast<std::size_t>(r) * c, scale, seed);
  M m(r, c);
  std::copy(z.begin(), z.end(), m.data());
  return m;
}

std::vector<double> as_vec(const M& m) {
  return std::vector<double>(m.data(), m.data() + m.size());
}
M as_mat(const std::vector<double>& v, int r, int c) {
  M m(r, c);
  std::copy(v.begin(), v.end(), m.data());
  return m;
}
// Loss that weights every output by a fixed random matrix, so dL/dy = weights.
double weighted(const M& y, const M& w) {
  return (y.array() * w.array()).sum();
}

TEST(Layers, LinearGradients) {
  const int n = 3, in = 4, out = 5;
  std::vector<double> x = as_vec(random_matrix(n, in, 1)), w = as_vec(random_matrix(in, out, 2)),
                      b = as_vec(random_matrix(1, out, 3));
  const M r = random_matrix(n, out, 4);
  auto f = [&] {
    M y;
    linear_forward<double>(as_mat(x, n, in), ConstMatMap<double>(w.data(), in, out), b.data(), y);
    return weighted(y, r);
  };
  M dx;
  std::vector<double> dw(w.size(), 0.0), db(b.size(), 0.0);
  linear_backward<double>(r, as_mat(x, n, in), ConstMatMap<double>(w.data(), in, out), &dx,
                          MatMap<double>(dw.data(), in, out), db.data());
  EXPECT_LT(max_rel_error(dx.data(), numeric_grad(x, f)), 1e-8);
  EXPECT_LT(max_rel_error(dw.data(), numeric_grad(w, f)), 1e-8);
  EXPECT_LT(max_rel_error(db.data(), numeric_grad(b, f)), 1e-8);
}

TEST(Layers, LayerNormForwardMatchesFormulaAndGradients) {
  const int n = 3, c = 6;
  std::vector<double> x = as_vec(random_matrix(n, c, 5, 2.0)), g = as_vec(random_matrix(1, c, 6)),
                      b = as_vec(random_matrix(1, c, 7));
  const M r = random_matrix(n, c, 8);
  M y;
  std::vector<double> mean, rstd;
  layernorm_forward<double>(as_mat(x, n, c), g.data(), b.data(), y, mean, rstd);
  for (int i = 0; i < n; ++i) {
    double mu = 0, var = 0;
    for (int j = 0; j < c; ++j) mu += x[i * c + j] / c;
    for (int j = 0; j < c; ++j) var += (x[i * c + j] - mu) * (x[i * c + j] - mu) / c;
    for (int j = 0; j < c; ++j)
      EXPECT_NEAR(y(i, j), (x[i * c + j] - mu) / std::sqrt(var + 1e-5) * g[j] + b[j], 1e-12);
  }
  auto f = [&] {
    M yy;
    std::vector<double> m2, r2;
    layernorm_forward<double>(as_mat(x, n, c), g.data(), b.data(), yy, m2, r2);
    return weighted(yy, r);
  };
  M dx;
  std::vector<double> dg(c, 0.0), db(c, 0.0);
  layernorm_backward<double>(r, as_mat(x, n, c), g.data(), mean, rstd, dx, dg.data(), db.data());
  EXPECT_LT(max_rel_error(dx.data(), numeric_grad(x, f)), 1e-7);
  EXPECT_LT(max_rel_error(dg.data(), numeric_grad(g, f)), 1e-7);
  EXPECT_LT(max_rel_error(db.data(), numeric_grad(b, f)), 1e-7);
}

TEST(Layers, GeluValuesAndGradient) {
  const int n = 2, c = 5;
  std::vector<double> x = as_vec(random_matrix(n, c, 9, 2.0));
  M y;
  gelu_forward<double>(as_mat(x, n, c), y);
  // Reference values of the tanh GELU: GELU(1) = 0.8411919906, GELU(-1) = -0.1588080094.
  M probe(1, 2);
  probe << 1.0, -1.0;
  M py;
  gelu_forward<double>(probe, py);
  EXPECT_NEAR(py(0, 0), 0.8411919906082768, 1e-12);
  EXPECT_NEAR(py(0, 1), -0.15880800939172324, 1e-12);
  const M r = random_matrix(n, c, 10);
  auto f = [&] {
    M yy;
    gelu_forward<double>(as_mat(x, n, c), yy);
    return weighted(yy, r);
  };
  M dx;
  gelu_backward<double>(r, as_mat(x, n, c), dx);
  EXPECT_LT(max_rel_error(dx.data(), numeric_grad(x, f)), 1e-8);
}

// Causal attention by explicit loops: softmax over s <= t of q_t·k_s/sqrt(hd), times v.
M naive_attention(const M& qkv, int batch, int seq, int heads) {
  const int c = static_cast<int>(qkv.cols()) / 3, hd = c / heads;
  M out = M::Zero(batch * seq, c);
  for (int b = 0; b < batch; ++b)
    for (int h = 0; h < heads; ++h)
      for (int t = 0; t < seq; ++t) {
        std::vector<double> w(t + 1);
        double mx = -1e300, sum = 0;
        for (int s = 0; s <= t; ++s) {
          double dot = 0;
          for (int d = 0; d < hd; ++d)
            dot += qkv(b * seq + t, h * hd + d) * qkv(b * seq + s, c + h * hd + d);
          w[s] = dot / std::sqrt(double(hd));
          mx = std::max(mx, w[s]);
        }
        for (auto& v : w) sum += (v = std::exp(v - mx));
        for (int s = 0; s <= t; ++s)
          for (int d = 0; d < hd; ++d)
            out(b * seq + t, h * hd + d) += w[s] / sum * qkv(b * seq + s, 2 * c + h * hd + d);
      }
  return out;
}

TEST(Layers, AttentionForwardMatchesLoopsAndGradients) {
  const int batch = 2, seq = 4, heads = 2, c = 6;
  std::vector<double> qkv = as_vec(random_matrix(batch * seq, 3 * c, 11));
  M out, att;
  attention_forward<double>(as_mat(qkv, batch * seq, 3 * c), batch, seq, heads, out, att);
  EXPECT_LT((out - naive_attention(as_mat(qkv, batch * seq, 3 * c), batch, seq, heads))
                .cwiseAbs()
                .maxCoeff(),
            1e-12);
  const M r = random_matrix(batch * seq, c, 12);
  auto f = [&] {
    M o, a;
    attention_forward<double>(as_mat(qkv, batch * seq, 3 * c), batch, seq, heads, o, a);
    return weighted(o, r);
  };
  M dqkv;
  attention_backward<double>(r, as_mat(qkv, batch * seq, 3 * c), att, batch, seq, heads, dqkv);
  EXPECT_LT(max_rel_error(dqkv.data(), numeric_grad(qkv, f)), 1e-7);
}

TEST(Layers, CrossEntropyValueAndGradientWithIgnoredTarget) {
  const int n = 4, v = 5;
  std::vector<double> logits = as_vec(random_matrix(n, v, 13, 3.0));
  const std::vector<int32_t> targets = {2, -1, 0, 4};
  // Reference: mean over counted rows of log Σ exp - logit[target].
  double ref = 0;
  for (int i : {0, 2, 3}) {
    double s = 0;
    for (int j = 0; j < v; ++j) s += std::exp(logits[i * v + j]);
    ref += (std::log(s) - logits[i * v + targets[i]]) / 3;
  }
  M d;
  int64_t counted = 0;
  EXPECT_NEAR(softmax_cross_entropy<double>(as_mat(logits, n, v), targets, d, &counted), ref,
              1e-12);
  EXPECT_EQ(counted, 3);
  EXPECT_NEAR(softmax_cross_entropy_loss<double>(as_mat(logits, n, v), targets), ref, 1e-12);
  auto f = [&] { return softmax_cross_entropy_loss<double>(as_mat(logits, n, v), targets); };
  EXPECT_LT(max_rel_error(d.data(), numeric_grad(logits, f)), 1e-8);
}

}  // namespace
}  // namespace tessel::nn
