// Row-block partitioning, tile assignment, weight residency and the reconfiguration rule.
#include "sim/lstm_sharp/layer_plan.h"

#include <algorithm>
#include <cmath>

#include "sim/lstm_sharp/analytical.h"

namespace tessel::lstm_sharp {
namespace {

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

int64_t ceil_log2(int64_t v) {
  int64_t bits = 0;
  while ((int64_t{1} << bits) < v) ++bits;
  return bits;
}

}  // namespace

LayerPlan plan_layer_constants(const MachineParams& m, int64_t input, int64_t hidden, int64_t k) {
  LayerPlan p;
  p.input = input;
  p.hidden = hidden;
  p.dpu_width = k;
  p.tiles = m.tiles;
  p.dpus_per_tile = m.mac_budget / (m.tiles * k);
  p.gate_major = m.schedule == Schedule::kSequential;
  p.wx_passes = ceil_div(input, k);
  p.uh_passes = ceil_div(hidden, k);
  p.dpu_latency = ceil_log2(k) + 1;
  p.mfu_lanes = m.mfu_lanes;
  p.mfu_latency = m.mfu_latency;
  const int64_t d = p.dpus_per_tile;
  // One pass reads D·K int16 weights per tile; the banks deliver banks·bank_bytes a cycle.
  // With a batch the DPUs hold those weights for B cycles, one input slice per sequence,
  // while the next pass's weights load (docs/lstm_sharp.md, "Batch").
  p.batch = m.batch;
  p.pass_cycles = std::max<int64_t>(
      m.batch, ceil_div(d * k * 2, m.weight_sram_banks * m.weight_sram_bank_bytes));
  // Streamed blocks share the off-chip link equally among the tiles (with a memory the
  // tiles read the streamed weights through it instead: analytical.cpp, tile.cpp).
  const double per_tile_bw = m.offchip_bytes_per_cycle / static_cast<double>(m.tiles);
  p.streamed_pass_cycles = std::max<int64_t>(
      p.pass_cycles, static_cast<int64_t>(std::ceil(static_cast<double>(d * k * 2) / per_tile_bw)));
  return p;
}

LayerPlan plan_layer(const MachineParams& m, int64_t input, int64_t hidden, int64_t k) {
  LayerPlan p = plan_layer_constants(m, input, hidden, k);
  const int64_t d = p.dpus_per_tile;

  // Row order: interleaved (element e's gates i, f, g, o are rows 4e..4e+3) or gate-major
  // (sequential: gate g's rows are g·H .. g·H+H-1, blocks never straddle two gates).
  const int64_t capacity_rows_per_tile =
      static_cast<int64_t>(m.weight_sram_kib * 1024) / ((input + hidden) * 2);
  std::vector<int64_t> rows_on_tile(static_cast<size_t>(m.tiles), 0);
  p.tile_blocks.assign(static_cast<size_t>(m.tiles), {});
  auto add_block = [&](int64_t first, int64_t rows, int64_t gate, int64_t tile) {
    RowBlock b;
    b.first_row = first;
    b.rows = rows;
    b.gate = gate;
    b.tile = tile;
    b.index_in_tile = static_cast<int64_t>(p.tile_blocks[tile].size());
    rows_on_tile[tile] += rows;
    b.streamed = rows_on_tile[tile] > capacity_rows_per_tile;
    if (gate < 0) {
      b.first_element = first / 4;
      b.elements = rows / 4;
    } else if (gate == 3) {
      b.first_element = first - 3 * hidden;
      b.elements = rows;
    }
    p.tile_blocks[tile].push_back(static_cast<int64_t>(p.blocks.size()));
    p.blocks.push_back(b);
    const int64_t bytes = rows * (input + hidden) * 2;
    p.weight_bytes += bytes;
    if (b.streamed) p.streamed_bytes += bytes;
  };
  if (p.gate_major) {
    for (int64_t g = 0; g < 4; ++g)
      for (int64_t r = 0, i = 0; r < hidden; r += d, ++i)
        add_block(g * hidden + r, std::min(d, hidden - r), g, i % m.tiles);
  } else {
    for (int64_t r = 0, i = 0; r < 4 * hidden; r += d, ++i)
      add_block(r, std::min(d, 4 * hidden - r), -1, i % m.tiles);
  }
  return p;
}

}  // namespace tessel::lstm_sharp
