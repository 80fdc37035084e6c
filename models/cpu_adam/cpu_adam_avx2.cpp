// CPU-Adam's AVX2 path: 8 floats per step, fp16 copy by F16C (VCVTPS2PH, round to nearest
// even), bf16 by integer rounding; the same operations in the same order as the reference.
#include "models/cpu_adam/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#define TESSEL_AVX2 __attribute__((target("avx2,f16c")))

namespace tessel::cpu_adam::detail {
namespace {

// 8 rounded 16-bit values of x into out (8 slots).
template <HalfFormat F>
TESSEL_AVX2 inline void store_half(uint16_t* out, __m256 x) {
  if constexpr (F == HalfFormat::kFp16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                     _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
  } else if constexpr (F == HalfFormat::kBf16) {
    // half.h's fp32_to_bf16 on 8 lanes: add 0x7FFF + (bit 16), keep the high half; NaN
    // lanes take the truncated, quieted pattern instead.
    const __m256i b = _mm256_castps_si256(x);
    const __m256i hi = _mm256_srli_epi32(b, 16);
    const __m256i lsb = _mm256_and_si256(hi, _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_srli_epi32(
        _mm256_add_epi32(b, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF))), 16);
    const __m256i nan = _mm256_or_si256(hi, _mm256_set1_epi32(0x40));
    const __m256i r =
        _mm256_blendv_epi8(rounded, nan, _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                     _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1)));
  }
}

struct Consts {
  __m256 b1, b2, omb1, omb2, bc1, bc2, eps, lr, wd, gs;
};

template <HalfFormat F>
TESSEL_AVX2 inline void update8(const Consts& c, float* p, const float* g, float* m, float* v,
                                uint16_t* half) {
  const __m256 gi = _mm256_mul_ps(_mm256_loadu_ps(g), c.gs);
  const __m256 mi =
      _mm256_add_ps(_mm256_mul_ps(c.b1, _mm256_loadu_ps(m)), _mm256_mul_ps(c.omb1, gi));
  const __m256 vi = _mm256_add_ps(_mm256_mul_ps(c.b2, _mm256_loadu_ps(v)),
                                  _mm256_mul_ps(_mm256_mul_ps(c.omb2, gi), gi));
  _mm256_storeu_ps(m, mi);
  _mm256_storeu_ps(v, vi);
  const __m256 mh = _mm256_div_ps(mi, c.bc1), vh = _mm256_div_ps(vi, c.bc2);
  const __m256 pi = _mm256_loadu_ps(p);
  const __m256 u = _mm256_add_ps(_mm256_div_ps(mh, _mm256_add_ps(_mm256_sqrt_ps(vh), c.eps)),
                                 _mm256_mul_ps(c.wd, pi));
  const __m256 pn = _mm256_sub_ps(pi, _mm256_mul_ps(c.lr, u));
  _mm256_storeu_ps(p, pn);
  store_half<F>(half, pn);
}

// Fewer than 8 elements: the same vector code on a zero-padded copy (zeros give finite,
// unused lanes).
template <HalfFormat F>
TESSEL_AVX2 void update_padded(const Consts& c, float* p, const float* g, float* m, float* v,
                               uint16_t* half, std::size_t r) {
  alignas(32) float tp[8] = {}, tg[8] = {}, tm[8] = {}, tv[8] = {};
  alignas(32) uint16_t th[8] = {};
  std::memcpy(tp, p, r * sizeof(float));
  std::memcpy(tg, g, r * sizeof(float));
  std::memcpy(tm, m, r * sizeof(float));
  std::memcpy(tv, v, r * sizeof(float));
  update8<F>(c, tp, tg, tm, tv, th);
  std::memcpy(p, tp, r * sizeof(float));
  std::memcpy(m, tm, r * sizeof(float));
  std::memcpy(v, tv, r * sizeof(float));
  if (F != HalfFormat::kNone) std::memcpy(half, th, r * sizeof(uint16_t));
}

template <HalfFormat F>
TESSEL_AVX2 void update(const StepConstants& k, float* p, const float* g, float* m, float* v,
                        uint16_t* half, std::size_t n) {
  const Consts c{_mm256_set1_ps(k.b1),           _mm256_set1_ps(k.b2),
                 _mm256_set1_ps(k.one_minus_b1), _mm256_set1_ps(k.one_minus_b2),
                 _mm256_set1_ps(k.bc1),          _mm256_set1_ps(k.bc2),
                 _mm256_set1_ps(k.eps),          _mm256_set1_ps(k.lr),
                 _mm256_set1_ps(k.wd),           _mm256_set1_ps(k.gscale)};
  // The head that brings p to a 32-byte boundary (unaligned 32-byte accesses cross cache
  // lines half the time), the whole vectors, the tail.
  std::size_t i = std::min(n, ((32 - (reinterpret_cast<uintptr_t>(p) & 31)) & 31) / sizeof(float));
  if (i > 0) update_padded<F>(c, p, g, m, v, half, i);
  for (; i + 8 <= n; i += 8)
    update8<F>(c, p + i, g + i, m + i, v + i, F == HalfFormat::kNone ? nullptr : half + i);
  if (i < n) update_padded<F>(c, p + i, g + i, m + i, v + i, half ? half + i : nullptr, n - i);
}

// The update kernel's store on its own; the tail through a padded copy.
template <HalfFormat F>
TESSEL_AVX2 void convert(const float* x, uint16_t* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) store_half<F>(out + i, _mm256_loadu_ps(x + i));
  if (i == n) return;
  alignas(32) float t[8] = {};
  alignas(32) uint16_t h[8] = {};
  std::memcpy(t, x + i, (n - i) * sizeof(float));
  store_half<F>(h, _mm256_loadu_ps(t));
  std::memcpy(out + i, h, (n - i) * sizeof(uint16_t));
}

}  // namespace

void update_avx2(const StepConstants& k, float* p, const float* g, float* m, float* v,
                 uint16_t* half, HalfFormat format, std::size_t n) {
  switch (format) {
    case HalfFormat::kNone:
      return update<HalfFormat::kNone>(k, p, g, m, v, half, n);
    case HalfFormat::kFp16:
      return update<HalfFormat::kFp16>(k, p, g, m, v, half, n);
    case HalfFormat::kBf16:
      return update<HalfFormat::kBf16>(k, p, g, m, v, half, n);
  }
}

TESSEL_AVX2 void sum_squares_avx2(const float* g, std::size_t n, double* lanes) {
  // 32 lanes = 8 accumulators of 4 doubles; each element's square is exact in double.
  __m256d acc[8];
  for (int j = 0; j < 8; ++j) acc[j] = _mm256_loadu_pd(lanes + 4 * j);
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < 4; ++j) {
      const __m256 x = _mm256_loadu_ps(g + i + 8 * j);
      const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
      const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
      acc[2 * j] = _mm256_add_pd(acc[2 * j], _mm256_mul_pd(lo, lo));
      acc[2 * j + 1] = _mm256_add_pd(acc[2 * j + 1], _mm256_mul_pd(hi, hi));
    }
  }
  for (int j = 0; j < 8; ++j) _mm256_storeu_pd(lanes + 4 * j, acc[j]);
  for (; i < n; ++i) {
    const double x = g[i];
    lanes[i % kLanes] += x * x;
  }
}

void convert_avx2(const float* x, uint16_t* out, HalfFormat format, std::size_t n) {
  if (format == HalfFormat::kFp16) convert<HalfFormat::kFp16>(x, out, n);
  if (format == HalfFormat::kBf16) convert<HalfFormat::kBf16>(x, out, n);
}

}  // namespace tessel::cpu_adam::detail

#else  // not x86-64: isa_supported(kAvx2) is false, these are never called.
namespace tessel::cpu_adam::detail {
void update_avx2(const StepConstants& k, float* p, const float* g, float* m, float* v,
                 uint16_t* half, HalfFormat format, std::size_t n) {
  update_scalar(k, p, g, m, v, half, format, n);
}
void sum_squares_avx2(const float* g, std::size_t n, double* lanes) {
  sum_squares_scalar(g, n, lanes);
}
void convert_avx2(const float* x, uint16_t* out, HalfFormat format, std::size_t n) {
  convert_scalar(x, out, format, n);
}
}  // namespace tessel::cpu_adam::detail
#endif
