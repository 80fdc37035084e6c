// Storer: writes finished output tiles (int32) back to off-chip memory.
#pragma once

#include <systemc>

#include "runtime/core/counters.h"
#include "runtime/core/trace_writer.h"
#include "sim/core/offchip_port.h"
#include "sim/mac_array/pe_array.h"

namespace tessel::mac_array {

SC_MODULE(Storer) {
  SC_HAS_PROCESS(Storer);
  sc_core::sc_fifo_in<OutputTile> results;
  sc_core::sc_fifo_out<int> free_outputs;

  // `c` (m × n) receives the values in functional mode; null in timing-only mode.
  Storer(sc_core::sc_module_name name, int64_t tiles, const GemmWorkload& workload,
         const Layout& layout, sim::OffchipPort& port, const sim::Clock& clock,
         linalg::MatrixI32* c, Counters& counters, TraceWriter* trace);

  // The cycle at which the last write completed (0 until then).
  uint64_t finish_cycle() const {
    return finish_cycle_;
  }

 private:
  void run();
  int64_t tiles_;
  const GemmWorkload& workload_;
  const Layout& layout_;
  sim::OffchipPort& port_;
  const sim::Clock& clock_;
  linalg::MatrixI32* c_;
  Counters& counters_;
  TraceWriter* trace_;
  uint64_t finish_cycle_ = 0;
};

}  // namespace tessel::mac_array
