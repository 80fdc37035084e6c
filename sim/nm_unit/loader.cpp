// Loader timing and activity.
#include "sim/nm_unit/loader.h"

namespace tessel::nm_unit {

Loader::Loader(sc_core::sc_module_name name, const std::vector<Step>& steps,
               const NmUnitParams& params, const NmUnitWorkload& workload, const Mapping& map,
               const Layout& layout, sim::OffchipPort& port, const sim::Clock& clock,
               Counters& counters, TraceWriter* trace)
    : sc_module(name),
      steps_(steps),
      params_(params),
      workload_(workload),
      map_(map),
      layout_(layout),
      port_(port),
      clock_(clock),
      counters_(counters),
      trace_(trace) {
  SC_THREAD(run);
}

void Loader::run() {
  int track = trace_ ? trace_->track("loader") : 0;
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& s = steps_[i];
    // All slots start free; later steps wait for the array to release one.
    if (i >= static_cast<size_t>(params_.buffer_slots)) free_buffers.read();
    double start = clock_.now_ns();
    // One gather transfer per step: values, metadata and activations as laid out off chip.
    std::vector<sim::OffchipPort::Range> ranges;
    for (const AddressRange& a : load_ranges(params_, workload_, map_, layout_, s))
      ranges.push_back({a.address, a.bytes});
    Step out = s;
    out.ticket = port_.read(ranges);
    if (s.load_weights)
      counters_.add(
          "weight_buffer", params_.weight_sram + "_write_byte",
          static_cast<uint64_t>(weight_value_bytes(params_, map_, s) + metadata_bytes(map_, s)));
    if (s.load_acts)
      counters_.add("act_buffer", params_.act_sram + "_write_byte",
                    static_cast<uint64_t>(act_bytes(params_, s)));
    if (trace_) trace_->span(track, "load", start, clock_.now_ns() - start);
    loaded.write(out);
  }
}

}  // namespace tessel::nm_unit
