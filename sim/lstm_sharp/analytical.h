// Analytical twin of LSTM-Sharp: closed-form cycles per layer for each schedule.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/lstm_sharp/layer_plan.h"
#include "sim/lstm_sharp/lstm_sharp_params.h"

namespace tessel::lstm_sharp {

// Cycles to run one layer (one direction) over `seq_len` steps.
// sequential and inter_gate: exact (every step is the same barrier-to-barrier pattern, a
// flow shop of the tiles' DPU passes and their MFU). unfolded and sharp: steady-state
// formulas (docs/lstm_sharp.md) that the tests hold within 5% of the SystemC model.
uint64_t analytical_layer_cycles(const MachineParams& m, const LayerPlan& plan, int64_t seq_len);

// The critical-path pieces the formulas are made of, exposed for the docs and tests.
struct TileTerms {
  int64_t uh = 0;   // U·h cycles of the tile per step
  int64_t wx = 0;   // W·x cycles of the tile per step
  int64_t gap = 0;  // its last U·h pass → its last h element ready (DPU drain, MFU backlog)
  int64_t blocks = 0;
  int64_t last_pass = 1;  // cycles of one pass of its last block
};
std::vector<TileTerms> tile_terms(const LayerPlan& plan);
// One barrier-to-barrier step (sequential / inter_gate).
int64_t barrier_step(const LayerPlan& plan);

}  // namespace tessel::lstm_sharp
