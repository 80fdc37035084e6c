// The N:M sparse tensor unit: loader -> metadata decoders -> PE array (with muxes) -> storer.
#pragma once

#include <systemc>

#include "sim/nm_unit/loader.h"
#include "sim/nm_unit/metadata_decoder.h"
#include "sim/nm_unit/pe_array.h"
#include "sim/nm_unit/storer.h"

namespace tessel::nm_unit {

SC_MODULE(NmUnit) {
  // ops, y32, yf are null in timing-only mode.
  // `read_port` and `write_port` may be the same port (a memory) or two links.
  NmUnit(sc_core::sc_module_name name, const NmUnitParams& params, const NmUnitWorkload& workload,
         const Mapping& map, const Layout& layout, const std::vector<Step>& steps, int64_t tiles,
         sim::OffchipPort& read_port, sim::OffchipPort& write_port, const Operands* ops,
         sparse::MatrixI32* y32, sparse::MatrixF* yf, Counters& counters, TraceWriter* trace);

  uint64_t finish_cycle() const {
    return storer.finish_cycle();
  }
  uint64_t busy_cycles() const {
    return pe_array.busy_cycles();
  }

 private:
  sim::Clock clock_;
  sc_core::sc_fifo<Step> loaded_;
  sc_core::sc_fifo<DecodedStep> decoded_;
  sc_core::sc_fifo<int> free_buffers_;
  sc_core::sc_fifo<OutputTile> results_;
  sc_core::sc_fifo<int> free_outputs_;

 public:
  Loader loader;
  MetadataDecoder decoder;
  PeArray pe_array;
  Storer storer;
};

}  // namespace tessel::nm_unit
