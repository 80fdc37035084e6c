// The scalar reference of CPU-Adam: nn::adamw_update's loop with the 16-bit copy-out and
// the fixed-order Σ g²; the SIMD paths are checked against it bit for bit.
#include <cmath>

#include "models/cpu_adam/half.h"
#include "models/cpu_adam/kernels.h"

namespace tessel::cpu_adam::detail {

void update_scalar(const StepConstants& k, float* p, const float* g, float* m, float* v,
                   uint16_t* half, HalfFormat format, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    // The order of every operation is nn::adamw_update's; the library is built with
    // -ffp-contract=off so that no multiply-add is fused here or in the SIMD paths.
    const float gi = g[i] * k.gscale;
    m[i] = k.b1 * m[i] + k.one_minus_b1 * gi;
    v[i] = k.b2 * v[i] + k.one_minus_b2 * gi * gi;
    const float mh = m[i] / k.bc1, vh = v[i] / k.bc2;
    p[i] -= k.lr * (mh / (std::sqrt(vh) + k.eps) + k.wd * p[i]);
    if (format == HalfFormat::kFp16) half[i] = fp32_to_fp16(p[i]);
    if (format == HalfFormat::kBf16) half[i] = fp32_to_bf16(p[i]);
  }
}

void sum_squares_scalar(const float* g, std::size_t n, double* lanes) {
  for (std::size_t i = 0; i < n; ++i) {
    const double x = g[i];
    lanes[i % kLanes] += x * x;
  }
}

void convert_scalar(const float* x, uint16_t* out, HalfFormat format, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    out[i] = format == HalfFormat::kBf16 ? fp32_to_bf16(x[i]) : fp32_to_fp16(x[i]);
}

}  // namespace tessel::cpu_adam::detail
