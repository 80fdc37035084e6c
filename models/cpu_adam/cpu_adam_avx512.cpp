// CPU-Adam's AVX-512 path: 16 floats per step, masked tails, fp16 copy by VCVTPS2PH (round
// to nearest even), bf16 by integer rounding; the same operations in the same order as the
// reference.
#include "models/cpu_adam/kernels.h"

#if defined(__x86_64__)
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_* is self-initialised; GCC
// bug 105593, fixed in 13); the warning points at header lines, so it is silenced there.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cstdint>

#define TESSEL_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,f16c")))

namespace tessel::cpu_adam::detail {
namespace {

// 16 rounded 16-bit values of x into the lanes of out that mask k selects.
template <HalfFormat F>
TESSEL_AVX512 inline void store_half(uint16_t* out, __m512 x, __mmask16 k) {
  __m256i h;
  if constexpr (F == HalfFormat::kFp16) {
    h = _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT);
  } else if constexpr (F == HalfFormat::kBf16) {
    // half.h's fp32_to_bf16 on 16 lanes (VCVTNEPS2BF16 would flush subnormals to zero).
    const __m512i b = _mm512_castps_si512(x);
    const __m512i hi = _mm512_srli_epi32(b, 16);
    const __m512i lsb = _mm512_and_si512(hi, _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_srli_epi32(
        _mm512_add_epi32(b, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
    const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    h = _mm512_cvtepi32_epi16(_mm512_mask_or_epi32(rounded, nan, hi, _mm512_set1_epi32(0x40)));
  } else {
    return;
  }
  if (k == 0xFFFF)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), h);
  else
    _mm256_mask_storeu_epi16(out, k, h);
}

struct Consts {
  __m512 b1, b2, omb1, omb2, bc1, bc2, eps, lr, wd, gs;
};

template <bool kMasked>
TESSEL_AVX512 inline __m512 load(const float* a, __mmask16 k) {
  return kMasked ? _mm512_maskz_loadu_ps(k, a) : _mm512_loadu_ps(a);
}
template <bool kMasked>
TESSEL_AVX512 inline void store(float* a, __m512 x, __mmask16 k) {
  if (kMasked)
    _mm512_mask_storeu_ps(a, k, x);
  else
    _mm512_storeu_ps(a, x);
}

// One vector of the update; kMasked: only the lanes of k are loaded and stored (the tail).
template <HalfFormat F, bool kMasked>
TESSEL_AVX512 inline void update16(const Consts& c, float* p, const float* g, float* m, float* v,
                                   uint16_t* half, __mmask16 k) {
  const __m512 gi = _mm512_mul_ps(load<kMasked>(g, k), c.gs);
  const __m512 mi =
      _mm512_add_ps(_mm512_mul_ps(c.b1, load<kMasked>(m, k)), _mm512_mul_ps(c.omb1, gi));
  const __m512 vi = _mm512_add_ps(_mm512_mul_ps(c.b2, load<kMasked>(v, k)),
                                  _mm512_mul_ps(_mm512_mul_ps(c.omb2, gi), gi));
  store<kMasked>(m, mi, k);
  store<kMasked>(v, vi, k);
  const __m512 mh = _mm512_div_ps(mi, c.bc1), vh = _mm512_div_ps(vi, c.bc2);
  const __m512 pi = load<kMasked>(p, k);
  const __m512 u = _mm512_add_ps(_mm512_div_ps(mh, _mm512_add_ps(_mm512_sqrt_ps(vh), c.eps)),
                                 _mm512_mul_ps(c.wd, pi));
  const __m512 pn = _mm512_sub_ps(pi, _mm512_mul_ps(c.lr, u));
  store<kMasked>(p, pn, k);
  store_half<F>(half, pn, k);
}

template <HalfFormat F>
TESSEL_AVX512 void update(const StepConstants& k, float* p, const float* g, float* m, float* v,
                          uint16_t* half, std::size_t n) {
  const Consts c{_mm512_set1_ps(k.b1),           _mm512_set1_ps(k.b2),
                 _mm512_set1_ps(k.one_minus_b1), _mm512_set1_ps(k.one_minus_b2),
                 _mm512_set1_ps(k.bc1),          _mm512_set1_ps(k.bc2),
                 _mm512_set1_ps(k.eps),          _mm512_set1_ps(k.lr),
                 _mm512_set1_ps(k.wd),           _mm512_set1_ps(k.gscale)};
  // A masked head first, so that p (and, with the usual common alignment of large
  // allocations, g, m and v) is read and written in whole 64-byte lines: unaligned
  // 64-byte accesses each touch two lines.
  std::size_t i = std::min(n, ((64 - (reinterpret_cast<uintptr_t>(p) & 63)) & 63) / sizeof(float));
  if (i > 0) update16<F, true>(c, p, g, m, v, half, static_cast<__mmask16>((1u << i) - 1));
  for (; i + 16 <= n; i += 16)
    update16<F, false>(c, p + i, g + i, m + i, v + i, half ? half + i : nullptr, 0xFFFF);
  if (i < n) {
    const auto k = static_cast<__mmask16>((1u << (n - i)) - 1);
    update16<F, true>(c, p + i, g + i, m + i, v + i, half ? half + i : nullptr, k);
  }
}

template <HalfFormat F>
TESSEL_AVX512 void convert(const float* x, uint16_t* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) store_half<F>(out + i, _mm512_loadu_ps(x + i), 0xFFFF);
  if (i < n) {
    const auto k = static_cast<__mmask16>((1u << (n - i)) - 1);
    store_half<F>(out + i, _mm512_maskz_loadu_ps(k, x + i), k);
  }
}

}  // namespace

void update_avx512(const StepConstants& k, float* p, const float* g, float* m, float* v,
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

TESSEL_AVX512 void sum_squares_avx512(const float* g, std::size_t n, double* lanes) {
  // 32 lanes = 4 accumulators of 8 doubles; each element's square is exact in double.
  __m512d acc[4];
  for (int j = 0; j < 4; ++j) acc[j] = _mm512_loadu_pd(lanes + 8 * j);
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < 2; ++j) {
      const __m512 x = _mm512_loadu_ps(g + i + 16 * j);
      const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(x));
      const __m512d hi =
          _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
      acc[2 * j] = _mm512_add_pd(acc[2 * j], _mm512_mul_pd(lo, lo));
      acc[2 * j + 1] = _mm512_add_pd(acc[2 * j + 1], _mm512_mul_pd(hi, hi));
    }
  }
  for (int j = 0; j < 4; ++j) _mm512_storeu_pd(lanes + 8 * j, acc[j]);
  for (; i < n; ++i) {
    const double x = g[i];
    lanes[i % kLanes] += x * x;
  }
}

void convert_avx512(const float* x, uint16_t* out, HalfFormat format, std::size_t n) {
  if (format == HalfFormat::kFp16) convert<HalfFormat::kFp16>(x, out, n);
  if (format == HalfFormat::kBf16) convert<HalfFormat::kBf16>(x, out, n);
}

}  // namespace tessel::cpu_adam::detail

#else  // not x86-64: isa_supported(kAvx512) is false, these are never called.
namespace tessel::cpu_adam::detail {
void update_avx512(const StepConstants& k, float* p, const float* g, float* m, float* v,
                   uint16_t* half, HalfFormat format, std::size_t n) {
  update_scalar(k, p, g, m, v, half, format, n);
}
void sum_squares_avx512(const float* g, std::size_t n, double* lanes) {
  sum_squares_scalar(g, n, lanes);
}
void convert_avx512(const float* x, uint16_t* out, HalfFormat format, std::size_t n) {
  convert_scalar(x, out, format, n);
}
}  // namespace tessel::cpu_adam::detail
#endif
