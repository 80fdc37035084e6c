// The N:M sparse tensor unit: loader -> metadata decoders -> PE array (with muxes) -> storer.
#pragma once

#include <systemc>

#include "sim/nxm/loader.h"
#include "sim/nxm/metadata_decoder.h"
#include "sim/nxm/pe_array.h"
#include "sim/nxm/storer.h"

namespace tessel::nxm {

SC_MODULE(NxmUnit) {
  // ops, y32, yf are null in timing-only mode.
  // `read_port` and `write_port` may be the same port (a memory) or two links.
  NxmUnit(sc_core::sc_module_name name, const NxmParams& params, const NxmWorkload& workload,
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

}  // namespace tessel::nxm
