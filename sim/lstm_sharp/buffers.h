// On-chip buffers and the activity they see: weight SRAM, activation buffer, partial sums.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/core/config.h"
#include "runtime/core/counters.h"
#include "sim/lstm_sharp/layer_plan.h"
#include "sim/lstm_sharp/sram_energy.h"

namespace tessel::lstm_sharp {

// Activity of one tile, kept as plain integers on the hot path and turned into counters
// once at the end.
struct TileActivity {
  uint64_t macs = 0;                   // useful int16 MACs (padding lanes are clock-gated)
  uint64_t accumulations = 0;          // 48-bit accumulator updates: one per row per DPU pass
  uint64_t weight_sram_bytes = 0;      // weights read from the tile's SRAM
  uint64_t streamed_weight_bytes = 0;  // weights read from off-chip every step
  uint64_t act_buffer_bytes = 0;       // x / h slices broadcast to the DPUs
  uint64_t psum_bytes = 0;             // W·x partial sums written ahead and read back
  uint64_t mfu_elements = 0;           // elements through the MFU
  uint64_t busy_cycles = 0;            // cycles with DPU passes in flight
  uint64_t stall_cycles = 0;           // cycles waiting for h(t-1) or a barrier
  uint64_t runahead_chunks = 0;        // W·x blocks computed ahead of their step
  uint64_t weight_wait_cycles = 0;     // memory runs: waiting for streamed weights (in stall)
  uint64_t psum_peak_bytes = 0;        // most partial-sum bytes parked at once
};

// Partial sums are stored as 48-bit words (exact for 2^17 - 1 terms, see fixed::dot).
inline constexpr uint64_t kPsumBytes = 6;

// Bytes one tile's activation and partial-sum buffers must hold, the largest over the passes.
// Activation buffer: x(t) of every step whose W·x may run (the current one and, in the
// unfolded and SHARP schedules, runahead_steps more, at most the sequence), h(t-1) that U·h
// reads and h(t) being produced (every tile reads all of h). Partial sums: the W·x sums of
// run-ahead blocks, 48 bits per row, for the current step's and runahead_steps later steps'
// blocks of the tile with the most rows, at most the sequence (an upper bound: the block in
// the DPUs keeps its sums there); none in the barrier schedules. Both hold one copy per
// sequence of the batch.
struct BufferNeeds {
  int64_t act_bytes = 0, psum_bytes = 0;
};
BufferNeeds buffer_needs(const MachineParams& m, const std::vector<PassPlan>& passes,
                         int64_t seq_len);
// Sets m.act_buffer_kib / psum_buffer_kib: a configured capacity below the need is a config
// error at its key in `hw`; an absent one is the need in whole macros (8 KiB and 32 KiB, as
// SramMacros), at least one macro.
void size_buffers(MachineParams& m, const std::vector<PassPlan>& passes, int64_t seq_len,
                  const Config& hw);

// Each buffer's bytes are charged as reads or writes of the macro it is built of
// (sram_energy.h: the weight SRAM's weight_sram.macro_kib, an 8 KiB activation buffer, a
// 32 KiB partial-sum buffer). `memory`: the run is bound to a memory model, which prices the
// off-chip traffic itself; streamed weights are then charged as written into and read from
// the stream buffer.
void add_tile_counters(const std::string& tile, const TileActivity& a, const SramMacros& macros,
                       Counters& out, bool memory = false);

}  // namespace tessel::lstm_sharp
