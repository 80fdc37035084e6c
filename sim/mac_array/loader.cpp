// Loader timing and activity.
#include "sim/mac_array/loader.h"

namespace tessel::mac_array {

Loader::Loader(sc_core::sc_module_name name, const std::vector<Chunk>& chunks,
               const MacArrayParams& params, const GemmWorkload& workload, const Layout& layout,
               sim::OffchipPort& port, const sim::Clock& clock, Counters& counters,
               TraceWriter* trace)
    : sc_module(name),
      chunks_(chunks),
      params_(params),
      workload_(workload),
      layout_(layout),
      port_(port),
      clock_(clock),
      counters_(counters),
      trace_(trace) {
  SC_THREAD(run);
}

void Loader::run() {
  int track = trace_ ? trace_->track("loader") : 0;
  // Two buffer halves start free; later chunks wait for the array to release one.
  for (size_t i = 0; i < chunks_.size(); ++i) {
    if (i >= 2) free_buffers.read();
    double start = clock_.now_ns();
    // One gather transfer per chunk (its A part and its B part), issued whole: the port
    // keeps up to its outstanding cap of requests in flight, and the next chunk may be
    // issued into the other buffer half before this one completes. A one-outstanding link
    // returns only when the transfer is complete, as the original DMA engine did.
    std::vector<sim::OffchipPort::Range> ranges;
    for (const AddressRange& r : load_ranges(workload_, layout_, chunks_[i]))
      ranges.push_back({r.address, r.bytes});
    Chunk ch = chunks_[i];
    ch.ticket = port_.read(ranges);
    counters_.add("input_buffer", params_.sram_action + "_write_byte", ch.load_bytes());
    if (trace_) trace_->span(track, "load", start, clock_.now_ns() - start);
    loaded.write(ch);
  }
}

}  // namespace tessel::mac_array
