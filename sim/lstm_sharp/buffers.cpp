// Tile activity → energy-bearing counters.
#include "sim/lstm_sharp/buffers.h"

namespace tessel::lstm_sharp {

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
}

}  // namespace tessel::lstm_sharp
