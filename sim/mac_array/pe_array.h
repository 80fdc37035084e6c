// PE array: rows × cols pipelined int8 MACs with int32 accumulators (output stationary).
#pragma once

#include <systemc>

#include <cstdint>
#include <vector>

#include "models/linalg/gemm_reference.h"
#include "runtime/core/counters.h"
#include "runtime/core/trace_writer.h"
#include "sim/core/offchip_port.h"
#include "sim/core/sc_runtime.h"
#include "sim/mac_array/mac_array_params.h"

namespace tessel::mac_array {

// A finished output tile on its way to the storer.
struct OutputTile {
  Chunk chunk;
  std::vector<int32_t> values;  // rows × cols, row-major
};

inline std::ostream& operator<<(std::ostream& os, const Chunk& c) {
  return os << "chunk " << c.tile;
}
inline std::ostream& operator<<(std::ostream& os, const OutputTile& t) {
  return os << "tile " << t.chunk.tile;
}

SC_MODULE(PeArray) {
  SC_HAS_PROCESS(PeArray);
  sc_core::sc_fifo_in<Chunk> loaded;
  sc_core::sc_fifo_out<int> free_buffers;
  sc_core::sc_fifo_in<int> free_outputs;  // a token per free output-buffer slot
  sc_core::sc_fifo_out<OutputTile> results;

  // `a`, `b` are null in timing-only mode. `read_port` is the loader's: a chunk is used
  // once its transfer is complete.
  PeArray(sc_core::sc_module_name name, const MacArrayParams& params, const sim::Clock& clock,
          sim::OffchipPort& read_port, const linalg::MatrixI8* a, const linalg::MatrixI8* b,
          Counters& counters, TraceWriter* trace);

  uint64_t busy_cycles() const {
    return busy_cycles_;
  }

 private:
  void run();
  const MacArrayParams& params_;
  const sim::Clock& clock_;
  sim::OffchipPort& read_port_;
  const linalg::MatrixI8* a_;
  const linalg::MatrixI8* b_;
  Counters& counters_;
  TraceWriter* trace_;
  uint64_t busy_cycles_ = 0;
  // Output-stationary accumulators. A member, not a local of run(): the thread is still
  // blocked on its input when the simulation ends, so its locals are never destroyed.
  std::vector<int32_t> acc_;
};

}  // namespace tessel::mac_array
