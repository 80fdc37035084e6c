// Operands of a functional N:M run (seeded weights, mask files, activations) and the reference
// check.
#pragma once

#include <cstdint>
#include <vector>

#include "models/sparse/compressed.h"
#include "runtime/core/sim_result.h"
#include "sim/nm_unit/nm_unit_params.h"

namespace tessel::nm_unit {

// Weights in the form the array consumes: compressed N:M (sparse mode) or dense.
// Exactly one dtype's members are filled.
struct Operands {
  sparse::CompressedMatrix<int8_t> w8;
  sparse::MatrixI8 w8_dense, x8;
  sparse::CompressedMatrix<Eigen::half> wh;
  sparse::MatrixH wh_dense, xh;
  // int8 with real operands: the quantisation scales (nm_unit_weights.h), so that
  // Y ≈ weight_scales[row] · act_scale · Y_int32. Empty / 0 for seeded random operands.
  std::vector<float> weight_scales;
  float act_scale = 0;
};

// Weights: the workload's .npy weights (quantised to int8 per row, or converted to fp16),
// else random N:M weights (exactly N non-zeros per group), or random values on the mask
// file's kept positions, or dense weights for "pattern: dense". Activations: the
// workload's .npy activations (int8 per tensor, or fp16), else random. Random ones come
// from `seed`.
Operands make_operands(const NmUnitParams& p, const NmUnitWorkload& w, const Mapping& map,
                       uint64_t seed);

// Compares the unit's output with the models/sparse reference (int8: exact; fp16: fp32
// accumulation of fp16 operands, absolute tolerance 1e-6 * K * max(1, max|w| * max|x|)).
Check check_int8(const Operands& ops, const Mapping& map, const sparse::MatrixI32& y);
Check check_fp16(const Operands& ops, const Mapping& map, const sparse::MatrixF& y);

}  // namespace tessel::nm_unit
