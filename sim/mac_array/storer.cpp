// Storer timing and activity.
#include "sim/mac_array/storer.h"

namespace tessel::mac_array {

Storer::Storer(sc_core::sc_module_name name, int64_t tiles, const GemmWorkload& workload,
               const Layout& layout, sim::OffchipPort& port, const sim::Clock& clock,
               linalg::MatrixI32* c, Counters& counters, TraceWriter* trace)
    : sc_module(name),
      tiles_(tiles),
      workload_(workload),
      layout_(layout),
      port_(port),
      clock_(clock),
      c_(c),
      counters_(counters),
      trace_(trace) {
  SC_THREAD(run);
}

void Storer::run() {
  int track = trace_ ? trace_->track("storer") : 0;
  std::vector<sim::OffchipPort::Ticket> writes;
  for (int64_t t = 0; t < tiles_; ++t) {
    OutputTile tile = results.read();
    const Chunk& ch = tile.chunk;
    double start = clock_.now_ns();
    // The output slot is free once the port has taken the whole tile (a write request
    // carries its data); a one-outstanding link returns only when the write is complete.
    const AddressRange a = store_range(workload_, layout_, ch);
    writes.push_back(port_.write(a.address, a.bytes));
    if (c_)
      for (int64_t r = 0; r < ch.rows; ++r)
        for (int64_t c = 0; c < ch.cols; ++c)
          (*c_)(ch.row0 + r, ch.col0 + c) = tile.values[r * ch.cols + c];
    if (trace_) trace_->span(track, "store", start, clock_.now_ns() - start);
    free_outputs.write(1);
  }
  // The run ends when every write is complete (a memory may finish an earlier one later).
  for (sim::OffchipPort::Ticket w : writes) port_.wait_done(w);
  finish_cycle_ = clock_.now_cycles();
}

}  // namespace tessel::mac_array
