// The dispatcher's plan for one layer: datapath shape, row blocks, tile assignment and the
// timing constants every block shares. Used by the SystemC model and its analytical twin.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/lstm_sharp/lstm_sharp_params.h"

namespace tessel::lstm_sharp {

// A row block: `rows` consecutive rows of the ordered [W | U] matrix, run by one tile.
struct RowBlock {
  int64_t first_row = 0;  // index in the schedule's row order
  int64_t rows = 0;
  int64_t gate = -1;  // gate-major order: the gate (0..3) of every row; -1 interleaved
  int64_t tile = 0;
  int64_t index_in_tile = 0;
  bool streamed = false;  // weights do not fit on chip and stream in every step
  // Elements of h whose last gate row is in this block: [first_element, +elements).
  int64_t first_element = 0;
  int64_t elements = 0;
};

struct LayerPlan {
  int64_t input = 0;          // X: columns of W
  int64_t hidden = 0;         // H: columns of U, elements of h
  int64_t dpu_width = 0;      // K
  int64_t dpus_per_tile = 0;  // D: rows a tile works on at once
  int64_t tiles = 0;
  bool gate_major = false;  // sequential schedule: rows grouped by gate
  int64_t wx_passes = 0;    // ceil(X / K): cycles of W·x per block (at one pass per cycle)
  int64_t uh_passes = 0;    // ceil(H / K)
  // Cycles per pass when weights are on chip: the SRAM's time for one pass's weights, and at
  // least one cycle per sequence of the batch (the weights held while the inputs go by).
  int64_t pass_cycles = 1;
  int64_t streamed_pass_cycles = 1;  // cycles per pass for streamed blocks (off-chip bandwidth)
  int64_t batch = 1;                 // sequences each pass serves (MachineParams::batch)
  int64_t dpu_latency = 0;           // adder-tree depth + accumulate: ceil(log2 K) + 1
  int64_t mfu_lanes = 0, mfu_latency = 0;
  std::vector<RowBlock> blocks;                   // in dispatch order
  std::vector<std::vector<int64_t>> tile_blocks;  // per tile, block indices in order
  std::vector<int64_t> element_block;             // element e → block that completes it
  int64_t weight_bytes = 0, streamed_bytes = 0;

  int64_t pass_of(const RowBlock& b) const {
    return b.streamed ? streamed_pass_cycles : pass_cycles;
  }
  // Segment j of U·h reads h elements [j·K, min(H, (j+1)·K)).
  int64_t segment_last_element(int64_t j) const {
    return std::min(hidden, (j + 1) * dpu_width) - 1;
  }
};

// The timing constants of a layer for DPU width K (shape, passes, latencies), no blocks.
LayerPlan plan_layer_constants(const MachineParams& m, int64_t input, int64_t hidden, int64_t k);
// The plan of one layer for a given DPU width K.
LayerPlan plan_layer(const MachineParams& m, int64_t input, int64_t hidden, int64_t k);

// One layer and direction of the workload as the machine runs it.
struct PassPlan {
  LayerPlan plan;
  int64_t layer = 0;
  int64_t direction = 0;  // 1: the reverse direction of a bidirectional layer
};

}  // namespace tessel::lstm_sharp
