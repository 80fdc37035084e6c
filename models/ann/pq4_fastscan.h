// 4-bit product quantization with a register-resident table scan ("PQ fast scan": André, Kermarrec
// & Le Scouarnec, VLDB 2015; FAISS's IndexPQFastScan). With 16 centroids per sub-space a query's
// distance table for one sub-space is 16 entries: quantised to bytes it fills half an SSE
// register, and `pshufb` looks up 16 (AVX2: 32) codes in one instruction instead of one memory
// load per code and sub-space as in the 8-bit scan (pq_scan.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "models/ann/pq.h"
#include "models/ann/vectors.h"

namespace tessel::ann {

class Pq4Quantizer {
 public:
  static constexpr int kCentroids = 16;

  Pq4Quantizer() = default;
  // m codebooks of 16 centroids, each the k-means of pq.h (k-means++ seeds, Lloyd, seeded) on
  // (a seeded sample of) `data`; sub-space s covers [s * dim / m, (s + 1) * dim / m) as in
  // ProductQuantizer. Needs >= 16 training vectors and 1 <= m <= min(dim, 256).
  static Pq4Quantizer train(const VectorSet& data, const PqParams& p);

  int dim() const { return dim_; }
  int m() const { return m_; }
  int sub_dim(int s) const { return begin_[s + 1] - begin_[s]; }
  const float* centroid(int s, int c) const {
    return codebooks_.data() + static_cast<int64_t>(begin_[s]) * kCentroids +
           static_cast<int64_t>(c) * sub_dim(s);
  }

  // One code = m values in [0, 16), one byte each (unpacked; pq4_pack packs them for the scan).
  void encode(const float* x, uint8_t* code) const;
  void decode(const uint8_t* code, float* x) const;
  std::vector<uint8_t> encode_all(const VectorSet& v, int threads = 0) const;  // n x m
  // table[s * 16 + c] = |q_s - centroid(s, c)|^2 (float): the float ADC table.
  void distance_table(const float* q, float* table) const;

 private:
  int dim_ = 0, m_ = 0;
  std::vector<int> begin_;
  std::vector<float> codebooks_;  // sub-space s: 16 x sub_dim(s) at begin_[s] * 16
};

// --- Packed block layout -------------------------------------------------------------------
// Vectors go in blocks of 32; sub-spaces are padded to an even count m2 = m + (m & 1) (the
// padding sub-space has code 0 and an all-zero table). Block b occupies 16 * m2 bytes at
// b * 16 * m2; inside it sub-space s has 16 bytes at s * 16, and byte j (0..15) of those holds
// vector j's code in its low nibble and vector j + 16's code in its high nibble. So one 256-bit
// load at s * 16 (s even) carries sub-spaces s and s + 1 in its two 128-bit lanes, matching a
// table register holding table s in the low lane and table s + 1 in the high lane (pshufb works
// within lanes); `& 0x0F` gives the indices of vectors 0..15, `>> 4` those of vectors 16..31.
// A block of 32 codes at m = 16 is 256 bytes: 4 bits per sub-space, 8 bytes per vector.
constexpr int kPq4Block = 32;
inline int pq4_padded_m(int m) {
  return m + (m & 1);
}
// Rows (n x m, values < 16) to blocks; the last block is padded with code 0 (extra results
// ignored).
std::vector<uint8_t> pq4_pack(const uint8_t* rows, int64_t n, int m);
// Vector j's code back as m bytes (tests).
void pq4_unpack_code(const uint8_t* packed, int64_t j, int m, uint8_t* row);

// --- Quantised tables ---------------------------------------------------------------------
// Per query, the float table T (m x 16) becomes bytes: off_s = min_c T[s][c] per sub-space, one
// global scale = 255 / max_s (max_c T[s][c] - off_s), lut[s][c] = round((T[s][c] - off_s) * scale)
// in [0, 255]. A code's uint16 sum d = sum_s lut[s][code_s] (at most 255 * 256 < 65536, so never
// saturates for m <= 256) dequantises to offset + d / scale, offset = sum_s off_s.
// Bound: each term is rounded by at most 1/2 unit, so
//   |offset + d / scale - sum_s T[s][code_s]| <= m / (2 * scale) = m * max_range / 510
// plus float rounding in (T - off_s) * scale (under 255 * 3 * 2^-24 < 1e-4 units per term), so
// error_bound() = m * (0.5 + 1e-4) / scale.
struct Pq4Lut {
  int m = 0;
  std::vector<uint8_t> lut;  // m2 x 16 (padding sub-space all zero)
  float scale = 1;
  double offset = 0;
  double distance(uint16_t d) const { return offset + d / static_cast<double>(scale); }
  double error_bound() const { return m * (0.5 + 1e-4) / scale; }
};
Pq4Lut pq4_quantize_table(const float* table, int m);

// out[j] = sum_s lut[s * 16 + code_j[s]] (uint16) for the 32 * blocks vectors of a packed array.
// Exact integer sums: every kernel gives bit-identical results.
using Pq4ScanKernel = void (*)(const uint8_t* lut, const uint8_t* packed, int64_t blocks, int m,
                               uint16_t* out);
void pq4_scan_portable(const uint8_t* lut, const uint8_t* packed, int64_t blocks, int m,
                       uint16_t* out);
// AVX2 (function-level target, chosen at run time; the project stays on the x86-64 baseline) when
// this CPU has it and `allow_avx2`, else the portable loop.
Pq4ScanKernel pq4_scan_kernel(bool allow_avx2 = true);

}  // namespace tessel::ann
