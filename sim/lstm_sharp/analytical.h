// Analytical twin of LSTM-Sharp: closed-form cycles per layer for each schedule.
#pragma once

#include <cstdint>

#include "sim/lstm_sharp/layer_plan.h"
#include "sim/lstm_sharp/lstm_sharp_params.h"

namespace tessel::lstm_sharp {

// Cycles to run one layer (one direction, `input` × `hidden`) over `seq_len` steps with
// DPU width `k`. Closed form: O(tiles) arithmetic, no row blocks are materialised, so the
// reconfiguration rule can try every width cheaply.
// sequential and inter_gate: exact (every step is the same barrier-to-barrier pattern, a
// flow shop of the tiles' DPU passes and their MFU). unfolded and sharp: steady-state
// formulas (docs/lstm_sharp.md) that the tests hold within 5% of the SystemC model.
uint64_t analytical_layer_cycles(const MachineParams& m, int64_t input, int64_t hidden, int64_t k,
                                 int64_t seq_len);
inline uint64_t analytical_layer_cycles(const MachineParams& m, const LayerPlan& plan,
                                        int64_t seq_len) {
  return analytical_layer_cycles(m, plan.input, plan.hidden, plan.dpu_width, seq_len);
}

}  // namespace tessel::lstm_sharp
