// Bit-exact fixed-point LSTM built only from fixed.h: the accelerator's golden model.
#pragma once

#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "models/common/fixed.h"
#include "models/lstm/lstm.h"

namespace tessel::lstm {

using MatrixI16 = Eigen::Matrix<int16_t, Eigen::Dynamic, Eigen::Dynamic>;

// One layer and direction in the accelerator's formats. Matrices are row-major so that
// one gate row is contiguous (what a dot-product unit streams).
struct FixedLayerParams {
  int input_size = 0;
  int hidden_size = 0;
  std::vector<int16_t> w_ih;  // [4H * input_size], Q2.13, gate rows i, f, g, o
  std::vector<int16_t> w_hh;  // [4H * H], Q2.13
  std::vector<int16_t> bias;  // [4H], Q4.11, quantize(b_ih + b_hh)

  const int16_t* w_ih_row(int r) const {
    return w_ih.data() + static_cast<std::size_t>(r) * input_size;
  }
  const int16_t* w_hh_row(int r) const {
    return w_hh.data() + static_cast<std::size_t>(r) * hidden_size;
  }
};

struct FixedLstmWeights {
  LstmShape shape;
  std::vector<FixedLayerParams> params;  // index layer * directions + direction

  const FixedLayerParams& at(int layer, int direction) const {
    return params[static_cast<std::size_t>(layer * shape.directions() + direction)];
  }
};

// Every intermediate value of one cell step, for golden vectors and debugging.
struct FixedStepTrace {
  std::vector<int64_t> acc;     // [4H] W_ih x + W_hh h, 26 fraction bits, exact
  std::vector<int16_t> preact;  // [4H] Q4.11, fixed::preactivation(acc, bias)
  std::vector<int16_t> gate;    // [4H] Q0.15: sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
  std::vector<int16_t> c;       // [H] Q4.11
  std::vector<int16_t> h;       // [H] Q2.13
};

// Float -> fixed: weights to Q2.13, b_ih + b_hh (summed in float, as the accelerator
// stores one bias per row) to Q4.11. Round half up, saturate (fixed::quantize).
FixedLayerParams quantize_layer(const LayerParams& p);
FixedLstmWeights quantize_weights(const LstmWeights& w);

// One LSTM cell step for one batch element, the function the SystemC functional model
// and the RTL testbenches reproduce:
//   acc[r]    = dot(W_ih[r], x) + dot(W_hh[r], h_prev)          (exact int64)
//   z[r]      = preactivation(acc[r], bias[r])                    (Q4.11)
//   i,f,o     = sigmoid(z), g = tanh(z)                           (Q0.15)
//   c[j]      = cell_update(f[j], c_prev[j], i[j], g[j])          (Q4.11)
//   h[j]      = hidden_output(o[j], c[j])                         (Q2.13)
// x has input_size entries (Q2.13); h_prev/h_out have H (Q2.13); c_prev/c_out have H
// (Q4.11). Outputs must not alias inputs. `trace` (optional) receives every value above.
void fixed_cell_step(const FixedLayerParams& p, const int16_t* x, const int16_t* h_prev,
                     const int16_t* c_prev, int16_t* h_out, int16_t* c_out,
                     FixedStepTrace* trace = nullptr);

// The part of the step after the dot products (the multi-function unit's work): from the
// 4H exact accumulators (however they were tiled or scheduled) to c and h. A SystemC or
// RTL model that computes its own accumulators checks its MFU against this.
void fixed_cell_from_acc(const FixedLayerParams& p, const int64_t* acc, const int16_t* c_prev,
                         int16_t* h_out, int16_t* c_out, FixedStepTrace* trace = nullptr);

// Sequences and states as in lstm.h, with int16 entries: x and h in Q2.13, c in Q4.11.
using FixedSequence = std::vector<MatrixI16>;
struct FixedLstmState {
  std::vector<MatrixI16> h;
  std::vector<MatrixI16> c;
};
struct FixedLstmOutput {
  FixedSequence y;
  FixedLstmState final;
};

// Full multi-layer, (bi)directional, batched fixed-point forward pass; `initial` null
// means zero state. Batch columns and rows are independent, so OpenMP parallelism over
// rows does not change a single bit.
FixedLstmOutput fixed_lstm_forward(const FixedLstmWeights& w, const FixedSequence& x,
                                   const FixedLstmState* initial = nullptr);

// Conversions at the edges of the fixed-point world.
FixedSequence quantize_sequence(const Sequence& x);  // Q2.13
// The same for a stacked sequence (lstm.h's SequenceRef layout), read in place.
FixedSequence quantize_sequence(const SequenceRef& x, Eigen::Index steps);
FixedLstmState quantize_state(const LstmState& s);  // h Q2.13, c Q4.11
Eigen::MatrixXf dequantize(const MatrixI16& m, fixed::QFormat f);

}  // namespace tessel::lstm
