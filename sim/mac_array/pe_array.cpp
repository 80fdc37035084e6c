// PE array timing (one K step per cycle, pipeline fill per tile) and arithmetic.
#include "sim/mac_array/pe_array.h"

#include <algorithm>

namespace tessel::mac_array {

PeArray::PeArray(sc_core::sc_module_name name, const MacArrayParams& params,
                 const sim::Clock& clock, sim::OffchipPort& read_port, const linalg::MatrixI8* a,
                 const linalg::MatrixI8* b, Counters& counters, TraceWriter* trace)
    : sc_module(name),
      params_(params),
      clock_(clock),
      read_port_(read_port),
      a_(a),
      b_(b),
      counters_(counters),
      trace_(trace) {
  SC_THREAD(run);
}

void PeArray::run() {
  int track = trace_ ? trace_->track("pe_array") : 0;
  std::vector<int32_t>& acc = acc_;
  acc.assign(static_cast<size_t>(params_.rows * params_.cols), 0);
  int64_t tiles_done = 0;
  for (;;) {
    Chunk ch = loaded.read();
    // The loader hands a chunk over once its last byte is requested; its data is usable
    // when the transfer completes (at once for a one-outstanding link).
    read_port_.wait_done(ch.ticket);
    double start = clock_.now_ns();
    // Each cycle every active PE(r, c) multiplies A[r][k] (broadcast along the row) by
    // B[k][c] (broadcast along the column) and adds into its accumulator.
    if (a_) {
      for (int64_t r = 0; r < ch.rows; ++r)
        for (int64_t c = 0; c < ch.cols; ++c) {
          int32_t sum = acc[r * ch.cols + c];
          for (int64_t k = ch.k0; k < ch.k0 + ch.kt; ++k)
            sum += int32_t{(*a_)(ch.row0 + r, k)} * int32_t{(*b_)(k, ch.col0 + c)};
          acc[r * ch.cols + c] = sum;
        }
    }
    uint64_t cycles = static_cast<uint64_t>(ch.kt) + (ch.last ? params_.pipeline_depth : 0);
    sc_core::wait(clock_.cycles(cycles));
    busy_cycles_ += cycles;
    uint64_t operand_bytes = static_cast<uint64_t>(ch.kt * (ch.rows + ch.cols));
    counters_.add("input_buffer", params_.sram_action + "_read_byte", operand_bytes);
    counters_.add("pe_array", "mac_int8", static_cast<uint64_t>(ch.rows * ch.cols * ch.kt));
    counters_.stat(
        "pe_array.idle_pe_cycles",
        static_cast<uint64_t>((params_.rows * params_.cols - ch.rows * ch.cols) * ch.kt));
    if (ch.last) {
      // Two output slots start free; later tiles wait for the storer to release one.
      if (tiles_done++ >= 2) free_outputs.read();
      OutputTile tile{ch, {}};
      if (a_) tile.values.assign(acc.begin(), acc.begin() + ch.rows * ch.cols);
      std::fill(acc.begin(), acc.end(), 0);
      results.write(tile);
    }
    if (trace_) trace_->span(track, ch.last ? "mac+drain" : "mac", start, clock_.now_ns() - start);
    free_buffers.write(1);
  }
}

}  // namespace tessel::mac_array
