// PE array timing (k_per_cycle dense K positions per cycle, pipeline drain per tile) and
// arithmetic.
#include "sim/nm_unit/pe_array.h"

#include <algorithm>

namespace tessel::nm_unit {

PeArray::PeArray(sc_core::sc_module_name name, const NmUnitParams& params, const Mapping& map,
                 const sim::Clock& clock, const Operands* ops, Counters& counters,
                 TraceWriter* trace)
    : sc_module(name),
      params_(params),
      map_(map),
      clock_(clock),
      ops_(ops),
      counters_(counters),
      trace_(trace),
      acc_i32_(static_cast<size_t>(params.rows * params.cols), 0),
      acc_f32_(static_cast<size_t>(params.rows * params.cols), 0.0f),
      mux("act_mux", params, map, counters) {
  SC_THREAD(run);
}

// PE (r, c) accumulates weight j of row r times the activation its lane's mux selects
// from column c's window. In dense mode the lane reads K position j directly. The order
// of additions (j ascending within a chunk, chunks in K order) is the reference's.
void PeArray::compute(const DecodedStep& d) {
  const Step& s = d.step;
  const int64_t kept = kept_per_row(map_, s.kt), j0 = s.k0 / map_.m * map_.n;
  const bool int8 = params_.dtype == DType::kInt8;
  for (int64_t r = 0; r < s.rows; ++r) {
    for (int64_t j = 0; j < kept; ++j) {
      const int64_t kpos =
          map_.sparse ? mux.route(j, (*d.select)[static_cast<size_t>(r * kept + j)]) : j;
      const int64_t k = s.k0 + kpos;
      if (int8) {
        const int32_t w =
            map_.sparse ? ops_->w8.values(s.row0 + r, j0 + j) : ops_->w8_dense(s.row0 + r, k);
        for (int64_t c = 0; c < s.toks; ++c)
          acc_i32_[static_cast<size_t>(r * s.toks + c)] += w * int32_t{ops_->x8(k, s.tok0 + c)};
      } else {
        const float w = static_cast<float>(map_.sparse ? ops_->wh.values(s.row0 + r, j0 + j)
                                                       : ops_->wh_dense(s.row0 + r, k));
        for (int64_t c = 0; c < s.toks; ++c)
          acc_f32_[static_cast<size_t>(r * s.toks + c)] +=
              w * static_cast<float>(ops_->xh(k, s.tok0 + c));
      }
    }
  }
}

void PeArray::run() {
  int track = trace_ ? trace_->track("pe_array") : 0;
  int64_t tiles_done = 0;
  for (;;) {
    DecodedStep d = decoded.read();
    const Step& s = d.step;
    double start = clock_.now_ns();
    if (ops_) compute(d);
    const uint64_t cycles = compute_cycles(params_, map_, s);
    sc_core::wait(clock_.cycles(cycles));
    busy_cycles_ += cycles;
    const uint64_t kept = static_cast<uint64_t>(kept_per_row(map_, s.kt));
    const uint64_t macs = static_cast<uint64_t>(s.rows * s.toks) * kept;
    counters_.add("weight_buffer", params_.weight_sram + "_read_byte",
                  static_cast<uint64_t>(weight_value_bytes(params_, map_, s)));
    counters_.add("act_buffer", params_.act_sram + "_read_byte",
                  static_cast<uint64_t>(act_bytes(params_, s)));
    counters_.add("pe_array", params_.mac_action, macs);
    if (map_.sparse) mux.account(macs);
    counters_.stat("pe_array.idle_pe_cycles",
                   static_cast<uint64_t>(params_.rows * params_.cols - s.rows * s.toks) * cycles);
    if (s.last) {
      // Two output slots start free; later tiles wait for the storer to release one.
      if (tiles_done++ >= 2) free_outputs.read();
      OutputTile tile{s, {}, {}};
      const size_t n = static_cast<size_t>(s.rows * s.toks);
      if (ops_ && params_.dtype == DType::kInt8)
        tile.i32.assign(acc_i32_.begin(), acc_i32_.begin() + static_cast<std::ptrdiff_t>(n));
      if (ops_ && params_.dtype == DType::kFp16)
        tile.f32.assign(acc_f32_.begin(), acc_f32_.begin() + static_cast<std::ptrdiff_t>(n));
      std::fill(acc_i32_.begin(), acc_i32_.end(), 0);
      std::fill(acc_f32_.begin(), acc_f32_.end(), 0.0f);
      counters_.add("out_buffer", params_.out_sram + "_write_byte",
                    static_cast<uint64_t>(store_bytes(s)));
      results.write(tile);
    }
    if (trace_) trace_->span(track, s.last ? "mac+drain" : "mac", start, clock_.now_ns() - start);
    free_buffers.write(1);
  }
}

}  // namespace tessel::nm_unit
