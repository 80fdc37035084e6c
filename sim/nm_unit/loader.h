// Loader: fetches compressed weights + metadata and activation chunks into the double-buffered
// SRAMs.
#pragma once

#include <systemc>

#include <vector>

#include "runtime/core/counters.h"
#include "runtime/core/trace_writer.h"
#include "sim/core/offchip_port.h"
#include "sim/nm_unit/messages.h"

namespace tessel::nm_unit {

SC_MODULE(Loader) {
  SC_HAS_PROCESS(Loader);
  sc_core::sc_fifo_in<int> free_buffers;  // a token per released buffer half
  sc_core::sc_fifo_out<Step> loaded;      // steps whose operands are on chip

  Loader(sc_core::sc_module_name name, const std::vector<Step>& steps, const NmUnitParams& params,
         const NmUnitWorkload& workload, const Mapping& map, const Layout& layout,
         sim::OffchipPort& port, const sim::Clock& clock, Counters& counters, TraceWriter* trace);

 private:
  void run();
  const std::vector<Step>& steps_;
  const NmUnitParams& params_;
  const NmUnitWorkload& workload_;
  const Mapping& map_;
  const Layout& layout_;
  sim::OffchipPort& port_;
  const sim::Clock& clock_;
  Counters& counters_;
  TraceWriter* trace_;
};

}  // namespace tessel::nm_unit
