// Fixed-point LSTM: quantisation of float weights and the integer cell step of fixed.h.
#include "models/lstm/lstm_fixed.h"

#include <string>

#include "runtime/core/error.h"

namespace tessel::lstm {
namespace {

std::vector<int16_t> quantize_row_major(const Eigen::MatrixXf& m, fixed::QFormat f) {
  std::vector<int16_t> out(static_cast<std::size_t>(m.size()));
  for (Eigen::Index r = 0; r < m.rows(); ++r)
    for (Eigen::Index c = 0; c < m.cols(); ++c)
      out[static_cast<std::size_t>(r * m.cols() + c)] = fixed::quantize(m(r, c), f);
  return out;
}

// Element by element in storage order; m may be a view with an outer stride.
MatrixI16 quantize_matrix(const Eigen::Ref<const Eigen::MatrixXf>& m, fixed::QFormat f) {
  MatrixI16 q(m.rows(), m.cols());
  for (Eigen::Index j = 0; j < m.cols(); ++j)
    for (Eigen::Index i = 0; i < m.rows(); ++i) q(i, j) = fixed::quantize(m(i, j), f);
  return q;
}

}  // namespace

FixedLayerParams quantize_layer(const LayerParams& p) {
  FixedLayerParams q;
  q.input_size = static_cast<int>(p.w_ih.cols());
  q.hidden_size = static_cast<int>(p.w_hh.cols());
  q.w_ih = quantize_row_major(p.w_ih, fixed::kWeightFormat);
  q.w_hh = quantize_row_major(p.w_hh, fixed::kWeightFormat);
  const Eigen::VectorXf b = p.b_ih + p.b_hh;
  q.bias = quantize_row_major(b, fixed::kBiasFormat);
  return q;
}

FixedLstmWeights quantize_weights(const LstmWeights& w) {
  w.validate();
  FixedLstmWeights q;
  q.shape = w.shape;
  for (const LayerParams& p : w.params) q.params.push_back(quantize_layer(p));
  return q;
}

void fixed_cell_from_acc(const FixedLayerParams& p, const int64_t* acc, const int16_t* c_prev,
                         int16_t* h_out, int16_t* c_out, FixedStepTrace* trace) {
  const int hid = p.hidden_size;
  const std::size_t rows = static_cast<std::size_t>(4 * hid);
  std::vector<int16_t> preact(rows), gate(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    preact[r] = fixed::preactivation(acc[r], p.bias[r]);
    // Rows [2H, 3H) are the candidate g (tanh); i, f and o use sigmoid.
    const bool is_g = r >= 2u * hid && r < 3u * hid;
    gate[r] = is_g ? fixed::tanh(preact[r]) : fixed::sigmoid(preact[r]);
  }
  for (int j = 0; j < hid; ++j) {
    const int16_t i = gate[j], f = gate[hid + j], g = gate[2 * hid + j], o = gate[3 * hid + j];
    c_out[j] = fixed::cell_update(f, c_prev[j], i, g);
    h_out[j] = fixed::hidden_output(o, c_out[j]);
  }
  if (trace) {
    trace->acc.assign(acc, acc + rows);
    trace->preact = std::move(preact);
    trace->gate = std::move(gate);
    trace->c.assign(c_out, c_out + hid);
    trace->h.assign(h_out, h_out + hid);
  }
}

void fixed_cell_step(const FixedLayerParams& p, const int16_t* x, const int16_t* h_prev,
                     const int16_t* c_prev, int16_t* h_out, int16_t* c_out, FixedStepTrace* trace) {
  const int hid = p.hidden_size;
  const int rows = 4 * hid;
  std::vector<int64_t> acc(static_cast<std::size_t>(rows));
  // Rows are independent and each sum is exact, so threads cannot change a bit.
#pragma omp parallel for schedule(static) if (rows * (p.input_size + hid) > (1 << 18))
  for (int r = 0; r < rows; ++r) {
    acc[static_cast<std::size_t>(r)] =
        fixed::dot(p.w_ih_row(r), x, static_cast<std::size_t>(p.input_size)) +
        fixed::dot(p.w_hh_row(r), h_prev, static_cast<std::size_t>(hid));
  }
  fixed_cell_from_acc(p, acc.data(), c_prev, h_out, c_out, trace);
}

FixedLstmOutput fixed_lstm_forward(const FixedLstmWeights& w, const FixedSequence& x,
                                   const FixedLstmState* initial) {
  const LstmShape& s = w.shape;
  const int dirs = s.directions();
  const int hid = s.hidden_size;
  const Eigen::Index batch = x.empty() ? 0 : x[0].cols();
  const std::size_t states = static_cast<std::size_t>(s.num_layers * dirs);
  if (w.params.size() != states)
    throw ConfigError("lstm fixed: expected " + std::to_string(states) + " parameter sets");
  for (std::size_t t = 0; t < x.size(); ++t)
    if (x[t].rows() != s.input_size || x[t].cols() != batch)
      throw ConfigError("lstm fixed: input at step " + std::to_string(t) + " has wrong shape");
  if (initial && (initial->h.size() != states || initial->c.size() != states))
    throw ConfigError("lstm fixed: initial state needs " + std::to_string(states) + " h and c");

  FixedLstmOutput out;
  out.final.h.resize(states);
  out.final.c.resize(states);
  FixedSequence layer_in = x;
  const Eigen::Index steps = static_cast<Eigen::Index>(x.size());
  for (int l = 0; l < s.num_layers; ++l) {
    FixedSequence layer_out(x.size(), MatrixI16(dirs * hid, batch));
    for (int d = 0; d < dirs; ++d) {
      const std::size_t k = static_cast<std::size_t>(l * dirs + d);
      const FixedLayerParams& p = w.at(l, d);
      MatrixI16 h = initial ? initial->h[k] : MatrixI16::Zero(hid, batch);
      MatrixI16 c = initial ? initial->c[k] : MatrixI16::Zero(hid, batch);
      if (h.rows() != hid || h.cols() != batch || c.rows() != hid || c.cols() != batch)
        throw ConfigError("lstm fixed: initial state " + std::to_string(k) + " has wrong shape");
      MatrixI16 h_next(hid, batch), c_next(hid, batch);
      for (Eigen::Index st = 0; st < steps; ++st) {
        const Eigen::Index t = d == 1 ? steps - 1 - st : st;
        for (Eigen::Index b = 0; b < batch; ++b)
          fixed_cell_step(p, layer_in[t].col(b).data(), h.col(b).data(), c.col(b).data(),
                          h_next.col(b).data(), c_next.col(b).data());
        h.swap(h_next);
        c.swap(c_next);
        layer_out[t].middleRows(d * hid, hid) = h;
      }
      out.final.h[k] = std::move(h);
      out.final.c[k] = std::move(c);
    }
    layer_in = std::move(layer_out);
  }
  out.y = std::move(layer_in);
  return out;
}

FixedSequence quantize_sequence(const Sequence& x) {
  FixedSequence q;
  q.reserve(x.size());
  for (const auto& m : x) q.push_back(quantize_matrix(m, fixed::kActFormat));
  return q;
}

FixedSequence quantize_sequence(const SequenceRef& x, Eigen::Index steps) {
  if (steps < 0 || (steps > 0 && x.cols() % steps != 0))
    throw ConfigError("lstm: stacked input of " + std::to_string(x.cols()) +
                      " columns is not a whole number of " + std::to_string(steps) + " steps");
  FixedSequence q;
  const Eigen::Index batch = steps > 0 ? x.cols() / steps : 0;
  q.reserve(static_cast<std::size_t>(steps));
  for (Eigen::Index t = 0; t < steps; ++t)
    q.push_back(quantize_matrix(x.middleCols(t * batch, batch), fixed::kActFormat));
  return q;
}

FixedLstmState quantize_state(const LstmState& s) {
  FixedLstmState q;
  for (const auto& m : s.h) q.h.push_back(quantize_matrix(m, fixed::kActFormat));
  for (const auto& m : s.c) q.c.push_back(quantize_matrix(m, fixed::kCellFormat));
  return q;
}

Eigen::MatrixXf dequantize(const MatrixI16& m, fixed::QFormat f) {
  Eigen::MatrixXf out(m.rows(), m.cols());
  for (Eigen::Index k = 0; k < m.size(); ++k)
    out.data()[k] = static_cast<float>(fixed::dequantize(m.data()[k], f));
  return out;
}

}  // namespace tessel::lstm
