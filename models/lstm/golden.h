// Golden vectors of the fixed-point LSTM cell for RTL and SystemC testbenches (text format).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessel::lstm {

// One single-layer, unidirectional, batch-1 case. Float parameters are drawn from
// tessel::Rng(seed) in this order: w_ih, w_hh, b_ih, b_hh (row-major, U(-weight_scale,
// weight_scale)), h0, c0 (U(-state_scale, state_scale)), then x per step
// (U(-input_scale, input_scale)); all are then quantised with fixed::quantize.
struct GoldenCase {
  std::string name;
  int input_size;
  int hidden_size;
  int steps;
  uint64_t seed;
  double weight_scale;
  double input_scale;
  double state_scale;
};

// The committed cases (tests/models/lstm/golden/<name>.txt).
const std::vector<GoldenCase>& golden_cases();

// The full text of a case's golden file (format in docs/lstm_kernels.md).
std::string golden_text(const GoldenCase& c);

}  // namespace tessel::lstm
