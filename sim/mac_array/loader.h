// Loader: fetches A and B chunks from off-chip memory into the double-buffered input SRAM.
#pragma once

#include <systemc>

#include <vector>

#include "runtime/core/counters.h"
#include "runtime/core/trace_writer.h"
#include "sim/core/offchip_port.h"
#include "sim/mac_array/mac_array_params.h"

namespace tessel::mac_array {

SC_MODULE(Loader) {
  SC_HAS_PROCESS(Loader);
  sc_core::sc_fifo_in<int> free_buffers;  // a token per free input-buffer half
  sc_core::sc_fifo_out<Chunk> loaded;     // chunks whose transfer is issued (Chunk::ticket)

  Loader(sc_core::sc_module_name name, const std::vector<Chunk>& chunks,
         const MacArrayParams& params, const GemmWorkload& workload, const Layout& layout,
         sim::OffchipPort& port, const sim::Clock& clock, Counters& counters, TraceWriter* trace);

 private:
  void run();
  const std::vector<Chunk>& chunks_;
  const MacArrayParams& params_;
  const GemmWorkload& workload_;
  const Layout& layout_;
  sim::OffchipPort& port_;
  const sim::Clock& clock_;
  Counters& counters_;
  TraceWriter* trace_;
};

}  // namespace tessel::mac_array
