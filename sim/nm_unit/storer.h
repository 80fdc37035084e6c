// Storer: drains finished output tiles (4-byte int32 / fp32) from the output buffer to off-chip
// memory.
#pragma once

#include <systemc>

#include "runtime/core/counters.h"
#include "runtime/core/trace_writer.h"
#include "sim/core/offchip_port.h"
#include "sim/nm_unit/messages.h"

namespace tessel::nm_unit {

SC_MODULE(Storer) {
  SC_HAS_PROCESS(Storer);
  sc_core::sc_fifo_in<OutputTile> results;
  sc_core::sc_fifo_out<int> free_outputs;

  // y32 / yf (m x n) receive values in functional mode; null otherwise.
  Storer(sc_core::sc_module_name name, int64_t tiles, const NmUnitParams& params,
         const NmUnitWorkload& workload, const Layout& layout, sim::OffchipPort& port,
         const sim::Clock& clock, sparse::MatrixI32* y32, sparse::MatrixF* yf, Counters& counters,
         TraceWriter* trace);

  uint64_t finish_cycle() const {
    return finish_cycle_;
  }

 private:
  void run();
  int64_t tiles_;
  const NmUnitParams& params_;
  const NmUnitWorkload& workload_;
  const Layout& layout_;
  sim::OffchipPort& port_;
  const sim::Clock& clock_;
  sparse::MatrixI32* y32_;
  sparse::MatrixF* yf_;
  Counters& counters_;
  TraceWriter* trace_;
  uint64_t finish_cycle_ = 0;
};

}  // namespace tessel::nm_unit
