// Loader timing and activity.
#include "sim/mac_array/loader.h"

namespace tessel::mac_array {

Loader::Loader(sc_core::sc_module_name name, const std::vector<Chunk>& chunks,
               const MacArrayParams& params, sim::OffchipLink& link, const sim::Clock& clock,
               Counters& counters, TraceWriter* trace)
    : sc_module(name),
      chunks_(chunks),
      params_(params),
      link_(link),
      clock_(clock),
      counters_(counters),
      trace_(trace) {
  SC_THREAD(run);
}

void Loader::run() {
  int track = trace_ ? trace_->track("loader") : 0;
  // Two buffer halves start free; later chunks wait for the array to release one.
  for (size_t i = 0; i < chunks_.size(); ++i) {
    const Chunk& ch = chunks_[i];
    if (i >= 2) free_buffers.read();
    double start = clock_.now_ns();
    link_.transfer(ch.load_bytes());
    counters_.add("offchip", "dram_read_byte", ch.load_bytes());
    counters_.add("input_buffer", params_.sram_action + "_write_byte", ch.load_bytes());
    if (trace_) trace_->span(track, "load", start, clock_.now_ns() - start);
    loaded.write(ch);
  }
}

}  // namespace tessel::mac_array
