// 8-bit scalar codes of a vector set and their squared-L2 kernel: the compressed copy a graph
// search reads instead of the float vectors (a quarter of the bytes per distance).
#pragma once

#include <cstdint>
#include <vector>

#include "models/ann/vectors.h"

namespace tessel::ann {

// One affine map shared by every component: code = round((x - offset) / step), clamped to
// [0, 255]. A single step (not one per dimension) keeps the code distance proportional to the
// float distance, so the integer kernel needs no per-dimension weights:
//   |x - y|^2 ~= step^2 * |code(x) - code(y)|^2.
// Error: each component is off by at most step / 2 (uniform rounding, variance step^2 / 12), so
// the squared distance of two points at distance D is off by about 2 * D * step / sqrt(12)
// (standard deviation) plus step^2 * dim / 6 on average; docs/ann.md quantifies the effect on
// recall. Sets whose components are all integers in [0, 255] (MNIST pixels, bvecs) get
// offset 0, step 1: the codes are the values and code distances are exact.
struct ScalarQuantizer {
  float offset = 0;
  float step = 1;
  bool lossless = true;  // every base component is exactly representable

  // Fits the map to the base's range.
  static ScalarQuantizer fit(const VectorSet& base);
  void encode(const float* x, int dim, uint8_t* code) const;
  // Squared float distance from a squared code distance.
  float decode_distance(uint32_t code_distance) const {
    return static_cast<float>(static_cast<double>(step) * step * code_distance);
  }
  // decode_distance of count values, the same results, with the step squared hoisted out of the
  // loop (a store through `out` could alias `step`, so the compiler does not hoist it itself).
  void decode_distances(const uint32_t* code_distance, int count, float* out) const {
    const double step_sq = static_cast<double>(step) * step;
    for (int j = 0; j < count; ++j) out[j] = static_cast<float>(step_sq * code_distance[j]);
  }
};

// Row-major codes: row i is dim bytes at i * dim.
std::vector<uint8_t> encode_all(const ScalarQuantizer& q, const VectorSet& base);

// Squared L2 of two code rows, exact in 32 bits for dim < 66,052 (255^2 * dim < 2^32).
using L2CodeKernel = uint32_t (*)(const uint8_t* a, const uint8_t* b, int dim);
// The fastest kernel this CPU runs: AVX2 when present and allowed, otherwise SSE2 (the x86-64
// baseline every other kernel of the project is compiled for; benchmarks that compare against
// them can ask for it).
L2CodeKernel l2_code_kernel(bool allow_avx2 = true);
// Squared L2 of `query` to each of `count` rows (row ids[j] at codes + ids[j] * dim) into out[j]:
// one call per expansion instead of one per neighbour.
using L2CodeBatchKernel = void (*)(const uint8_t* query, const uint8_t* codes, const int32_t* ids,
                                   int count, int dim, uint32_t* out);
// The AVX2 batch kernel leaves the upper halves of the vector registers in use: clearing them
// (vzeroupper) after every call made whole searches 30% slower on this Zen 4, while leaving them
// dirty makes later legacy-SSE code (the SSE2 kernel, Eigen) up to 3x slower. So a caller runs
// its batches, then calls end_code_kernels() once (the Searcher does, per search).
L2CodeBatchKernel l2_code_batch_kernel(bool allow_avx2 = true);
void end_code_kernels();
// Plain scalar reference, the independent check of the vector kernels.
uint32_t l2_code_scalar(const uint8_t* a, const uint8_t* b, int dim);
// The SSE2 kernel (x86-64 baseline), exposed so tests check it even on AVX2 machines.
uint32_t l2_code_sse2(const uint8_t* a, const uint8_t* b, int dim);

}  // namespace tessel::ann
