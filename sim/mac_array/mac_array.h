// The demo MAC-array GEMM accelerator: loader → PE array → storer over an off-chip port.
#pragma once

#include <systemc>

#include <memory>
#include <vector>

#include "sim/mac_array/loader.h"
#include "sim/mac_array/pe_array.h"
#include "sim/mac_array/storer.h"

namespace tessel::mac_array {

SC_MODULE(MacArray) {
  // a, b, c are null in timing-only mode. `read_port` and `write_port` may be the same port
  // (a memory) or two links (sim/system/offchip.h).
  MacArray(sc_core::sc_module_name name, const MacArrayParams& params, const GemmWorkload& workload,
           const Layout& layout, const std::vector<Chunk>& chunks, int64_t tiles,
           const sim::Clock& clock, sim::OffchipPort& read_port, sim::OffchipPort& write_port,
           const linalg::MatrixI8* a, const linalg::MatrixI8* b, linalg::MatrixI32* c,
           Counters& counters, TraceWriter* trace);

  uint64_t finish_cycle() const {
    return storer.finish_cycle();
  }
  uint64_t busy_cycles() const {
    return pe_array.busy_cycles();
  }

 private:
  sc_core::sc_fifo<Chunk> loaded_;
  sc_core::sc_fifo<int> free_buffers_;
  sc_core::sc_fifo<OutputTile> results_;
  sc_core::sc_fifo<int> free_outputs_;

 public:
  Loader loader;
  PeArray pe_array;
  Storer storer;
};

}  // namespace tessel::mac_array
