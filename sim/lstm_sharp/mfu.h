// Multi-function unit: sigmoid/tanh and the c/h update for the elements a block completes.
#pragma once

#include <algorithm>
#include <cstdint>

#include "models/common/fixed.h"

namespace tessel::lstm_sharp {

// One MFU per tile, pipelined: it takes `lanes` elements a cycle in arrival order and an
// element's h is ready `latency` cycles after it was taken.
class Mfu {
 public:
  Mfu(int64_t lanes, int64_t latency) : lanes_(lanes), latency_(latency) {}

  // Elements of a block whose DPU results are available at `done`: returns the cycle their
  // h is ready, and keeps the unit busy until it has taken them all.
  int64_t accept(int64_t done, int64_t elements) {
    free_ = std::max(done, free_) + (elements + lanes_ - 1) / lanes_;
    return free_ + latency_;
  }
  void reset() { free_ = 0; }

  // The arithmetic of one element, exactly as models/lstm's fixed_cell_step: gate
  // pre-activations (Q4.11) in, c (Q4.11) updated in place, h (Q2.13) out.
  static int16_t element(const int16_t z[4], int16_t& c) {
    const int16_t i = fixed::sigmoid(z[0]);
    const int16_t f = fixed::sigmoid(z[1]);
    const int16_t g = fixed::tanh(z[2]);
    const int16_t o = fixed::sigmoid(z[3]);
    c = fixed::cell_update(f, c, i, g);
    return fixed::hidden_output(o, c);
  }

 private:
  int64_t lanes_, latency_;
  int64_t free_ = 0;
};

}  // namespace tessel::lstm_sharp
