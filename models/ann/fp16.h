// IEEE 754 binary16 ("fp16") storage of vectors and the squared-L2 kernels that read it: the
// half-size copy a packed index keeps for the re-rank of lossy 8-bit codes, either the values
// themselves or their residuals from the codes.
//
// binary16: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits. Normal numbers span
// 2^-14 ... 65504 with a relative rounding error of at most 2^-11; below 2^-14 the subnormals
// have a fixed spacing of 2^-24 (absolute error at most 2^-25). Conversions here follow the
// standard exactly: float -> half rounds to nearest, ties to even; half -> float is exact.
#pragma once

#include <cstdint>
#include <vector>

namespace tessel::ann {

uint16_t float_to_half(float x);
float half_to_float(uint16_t h);
// Largest finite binary16 value; a float above it in magnitude (after rounding) becomes infinity.
inline constexpr float kHalfMax = 65504.0f;

// A component stored as a residual of its 8-bit code (ScalarQuantizer): the value is
// offset + step * code + residual, the code term computed exactly this way (no FMA) by the
// packer and by every kernel, so what is lost is the residual's binary16 rounding (at most
// 2^-11 of a residual of at most step / 2) and float's own rounding of the sum.
inline float code_value(float offset, float step, uint8_t code) {
  return offset + step * static_cast<float>(code);
}

// Squared L2 between a float query and a binary16 row, accumulated in float.
using L2HalfFn = float (*)(const float* query, const uint16_t* row, int dim);
// Squared L2 between a float query and the row code_value(code) + residual.
using L2HalfResidualFn = float (*)(const float* query, const uint8_t* code,
                                   const uint16_t* residual, float offset, float step, int dim);

// One instruction set's kernels.
struct HalfKernels {
  const char* name;
  L2HalfFn l2;
  L2HalfResidualFn l2_residual;
};
// Every set this CPU runs, widest first: AVX-512F (vcvtph2ps on zmm), AVX2 + FMA + F16C, and
// the portable one (software conversion, eight partial sums like l2_sq_portable).
std::vector<HalfKernels> half_kernels();
// The widest, chosen once at run time (as distance.h's float kernels are).
const HalfKernels& best_half_kernels();

inline float l2_sq_half(const float* query, const uint16_t* row, int dim) {
  return best_half_kernels().l2(query, row, dim);
}

}  // namespace tessel::ann
