// Float32 LSTM inference (Eigen) with PyTorch nn.LSTM semantics: layers, directions, batch.
#pragma once

#include <cstdint>
#include <vector>

#include <Eigen/Core>

namespace tessel::lstm {

// Dimensions of an nn.LSTM(input_size, hidden_size, num_layers, bidirectional=...).
struct LstmShape {
  int input_size = 0;
  int hidden_size = 0;
  int num_layers = 1;
  bool bidirectional = false;

  int directions() const { return bidirectional ? 2 : 1; }
  // Layer k > 0 consumes the concatenated outputs of both directions of layer k-1.
  int layer_input_size(int layer) const {
    return layer == 0 ? input_size : directions() * hidden_size;
  }
  bool operator==(const LstmShape& o) const {
    return input_size == o.input_size && hidden_size == o.hidden_size &&
           num_layers == o.num_layers && bidirectional == o.bidirectional;
  }
};

// Parameters of one layer and direction, in PyTorch's layout: the 4H rows are the
// blocks of the gates i, f, g, o, in that order.
struct LayerParams {
  Eigen::MatrixXf w_ih;  // [4H, layer input]
  Eigen::MatrixXf w_hh;  // [4H, H]
  Eigen::VectorXf b_ih;  // [4H]
  Eigen::VectorXf b_hh;  // [4H]
};

struct LstmWeights {
  LstmShape shape;
  std::vector<LayerParams> params;  // index layer * directions + direction (1 = reverse)

  const LayerParams& at(int layer, int direction) const {
    return params[static_cast<std::size_t>(layer * shape.directions() + direction)];
  }
  // Throws tessel::ConfigError when a matrix does not match `shape`.
  void validate() const;
  // PyTorch's default initialisation: every parameter ~ U(-1/sqrt(H), 1/sqrt(H)),
  // drawn in the order weight_ih, weight_hh, bias_ih, bias_hh per layer and direction,
  // each matrix row-major, from tessel::Rng(seed).
  static LstmWeights random(const LstmShape& shape, uint64_t seed, double scale = 0.0);
};

// A sequence: element t is the input at time t, one column per batch element
// ([features, batch]); PyTorch's (seq, batch, feature) transposed per step.
using Sequence = std::vector<Eigen::MatrixXf>;

// h and c per layer and direction (index layer * directions + direction), each [H, batch];
// PyTorch's (num_layers * num_directions, batch, H).
struct LstmState {
  std::vector<Eigen::MatrixXf> h;
  std::vector<Eigen::MatrixXf> c;
};

struct LstmOutput {
  Sequence y;       // [T] of [directions * H, batch]: last layer, forward then reverse
  LstmState final;  // h_n, c_n
};

// Runs the LSTM over the whole sequence. `initial` null means zero h0 and c0.
// Throws tessel::ConfigError on mismatched shapes.
LstmOutput lstm_forward(const LstmWeights& w, const Sequence& x,
                        const LstmState* initial = nullptr);

// A whole sequence as one matrix: step t in columns [t * batch, (t + 1) * batch), i.e.
// [features, steps * batch] column-major. A C-contiguous NumPy (steps, batch, features)
// array has exactly this layout, so an Eigen::Map of it binds without a copy; the first
// layer's input projection reads it in place.
using SequenceRef = Eigen::Ref<const Eigen::MatrixXf>;
LstmOutput lstm_forward(const LstmWeights& w, const SequenceRef& x, Eigen::Index steps,
                        const LstmState* initial = nullptr);

// One direction of one layer over a sequence (the building block of lstm_forward):
// writes h_t into rows [row_offset, row_offset + H) of y[t]; h and c carry the state in
// and out. Exposed for the CPU benchmark's per-step timing.
void lstm_layer_forward(const LayerParams& p, const Sequence& x, bool reverse, Eigen::MatrixXf& h,
                        Eigen::MatrixXf& c, Sequence& y, int row_offset);

// A random sequence with entries ~ U(-scale, scale) from tessel::Rng(seed).
Sequence random_sequence(int steps, int features, int batch, uint64_t seed, double scale = 1.0);

}  // namespace tessel::lstm
