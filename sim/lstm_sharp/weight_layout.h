// Off-chip address layout of an LSTM-Sharp run bound to a memory (docs/lstm_sharp.md,
// "Off-chip memory"): the input sequence, the output sequence, then every pass's streamed
// weights, per tile, as two streams (W·x and U·h) in the order the tile consumes them.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/lstm_sharp/layer_plan.h"
#include "sim/lstm_sharp/lstm_sharp_params.h"

namespace tessel::lstm_sharp {

// What one DPU pass of a streamed block reads: rows × (one K-wide column slice) int16.
struct Chunk {
  uint64_t address = 0, bytes = 0;
};

// Regions start on this boundary (a 4 KiB page: a whole number of DRAM rows' worth of
// consecutive addresses on every shipped preset's mapping, so a region never shares a row
// with the one before).
inline constexpr uint64_t kRegionAlign = 4096;
// A block's W (U) part starts on a 64 B boundary (a cache line, the largest burst of the
// shipped presets): its chunks are then whole bursts but perhaps the last, which would
// otherwise make every later chunk straddle two bursts and halve the bus's use.
inline constexpr uint64_t kPartAlign = 64;

struct WeightLayout {
  uint64_t input_base = 0;  // x of layer 0: seq_len × batch × X int16, [t][sequence][X]
  uint64_t input_step_bytes = 0;
  uint64_t output_base = 0;        // h of the last layer: [t][dir][sequence][H] int16
  uint64_t output_step_bytes = 0;  // one direction's H int16 for every sequence
  int64_t directions = 1;
  // [pass][tile][0: W·x, 1: U·h]: the chunks of one step, in consumption order. A streamed
  // block's W (U) rows are stored pass-major: its pass j holds rows × min(K, X − jK)
  // int16, so the chunks of a tile's stream are consecutive and the stream is one
  // contiguous region, read again every step.
  std::vector<std::vector<std::vector<std::vector<Chunk>>>> streams;
  uint64_t end = 0;  // bytes the layout spans
  // Streamed weight bytes one step of pass p reads (all tiles).
  uint64_t step_bytes(size_t p) const;
};

// `tile_major`: each tile's stream is one contiguous region (tiles one after another).
// Otherwise (`interleaved`, the default) the tiles' i-th streamed blocks sit side by side:
// the tiles, which run their blocks in step, then read neighbouring addresses, so their
// streams share DRAM rows instead of fighting over banks (docs/lstm_sharp.md).
WeightLayout make_weight_layout(const std::vector<PassPlan>& passes, const LstmWorkload& w,
                                bool tile_major = false);

}  // namespace tessel::lstm_sharp
