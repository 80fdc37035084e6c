// Float32 LSTM forward pass: input projections as one GEMM, then the recurrence per step.
#include "models/lstm/lstm.h"

#include <cmath>
#include <string>

#include "models/common/rng.h"
#include "runtime/core/error.h"

namespace tessel::lstm {
namespace {

std::string dims(Eigen::Index r, Eigen::Index c) {
  return "[" + std::to_string(r) + ", " + std::to_string(c) + "]";
}

void expect_dims(const Eigen::MatrixXf& m, Eigen::Index r, Eigen::Index c,
                 const std::string& what) {
  if (m.rows() != r || m.cols() != c)
    throw ConfigError("lstm: " + what + ": expected shape " + dims(r, c) + ", got " +
                      dims(m.rows(), m.cols()));
}

}  // namespace

void LstmWeights::validate() const {
  if (shape.input_size <= 0 || shape.hidden_size <= 0 || shape.num_layers <= 0)
    throw ConfigError("lstm: input_size, hidden_size and num_layers must be positive");
  const int dirs = shape.directions();
  if (params.size() != static_cast<std::size_t>(shape.num_layers * dirs))
    throw ConfigError("lstm: expected " + std::to_string(shape.num_layers * dirs) +
                      " parameter sets, got " + std::to_string(params.size()));
  const int h = shape.hidden_size;
  for (int l = 0; l < shape.num_layers; ++l) {
    for (int d = 0; d < dirs; ++d) {
      const LayerParams& p = at(l, d);
      const std::string sfx = std::to_string(l) + (d ? "_reverse" : "");
      expect_dims(p.w_ih, 4 * h, shape.layer_input_size(l), "weight_ih_l" + sfx);
      expect_dims(p.w_hh, 4 * h, h, "weight_hh_l" + sfx);
      expect_dims(p.b_ih, 4 * h, 1, "bias_ih_l" + sfx);
      expect_dims(p.b_hh, 4 * h, 1, "bias_hh_l" + sfx);
    }
  }
}

LstmWeights LstmWeights::random(const LstmShape& shape, uint64_t seed, double scale) {
  LstmWeights w;
  w.shape = shape;
  const int h = shape.hidden_size;
  const double k = scale > 0.0 ? scale : 1.0 / std::sqrt(static_cast<double>(h));
  Rng rng(seed);
  auto fill = [&](Eigen::MatrixXf& m, int rows, int cols) {
    m.resize(rows, cols);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) m(r, c) = static_cast<float>(rng.uniform(-k, k));
  };
  for (int l = 0; l < shape.num_layers; ++l) {
    for (int d = 0; d < shape.directions(); ++d) {
      LayerParams p;
      fill(p.w_ih, 4 * h, shape.layer_input_size(l));
      fill(p.w_hh, 4 * h, h);
      Eigen::MatrixXf b;
      fill(b, 4 * h, 1);
      p.b_ih = b;
      fill(b, 4 * h, 1);
      p.b_hh = b;
      w.params.push_back(std::move(p));
    }
  }
  return w;
}

namespace {

// The steps of a sequence side by side (the SequenceRef layout).
Eigen::MatrixXf stacked(const Sequence& x) {
  if (x.empty()) return Eigen::MatrixXf();
  const Eigen::Index batch = x[0].cols(), steps = static_cast<Eigen::Index>(x.size());
  Eigen::MatrixXf xs(x[0].rows(), steps * batch);
  for (Eigen::Index t = 0; t < steps; ++t) xs.middleCols(t * batch, batch) = x[t];
  return xs;
}

// lstm_layer_forward on a stacked sequence `xs` of `steps` steps.
void layer_forward(const LayerParams& p, const SequenceRef& xs, Eigen::Index steps, bool reverse,
                   Eigen::MatrixXf& h, Eigen::MatrixXf& c, Sequence& y, int row_offset) {
  if (steps == 0) return;
  const Eigen::Index hidden = p.w_hh.cols();
  const Eigen::Index batch = xs.cols() / steps;
  // The input projections do not depend on the recurrence: one GEMM for all steps.
  Eigen::MatrixXf gx = p.w_ih * xs;
  gx.colwise() += p.b_ih + p.b_hh;

  Eigen::MatrixXf gates(4 * hidden, batch);
  for (Eigen::Index s = 0; s < steps; ++s) {
    const Eigen::Index t = reverse ? steps - 1 - s : s;
    gates.noalias() = p.w_hh * h;
    gates += gx.middleCols(t * batch, batch);
    auto sig = [](const auto& z) { return (1.0f + (-z.array()).exp()).inverse(); };
    const Eigen::ArrayXXf i = sig(gates.topRows(hidden));
    const Eigen::ArrayXXf f = sig(gates.middleRows(hidden, hidden));
    const Eigen::ArrayXXf g = gates.middleRows(2 * hidden, hidden).array().tanh();
    const Eigen::ArrayXXf o = sig(gates.bottomRows(hidden));
    c = (f * c.array() + i * g).matrix();
    h = (o * c.array().tanh()).matrix();
    y[t].middleRows(row_offset, hidden) = h;
  }
}

}  // namespace

void lstm_layer_forward(const LayerParams& p, const Sequence& x, bool reverse, Eigen::MatrixXf& h,
                        Eigen::MatrixXf& c, Sequence& y, int row_offset) {
  layer_forward(p, stacked(x), static_cast<Eigen::Index>(x.size()), reverse, h, c, y, row_offset);
}

LstmOutput lstm_forward(const LstmWeights& w, const Sequence& x, const LstmState* initial) {
  const Eigen::Index batch = x.empty() ? 0 : x[0].cols();
  for (std::size_t t = 0; t < x.size(); ++t)
    expect_dims(x[t], w.shape.input_size, batch, "input at step " + std::to_string(t));
  return lstm_forward(w, stacked(x), static_cast<Eigen::Index>(x.size()), initial);
}

LstmOutput lstm_forward(const LstmWeights& w, const SequenceRef& x, Eigen::Index steps,
                        const LstmState* initial) {
  w.validate();
  const LstmShape& s = w.shape;
  const int dirs = s.directions();
  const int hid = s.hidden_size;
  if (steps < 0 || (steps > 0 && (x.cols() % steps != 0 || x.rows() != s.input_size)))
    throw ConfigError("lstm: input: expected " + std::to_string(s.input_size) +
                      " rows and a multiple of " + std::to_string(steps) + " columns, got " +
                      dims(x.rows(), x.cols()));
  const Eigen::Index batch = steps > 0 ? x.cols() / steps : 0;
  const std::size_t states = static_cast<std::size_t>(s.num_layers * dirs);
  if (initial) {
    if (initial->h.size() != states || initial->c.size() != states)
      throw ConfigError("lstm: initial state needs " + std::to_string(states) +
                        " h and c matrices");
    for (std::size_t k = 0; k < states; ++k) {
      expect_dims(initial->h[k], hid, batch, "h0[" + std::to_string(k) + "]");
      expect_dims(initial->c[k], hid, batch, "c0[" + std::to_string(k) + "]");
    }
  }

  LstmOutput out;
  out.final.h.resize(states);
  out.final.c.resize(states);
  Sequence layer_out;
  Eigen::MatrixXf below;  // the previous layer's output, stacked: the input of layers l > 0
  for (int l = 0; l < s.num_layers; ++l) {
    if (l > 0) below = stacked(layer_out);
    layer_out.assign(static_cast<std::size_t>(steps), Eigen::MatrixXf(dirs * hid, batch));
    for (int d = 0; d < dirs; ++d) {
      const std::size_t k = static_cast<std::size_t>(l * dirs + d);
      Eigen::MatrixXf h = initial ? initial->h[k] : Eigen::MatrixXf::Zero(hid, batch);
      Eigen::MatrixXf c = initial ? initial->c[k] : Eigen::MatrixXf::Zero(hid, batch);
      // Layer 0 reads the caller's x in place.
      if (l == 0)
        layer_forward(w.at(l, d), x, steps, d == 1, h, c, layer_out, d * hid);
      else
        layer_forward(w.at(l, d), below, steps, d == 1, h, c, layer_out, d * hid);
      out.final.h[k] = std::move(h);
      out.final.c[k] = std::move(c);
    }
  }
  out.y = std::move(layer_out);
  return out;
}

Sequence random_sequence(int steps, int features, int batch, uint64_t seed, double scale) {
  Rng rng(seed);
  Sequence x(static_cast<std::size_t>(steps), Eigen::MatrixXf(features, batch));
  for (auto& m : x)
    for (int b = 0; b < batch; ++b)
      for (int f = 0; f < features; ++f) m(f, b) = static_cast<float>(rng.uniform(-scale, scale));
  return x;
}

}  // namespace tessel::lstm
