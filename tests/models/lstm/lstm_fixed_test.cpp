// Fixed-point LSTM: bit-exact against the from-the-spec integer cell, and close to float.
#include "models/lstm/lstm_fixed.h"

#include <gtest/gtest.h>

#include "models/common/rng.h"
#include "tests/models/lstm/reference.h"

namespace tessel::lstm {
namespace {

std::vector<int16_t> col(const MatrixI16& m, Eigen::Index b) {
  return std::vector<int16_t>(m.col(b).data(), m.col(b).data() + m.rows());
}

// Random raw int16 parameters over the whole range: saturation everywhere.
TEST(LstmFixed, CellStepBitExactOnFullRangeOperands) {
  Rng rng(9);
  for (int trial = 0; trial < 20; ++trial) {
    const int in = 1 + static_cast<int>(rng.next_u64() % 20);
    const int hid = 1 + static_cast<int>(rng.next_u64() % 24);
    const int span = trial % 2 ? 65536 : 4096;  // full range, or moderate values
    auto draw = [&](std::size_t n) {
      std::vector<int16_t> v(n);
      for (auto& e : v)
        e = static_cast<int16_t>(static_cast<int64_t>(rng.next_u64() % span) - span / 2);
      return v;
    };
    FixedLayerParams p;
    p.input_size = in;
    p.hidden_size = hid;
    p.w_ih = draw(4u * hid * in);
    p.w_hh = draw(4u * hid * hid);
    p.bias = draw(4u * hid);
    const auto x = draw(in), h = draw(hid), c = draw(hid);
    std::vector<int16_t> h_out(hid), c_out(hid);
    FixedStepTrace tr;
    fixed_cell_step(p, x.data(), h.data(), c.data(), h_out.data(), c_out.data(), &tr);
    const ref::CellOut r = ref::int_cell(p.w_ih, p.w_hh, p.bias, x, h, c);
    EXPECT_EQ(tr.acc, r.acc);
    EXPECT_EQ(tr.preact, r.z);
    EXPECT_EQ(tr.gate, r.gate);
    EXPECT_EQ(c_out, r.c);
    EXPECT_EQ(h_out, r.h);
    EXPECT_EQ(tr.c, r.c);
    EXPECT_EQ(tr.h, r.h);
  }
}

// The whole multi-layer, bidirectional, batched pass equals the spec cell composed by hand.
TEST(LstmFixed, ForwardBitExactMultiLayerBidirectionalBatch) {
  const LstmShape shape{5, 6, 2, true};
  const LstmWeights wf = LstmWeights::random(shape, 17);
  const FixedLstmWeights w = quantize_weights(wf);
  const int batch = 3, steps = 7;
  const FixedSequence x = quantize_sequence(random_sequence(steps, 5, batch, 18));
  LstmState init;
  for (int s = 0; s < 4; ++s) {
    init.h.push_back(random_sequence(1, 6, batch, 30 + s, 0.8)[0]);
    init.c.push_back(random_sequence(1, 6, batch, 40 + s, 5.0)[0]);
  }
  const FixedLstmState qinit = quantize_state(init);
  const FixedLstmOutput out = fixed_lstm_forward(w, x, &qinit);

  // Reference: layer by layer, direction by direction, batch element by element.
  std::vector<std::vector<std::vector<int16_t>>> in(steps,
                                                    std::vector<std::vector<int16_t>>(batch));
  for (int t = 0; t < steps; ++t)
    for (int b = 0; b < batch; ++b) in[t][b] = col(x[t], b);
  for (int l = 0; l < 2; ++l) {
    std::vector<std::vector<std::vector<int16_t>>> next(
        steps, std::vector<std::vector<int16_t>>(batch, std::vector<int16_t>(12)));
    for (int d = 0; d < 2; ++d) {
      const FixedLayerParams& p = w.at(l, d);
      for (int b = 0; b < batch; ++b) {
        std::vector<int16_t> h = col(qinit.h[l * 2 + d], b), c = col(qinit.c[l * 2 + d], b);
        for (int s = 0; s < steps; ++s) {
          const int t = d ? steps - 1 - s : s;
          const ref::CellOut r = ref::int_cell(p.w_ih, p.w_hh, p.bias, in[t][b], h, c);
          h = r.h;
          c = r.c;
          std::copy(h.begin(), h.end(), next[t][b].begin() + d * 6);
        }
        EXPECT_EQ(col(out.final.h[l * 2 + d], b), h) << "layer " << l << " dir " << d;
        EXPECT_EQ(col(out.final.c[l * 2 + d], b), c) << "layer " << l << " dir " << d;
      }
    }
    in = std::move(next);
  }
  for (int t = 0; t < steps; ++t)
    for (int b = 0; b < batch; ++b) EXPECT_EQ(col(out.y[t], b), in[t][b]) << "t=" << t;
}

// SHARP computes W_ih x ahead of W_hh h and splits rows into tiles; with an exact
// accumulator every such schedule feeds the MFU the same values, and fixed_cell_from_acc
// on tiled partial sums reproduces fixed_cell_step bit for bit.
TEST(LstmFixed, TiledAccumulationGivesIdenticalStep) {
  const FixedLayerParams p = quantize_layer(LstmWeights::random({37, 29, 1, false}, 8).params[0]);
  const MatrixI16 x = quantize_sequence(random_sequence(1, 37, 1, 9))[0];
  const MatrixI16 h = quantize_sequence(random_sequence(1, 29, 1, 10))[0];
  const MatrixI16 c = quantize_state({{}, {random_sequence(1, 29, 1, 11, 4.0)[0]}}).c[0];
  std::vector<int64_t> acc(4 * 29, 0);
  for (int tile = 0; tile < 37; tile += 8)  // W_ih x first, 8 columns per tile
    for (int r = 0; r < 4 * 29; ++r)
      acc[r] += fixed::dot(p.w_ih_row(r) + tile, x.data() + tile, std::min(8, 37 - tile));
  for (int tile = 0; tile < 29; tile += 5)  // then W_hh h, 5 columns per tile
    for (int r = 0; r < 4 * 29; ++r)
      acc[r] += fixed::dot(p.w_hh_row(r) + tile, h.data() + tile, std::min(5, 29 - tile));
  std::vector<int16_t> h1(29), c1(29), h2(29), c2(29);
  FixedStepTrace t1, t2;
  fixed_cell_step(p, x.data(), h.data(), c.data(), h1.data(), c1.data(), &t1);
  fixed_cell_from_acc(p, acc.data(), c.data(), h2.data(), c2.data(), &t2);
  EXPECT_EQ(t1.acc, acc);
  EXPECT_EQ(t1.gate, t2.gate);
  EXPECT_EQ(h1, h2);
  EXPECT_EQ(c1, c2);
}

TEST(LstmFixed, QuantizeLayerUsesDocumentedFormats) {
  LayerParams p;
  p.w_ih = Eigen::MatrixXf::Constant(4, 1, 0.25f);
  p.w_hh = Eigen::MatrixXf::Constant(4, 1, -5.0f);  // saturates in Q2.13
  p.b_ih = Eigen::VectorXf::Constant(4, 1.0f);
  p.b_hh = Eigen::VectorXf::Constant(4, 0.5f);
  const FixedLayerParams q = quantize_layer(p);
  EXPECT_EQ(q.w_ih, std::vector<int16_t>(4, 2048));    // 0.25 * 2^13
  EXPECT_EQ(q.w_hh, std::vector<int16_t>(4, -32768));  // clamp
  EXPECT_EQ(q.bias, std::vector<int16_t>(4, 3072));    // 1.5 * 2^11
}

// A short version of the error study (the full one is lstm_error_study_test, label slow).
TEST(LstmFixed, CloseToFloatAtPyTorchInitScale) {
  const LstmShape shape{64, 64, 1, false};
  const LstmWeights w = LstmWeights::random(shape, 1);
  const Sequence x = random_sequence(50, 64, 1, 2);
  const LstmOutput f = lstm_forward(w, x);
  const FixedLstmOutput q = fixed_lstm_forward(quantize_weights(w), quantize_sequence(x));
  double max_err = 0;
  for (std::size_t t = 0; t < x.size(); ++t)
    max_err = std::max(
        max_err, double((dequantize(q.y[t], fixed::kActFormat) - f.y[t]).cwiseAbs().maxCoeff()));
  EXPECT_LT(max_err, 2e-3);
  EXPECT_GT(max_err, 0.0);
}

}  // namespace
}  // namespace tessel::lstm
