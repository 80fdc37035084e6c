// Storer timing and activity.
#include "sim/nxm/storer.h"

namespace tessel::nxm {

Storer::Storer(sc_core::sc_module_name name, int64_t tiles, const NxmParams& params,
               StreamLink& link, const sim::Clock& clock, sparse::MatrixI32* y32,
               sparse::MatrixF* yf, Counters& counters, TraceWriter* trace)
    : sc_module(name),
      tiles_(tiles),
      params_(params),
      link_(link),
      clock_(clock),
      y32_(y32),
      yf_(yf),
      counters_(counters),
      trace_(trace) {
  SC_THREAD(run);
}

void Storer::run() {
  int track = trace_ ? trace_->track("storer") : 0;
  for (int64_t t = 0; t < tiles_; ++t) {
    OutputTile tile = results.read();
    const Step& s = tile.step;
    double start = clock_.now_ns();
    const uint64_t bytes = static_cast<uint64_t>(store_bytes(s));
    counters_.add("out_buffer", params_.out_sram + "_read_byte", bytes);
    link_.transfer(bytes);
    counters_.add("offchip", "dram_write_byte", bytes);
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t c = 0; c < s.toks; ++c) {
        const size_t i = static_cast<size_t>(r * s.toks + c);
        if (y32_ && !tile.i32.empty()) (*y32_)(s.row0 + r, s.tok0 + c) = tile.i32[i];
        if (yf_ && !tile.f32.empty()) (*yf_)(s.row0 + r, s.tok0 + c) = tile.f32[i];
      }
    if (trace_) trace_->span(track, "store", start, clock_.now_ns() - start);
    free_outputs.write(1);
  }
  // The last write is complete once its latency has passed.
  sc_core::wait(clock_.cycles(link_.latency_cycles()));
  finish_cycle_ = clock_.now_cycles();
}

}  // namespace tessel::nxm
