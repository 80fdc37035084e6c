// Loader: fetches compressed weights + metadata and activation chunks into the double-buffered
// SRAMs.
#pragma once

#include <systemc>

#include <vector>

#include "runtime/core/counters.h"
#include "runtime/core/trace_writer.h"
#include "sim/core/offchip_port.h"
#include "sim/nxm/messages.h"

namespace tessel::nxm {

SC_MODULE(Loader) {
  SC_HAS_PROCESS(Loader);
  sc_core::sc_fifo_in<int> free_buffers;  // a token per released buffer half
  sc_core::sc_fifo_out<Step> loaded;      // steps whose operands are on chip

  Loader(sc_core::sc_module_name name, const std::vector<Step>& steps, const NxmParams& params,
         const NxmWorkload& workload, const Mapping& map, const Layout& layout,
         sim::OffchipPort& port, const sim::Clock& clock, Counters& counters, TraceWriter* trace);

 private:
  void run();
  const std::vector<Step>& steps_;
  const NxmParams& params_;
  const NxmWorkload& workload_;
  const Mapping& map_;
  const Layout& layout_;
  sim::OffchipPort& port_;
  const sim::Clock& clock_;
  Counters& counters_;
  TraceWriter* trace_;
};

}  // namespace tessel::nxm
