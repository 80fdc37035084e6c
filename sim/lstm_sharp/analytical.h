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
// With a memory (m.memory_bytes_per_cycle > 0), `io_bytes_per_step` are the other bytes a
// step moves on the same memory while the layer streams its weights (the network's input x
// for layer 0, its output h for the last layer), and `run_start` says the layer is the run's
// first, whose compute waits for the stream engines' prefill (docs/lstm_sharp.md, "Off-chip
// memory"). The reconfiguration rule passes neither: they do not depend on the width.
uint64_t analytical_layer_cycles(const MachineParams& m, int64_t input, int64_t hidden, int64_t k,
                                 int64_t seq_len, int64_t io_bytes_per_step = 0,
                                 bool run_start = false);
inline uint64_t analytical_layer_cycles(const MachineParams& m, const LayerPlan& plan,
                                        int64_t seq_len, int64_t io_bytes_per_step = 0,
                                        bool run_start = false) {
  return analytical_layer_cycles(m, plan.input, plan.hidden, plan.dpu_width, seq_len,
                                 io_bytes_per_step, run_start);
}

}  // namespace tessel::lstm_sharp
