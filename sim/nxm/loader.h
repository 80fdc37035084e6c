// Loader: fetches compressed weights + metadata and activation chunks into the double-buffered
// SRAMs.
#pragma once

#include <systemc>

#include <vector>

#include "runtime/core/counters.h"
#include "runtime/core/trace_writer.h"
#include "sim/nxm/messages.h"
#include "sim/nxm/stream_link.h"

namespace tessel::nxm {

SC_MODULE(Loader) {
  SC_HAS_PROCESS(Loader);
  sc_core::sc_fifo_in<int> free_buffers;  // a token per released buffer half
  sc_core::sc_fifo_out<Step> loaded;      // steps whose operands are on chip

  Loader(sc_core::sc_module_name name, const std::vector<Step>& steps, const NxmParams& params,
         const Mapping& map, StreamLink& link, const sim::Clock& clock, Counters& counters,
         TraceWriter* trace);

 private:
  void run();
  const std::vector<Step>& steps_;
  const NxmParams& params_;
  const Mapping& map_;
  StreamLink& link_;
  const sim::Clock& clock_;
  Counters& counters_;
  TraceWriter* trace_;
};

}  // namespace tessel::nxm
