// Tile activity → energy-bearing counters.
#include "sim/lstm_sharp/buffers.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace tessel::lstm_sharp {

BufferNeeds buffer_needs(const MachineParams& m, const std::vector<PassPlan>& passes,
                         int64_t seq_len) {
  const bool ahead = m.schedule == Schedule::kUnfolded || m.schedule == Schedule::kSharp;
  const int64_t window = ahead ? std::min(m.runahead_steps + 1, seq_len) : 1;
  BufferNeeds n;
  for (const auto& pp : passes) {
    const LayerPlan& p = pp.plan;
    n.act_bytes = std::max(n.act_bytes, m.batch * (window * p.input + 2 * p.hidden) * 2);
    if (!ahead) continue;
    int64_t rows = 0;
    for (const auto& blocks : p.tile_blocks) {
      int64_t tile_rows = 0;
      for (int64_t b : blocks) tile_rows += p.blocks[static_cast<size_t>(b)].rows;
      rows = std::max(rows, tile_rows);
    }
    n.psum_bytes =
        std::max(n.psum_bytes, m.batch * window * rows * static_cast<int64_t>(kPsumBytes));
  }
  return n;
}

namespace {

double size_one(const Config& hw, const char* key, double configured_kib, int64_t need_bytes,
                double macro_kib, const char* what) {
  const double need_kib = static_cast<double>(need_bytes) / 1024;
  if (configured_kib <= 0) return std::max(1.0, std::ceil(need_kib / macro_kib)) * macro_kib;
  if (configured_kib < need_kib) {
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "%g KiB per tile cannot hold %s: this workload needs %lld bytes (%.4g KiB)",
                  configured_kib, what, static_cast<long long>(need_bytes), need_kib);
    hw.fail(key, buf);
  }
  return configured_kib;
}

}  // namespace

void size_buffers(MachineParams& m, const std::vector<PassPlan>& passes, int64_t seq_len,
                  const Config& hw) {
  const BufferNeeds n = buffer_needs(m, passes, seq_len);
  const SramMacros macros;
  m.act_buffer_kib = size_one(hw, "act_buffer_kib", m.act_buffer_kib, n.act_bytes, macros.act,
                              "x of the steps W·x may run ahead plus h(t-1) and h(t)");
  m.psum_buffer_kib = size_one(hw, "psum_buffer_kib", m.psum_buffer_kib, n.psum_bytes, macros.psum,
                               "the W·x sums the run-ahead parks");
}

void add_tile_counters(const std::string& tile, const TileActivity& a, const SramMacros& macros,
                       Counters& out, bool memory) {
  // Energy is reported per kind of block, summed over the tiles; the per-tile activity
  // stays visible in the statistics below.
  // A MAC is the multiply and its adder-tree add (32-bit products); each pass then adds
  // the tree's sum into the row's 48-bit accumulator, charged at that width.
  out.add("dpus", "mac_int16", a.macs);
  out.add("dpus", "acc_int48", a.accumulations);
  out.add("weight_sram", sram_read_action(macros.weight), a.weight_sram_bytes);
  if (memory) {
    out.add("stream_buffer", sram_write_action(macros.stream), a.streamed_weight_bytes);
    out.add("stream_buffer", sram_read_action(macros.stream), a.streamed_weight_bytes);
  } else {
    out.add("offchip", "dram_read_byte", a.streamed_weight_bytes);
  }
  out.add("act_buffer", sram_read_action(macros.act), a.act_buffer_bytes);
  out.add("psum_buffer", sram_write_action(macros.psum), a.psum_bytes / 2);
  out.add("psum_buffer", sram_read_action(macros.psum), a.psum_bytes / 2);
  // Per element: sigmoid(i), sigmoid(f), tanh(g), sigmoid(o), tanh(c); c and h updates.
  out.add("mfu", "mfu_activation", 5 * a.mfu_elements);
  out.add("mfu", "mfu_cell_update", a.mfu_elements);
  out.add("mfu", "mfu_hidden_output", a.mfu_elements);
  out.stat(tile + ".macs", a.macs);
  out.stat(tile + ".busy_cycles", a.busy_cycles);
  out.stat(tile + ".stall_cycles", a.stall_cycles);
  out.stat(tile + ".runahead_chunks", a.runahead_chunks);
  if (memory) out.stat(tile + ".weight_wait_cycles", a.weight_wait_cycles);
  // The twin does not track occupancy; the cycle-level model reports the peak it saw.
  if (a.psum_peak_bytes > 0) out.stat(tile + ".psum_peak_bytes", a.psum_peak_bytes);
}

}  // namespace tessel::lstm_sharp
