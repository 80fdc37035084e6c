// Storer timing and activity.
#include "sim/nm_unit/storer.h"

namespace tessel::nm_unit {

Storer::Storer(sc_core::sc_module_name name, int64_t tiles, const NmUnitParams& params,
               const NmUnitWorkload& workload, const Layout& layout, sim::OffchipPort& port,
               const sim::Clock& clock, sparse::MatrixI32* y32, sparse::MatrixF* yf,
               Counters& counters, TraceWriter* trace)
    : sc_module(name),
      tiles_(tiles),
      params_(params),
      workload_(workload),
      layout_(layout),
      port_(port),
      clock_(clock),
      y32_(y32),
      yf_(yf),
      counters_(counters),
      trace_(trace) {
  SC_THREAD(run);
}

void Storer::run() {
  int track = trace_ ? trace_->track("storer") : 0;
  std::vector<sim::OffchipPort::Ticket> writes;
  for (int64_t t = 0; t < tiles_; ++t) {
    OutputTile tile = results.read();
    const Step& s = tile.step;
    double start = clock_.now_ns();
    const uint64_t bytes = static_cast<uint64_t>(store_bytes(s));
    counters_.add("out_buffer", params_.out_sram + "_read_byte", bytes);
    const AddressRange a = store_range(workload_, layout_, s);
    writes.push_back(port_.write(a.address, a.bytes));
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t c = 0; c < s.toks; ++c) {
        const size_t i = static_cast<size_t>(r * s.toks + c);
        if (y32_ && !tile.i32.empty()) (*y32_)(s.row0 + r, s.tok0 + c) = tile.i32[i];
        if (yf_ && !tile.f32.empty()) (*yf_)(s.row0 + r, s.tok0 + c) = tile.f32[i];
      }
    if (trace_) trace_->span(track, "store", start, clock_.now_ns() - start);
    free_outputs.write(1);
  }
  // The run ends when every write is complete (a memory may finish an earlier one later).
  for (sim::OffchipPort::Ticket t : writes) port_.wait_done(t);
  finish_cycle_ = clock_.now_cycles();
}

}  // namespace tessel::nm_unit
