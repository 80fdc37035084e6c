// Metadata decoders: turn each stored weight's log2(M)-bit index into its activation mux select.
#pragma once

#include <systemc>

#include "runtime/core/counters.h"
#include "runtime/core/trace_writer.h"
#include "sim/core/offchip_port.h"
#include "sim/core/sc_runtime.h"
#include "sim/nm_unit/messages.h"
#include "sim/nm_unit/nm_unit_operands.h"

namespace tessel::nm_unit {

// One decoder per PE row, pipelined in front of the array: it reads the row's packed index
// bits from the weight buffer and drives the select lines of that row's lane multiplexers
// (shared by all PEs of the row: every column applies the same weights to its own token).
// Costs `decode_latency` cycles per step in sparse mode; bypassed in dense mode.
SC_MODULE(MetadataDecoder) {
  SC_HAS_PROCESS(MetadataDecoder);
  sc_core::sc_fifo_in<Step> loaded;
  sc_core::sc_fifo_out<DecodedStep> decoded;

  // `ops` is null in timing-only mode.
  MetadataDecoder(sc_core::sc_module_name name, const NmUnitParams& params, const Mapping& map,
                  sim::OffchipPort& port, const sim::Clock& clock, const Operands* ops,
                  Counters& counters, TraceWriter* trace);

 private:
  void run();
  std::shared_ptr<const std::vector<int32_t>> decode(const Step& s) const;
  const NmUnitParams& params_;
  const Mapping& map_;
  sim::OffchipPort& port_;  // the loader's: a step's data is usable once its transfer is done
  const sim::Clock& clock_;
  const Operands* ops_;
  Counters& counters_;
  TraceWriter* trace_;
};

}  // namespace tessel::nm_unit
