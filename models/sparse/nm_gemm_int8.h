// The int8 N:M CPU kernel: activation panels that the weights' indices select.
//
// Y = W X, W out x K compressed N:M along K, X K x T int8, exact int32. A dense int8 GEMM
// (oneDNN) runs vpdpbusd: per int32 lane, 4 u8 x s8 products of 4 consecutive K. With N:M
// weights the 4 (or 2) activations a lane needs are not consecutive: which rows of X they
// come from depends on the row's indices. So the kernel precomputes, once per block of X
// (O(K*T) work, shared by all `out` rows), every lane arrangement a row can ask for:
//
//   A *super group* is G consecutive groups of M rows of X (sg_rows = G*M). Its G*N kept
//   positions, in ascending order, are cut into *slots* of `slot` entries (one int32 lane
//   each). A *panel* is, for one slot and one possible tuple of positions (a,b,c,d), the
//   token block of X laid out as lanes [x[a][t], x[b][t], x[c][t], x[d][t]]. The plan lists
//   every tuple any row can produce (enumerated over all C(M,N)^G index choices).
//
// Per output row, super group and slot, the weights become one entry: which panel (a byte
// offset) and the packed weights (4 x s8, or 2 x int16). The inner loop is then a
// broadcast of the weights and one multiply-accumulate per 16 (zmm) or 8 (ymm) tokens:
// the index picks a panel, the software form of the unit's activation multiplexer. At 2:4
// with G = 2, one vpdpbusd does 64 real MACs covering 8 rows of K: 128 dense-equivalent
// MACs per instruction, what a dense vpdpbusd does in 64.
//
// Lane formats:
//   kQuadU8  (vpdpbusd, AVX-512 VNNI / AVX-VNNI): activations stored as x + 128 (u8), since
//            vpdpbusd multiplies u8 by s8; the row's accumulator starts at -128 * sum(w),
//            which removes the offset. vpdpbusd is the non-saturating form (vpdpbusds
//            saturates), each 4-product sum fits int32 and the accumulation wraps modulo
//            2^32, so the result is bit-exact whenever the true result fits int32 (which the
//            reference's own int32 accumulation assumes).
//   kPairI16 (vpmaddwd, AVX2): two int16 per lane, signed, no offset. vpmaddwd only
//            overflows for -32768 * -32768 * 2, impossible from int8 data. (vpmaddubsw,
//            the AVX2 u8 x s8 form, saturates to int16 and is not used.)
//
// The plan (G, slot) is chosen per pattern by a cost model: instructions per row of K
// against panel memory and panel build work. Typical choices (kQuadU8): 2:4 G=2 slot 4
// (36 panels per 8 rows), 4:8 G=1 slot 4 (70 per 8), 2:8 G=1 slot 2 (28 per 8), 1:4 G=3
// slot 3 (64 per 12). Loop order: token block (64 tokens for AVX-512, one zmm of int8 per
// row of X; 32 for the ymm levels) > chunk of super groups (panels built into a ~64 KiB
// buffer, L1 plus a little L2) > tiles of 4 (zmm) or 2 (ymm) output rows (accumulators in
// registers; between chunks in a contiguous per-block buffer, into Y after the last). A
// super group past K is padded with zero-weight virtual groups that read zero rows; a
// token block past T reads a zero-padded copy.
//
// What bounds it (measured on Zen 5): a vpdpbusd whose activation operand is a fresh load
// retires at about one per cycle, half the rate of oneDNN's register-blocked dense kernel,
// which reuses each load for several rows. Rows here never share a panel load (each row's
// indices pick its own), so the sparse kernel gets its speed from doing twice the
// dense-equivalent work per instruction, not from more instructions per cycle.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "models/sparse/nm_gemm.h"

namespace tessel::sparse::int8_kernel {

inline constexpr int kMaxSuperGroupRows = 64;

enum class LaneFormat { kQuadU8, kPairI16 };
int lane_capacity(LaneFormat f);  // entries per int32 lane: 4 or 2

struct PanelPlan {
  LaneFormat format = LaneFormat::kQuadU8;
  int group_span = 1;  // G
  int sg_rows = 0;     // G * M
  int slot = 0;        // kept entries per lane (<= lane_capacity)
  int slots = 0;       // lanes per row per super group: ceil(G*N / slot)
  int panels = 0;      // per super group, all slots together
  // Per panel: the X row (within the super group) of each lane byte / int16, padded to the
  // lane capacity by repeating the slot's last entry (its weight is 0).
  std::vector<std::array<uint8_t, 4>> tuples;
  // kQuadU8 build: a quad is interleaved from two byte pairs; the distinct pairs, and per
  // panel the pair ids of entries (0,1) and (2,3).
  std::vector<std::array<uint8_t, 2>> pairs;
  std::vector<std::array<uint16_t, 2>> halves;
  // slots x key_count: key of a slot's positions (mixed radix, base sg_rows) -> panel id.
  std::vector<int32_t> lookup;
  int64_t key_count = 0;
  std::string describe() const;
};

// Builds the plan for one (G, slot); false when it exceeds the enumeration or table limits.
bool make_plan(const Pattern& p, LaneFormat format, int group_span, int slot, PanelPlan& out);

// One lane of one row: the panel's byte offset inside the chunk buffer and the weights.
struct Entry {
  uint32_t offset;
  int32_t weights;  // kQuadU8: 4 x s8 (byte i = lane entry i); kPairI16: 2 x int16
};

// What a level's row kernel gets for one token block and one chunk of super groups. Partial
// sums between chunks live in `acc`, contiguous (token_block int32 per row): rows of Y are
// t_count apart (4 KiB at 1024 tokens), so a block's partial sums for all rows would map
// to a few cache sets and miss in L2 on every chunk.
struct RowsArgs {
  const Entry* entries;  // row 0's first entry of the chunk
  int64_t entry_stride;  // entries per row (whole K)
  int64_t count;         // entries per row in this chunk
  const uint8_t* panels;
  int64_t rows;
  const int32_t* init;  // first chunk: row r's accumulators start at init[r]; else read acc
  int32_t* acc;         // rows x token_block partial sums
  int32_t* y;           // last chunk: results go here (row 0, first token); else to acc
  int64_t y_stride;
};

// A level's two halves: build the panels of one super group for one token block (x_rows:
// sg_rows pointers to token_block int8 each; scratch from scratch_bytes), and run all rows.
struct PanelKernel {
  LaneFormat format;
  int64_t token_block;  // tokens per panel: 64 (AVX-512) or 32 (ymm levels)
  void (*build)(const PanelPlan& plan, const int8_t* const* x_rows, uint8_t* panels, void* scratch);
  void (*rows)(const RowsArgs& args);
};
int64_t scratch_bytes(const PanelPlan& plan);
// The x86 kernels (nm_gemm_x86.cpp); nullptr for kPortable and on other architectures.
const PanelKernel* panel_kernel(CpuIsa isa);
bool x86_supports(CpuIsa isa);

}  // namespace tessel::sparse::int8_kernel
