// Storer timing and activity.
#include "sim/mac_array/storer.h"

namespace tessel::mac_array {

Storer::Storer(sc_core::sc_module_name name, int64_t tiles, sim::OffchipLink& link,
               const sim::Clock& clock, linalg::MatrixI32* c, Counters& counters,
               TraceWriter* trace)
    : sc_module(name),
      tiles_(tiles),
      link_(link),
      clock_(clock),
      c_(c),
      counters_(counters),
      trace_(trace) {
  SC_THREAD(run);
}

void Storer::run() {
  int track = trace_ ? trace_->track("storer") : 0;
  for (int64_t t = 0; t < tiles_; ++t) {
    OutputTile tile = results.read();
    const Chunk& ch = tile.chunk;
    double start = clock_.now_ns();
    link_.transfer(ch.store_bytes());
    counters_.add("offchip", "dram_write_byte", ch.store_bytes());
    if (c_)
      for (int64_t r = 0; r < ch.rows; ++r)
        for (int64_t c = 0; c < ch.cols; ++c)
          (*c_)(ch.row0 + r, ch.col0 + c) = tile.values[r * ch.cols + c];
    if (trace_) trace_->span(track, "store", start, clock_.now_ns() - start);
    free_outputs.write(1);
  }
  finish_cycle_ = clock_.now_cycles();
}

}  // namespace tessel::mac_array
