// The demo MAC-array GEMM accelerator: loader → PE array → storer over two off-chip links.
#pragma once

#include <systemc>

#include <memory>
#include <vector>

#include "sim/mac_array/loader.h"
#include "sim/mac_array/pe_array.h"
#include "sim/mac_array/storer.h"

namespace tessel::mac_array {

SC_MODULE(MacArray) {
  // a, b, c are null in timing-only mode.
  MacArray(sc_core::sc_module_name name, const MacArrayParams& params,
           const std::vector<Chunk>& chunks, int64_t tiles, const linalg::MatrixI8* a,
           const linalg::MatrixI8* b, linalg::MatrixI32* c, Counters& counters, TraceWriter* trace);

  uint64_t finish_cycle() const {
    return storer.finish_cycle();
  }
  uint64_t busy_cycles() const {
    return pe_array.busy_cycles();
  }

 private:
  sim::Clock clock_;
  sim::OffchipLink read_link_;
  sim::OffchipLink write_link_;
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
