// Scalar quantizer fit/encode and the 8-bit squared-L2 kernels (scalar, SSE2, AVX2).
#include "models/ann/codes.h"

#include <algorithm>
#include <cmath>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tessel::ann {

ScalarQuantizer ScalarQuantizer::fit(const VectorSet& base) {
  ScalarQuantizer q;
  if (base.data.empty()) return q;
  const auto [lo_it, hi_it] = std::minmax_element(base.data.begin(), base.data.end());
  const float lo = *lo_it, hi = *hi_it;
  const bool integral = lo >= 0 && hi <= 255 &&
                        std::all_of(base.data.begin(), base.data.end(),
                                    [](float x) { return x == std::nearbyint(x); });
  if (integral) return q;  // offset 0, step 1: codes are the values themselves
  q.lossless = false;
  q.offset = lo;
  q.step = hi > lo ? (hi - lo) / 255.0f : 1.0f;
  return q;
}

void ScalarQuantizer::encode(const float* x, int dim, uint8_t* code) const {
  const float inv = 1.0f / step;
  for (int k = 0; k < dim; ++k) {
    const float c = std::nearbyint((x[k] - offset) * inv);
    code[k] = static_cast<uint8_t>(std::min(255.0f, std::max(0.0f, c)));
  }
}

std::vector<uint8_t> encode_all(const ScalarQuantizer& q, const VectorSet& base) {
  std::vector<uint8_t> codes(static_cast<std::size_t>(base.n) * base.dim);
  for (int64_t i = 0; i < base.n; ++i) q.encode(base.row(i), base.dim, codes.data() + i * base.dim);
  return codes;
}

uint32_t l2_code_scalar(const uint8_t* a, const uint8_t* b, int dim) {
  uint32_t s = 0;
  for (int k = 0; k < dim; ++k) {
    const int d = static_cast<int>(a[k]) - static_cast<int>(b[k]);
    s += static_cast<uint32_t>(d * d);
  }
  return s;
}

#if defined(__x86_64__)

// |a - b| per byte as max(a - b, 0) | max(b - a, 0) (saturating), widened to 16 bits and
// squared-and-pair-summed by pmaddwd into 32-bit lanes: 255^2 * 2 fits easily.
uint32_t l2_code_sse2(const uint8_t* a, const uint8_t* b, int dim) {
  const __m128i zero = _mm_setzero_si128();
  __m128i acc = zero;
  int k = 0;
  for (; k + 16 <= dim; k += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + k));
    const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + k));
    const __m128i d = _mm_or_si128(_mm_subs_epu8(x, y), _mm_subs_epu8(y, x));
    const __m128i lo = _mm_unpacklo_epi8(d, zero), hi = _mm_unpackhi_epi8(d, zero);
    acc = _mm_add_epi32(acc, _mm_add_epi32(_mm_madd_epi16(lo, lo), _mm_madd_epi16(hi, hi)));
  }
  acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, _MM_SHUFFLE(1, 0, 3, 2)));
  acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, _MM_SHUFFLE(2, 3, 0, 1)));
  return static_cast<uint32_t>(_mm_cvtsi128_si32(acc)) + l2_code_scalar(a + k, b + k, dim - k);
}

// The same on 32 bytes at a time. Compiled for AVX2 by attribute so the rest of the project
// keeps the x86-64 baseline; only called when the CPU reports AVX2. The tail stays in this
// function (VEX-encoded scalar code). It leaves the upper register halves in use: l2_code_avx2
// clears them before returning, the batch kernel leaves that to end_code_kernels() (codes.h).
// Legacy SSE code run with dirty upper halves (all of Eigen, the SSE2 kernel) is slowed down:
// measured here as 9 -> 27 ns per SSE2 distance.
__attribute__((target("avx2"))) static inline uint32_t l2_code_avx2_dirty(const uint8_t* a,
                                                                          const uint8_t* b,
                                                                          int dim) {
  const __m256i zero = _mm256_setzero_si256();
  __m256i acc = zero;
  int k = 0;
  for (; k + 32 <= dim; k += 32) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + k));
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + k));
    const __m256i d = _mm256_or_si256(_mm256_subs_epu8(x, y), _mm256_subs_epu8(y, x));
    const __m256i lo = _mm256_unpacklo_epi8(d, zero), hi = _mm256_unpackhi_epi8(d, zero);
    acc = _mm256_add_epi32(acc,
                           _mm256_add_epi32(_mm256_madd_epi16(lo, lo), _mm256_madd_epi16(hi, hi)));
  }
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  uint32_t total = static_cast<uint32_t>(_mm_cvtsi128_si32(s));
  for (; k < dim; ++k) {
    const int d = static_cast<int>(a[k]) - static_cast<int>(b[k]);
    total += static_cast<uint32_t>(d * d);
  }
  return total;
}

__attribute__((target("avx2"))) static uint32_t l2_code_avx2(const uint8_t* a, const uint8_t* b,
                                                             int dim) {
  const uint32_t r = l2_code_avx2_dirty(a, b, dim);
  _mm256_zeroupper();
  return r;
}

static void l2_code_batch_sse2(const uint8_t* query, const uint8_t* codes, const int32_t* ids,
                               int count, int dim, uint32_t* out) {
  for (int j = 0; j < count; ++j)
    out[j] = l2_code_sse2(query, codes + static_cast<int64_t>(ids[j]) * dim, dim);
}

__attribute__((target("avx2"))) static void l2_code_batch_avx2(const uint8_t* query,
                                                               const uint8_t* codes,
                                                               const int32_t* ids, int count,
                                                               int dim, uint32_t* out) {
  for (int j = 0; j < count; ++j)
    out[j] = l2_code_avx2_dirty(query, codes + static_cast<int64_t>(ids[j]) * dim, dim);
}

__attribute__((target("avx"))) static void zero_upper_halves() {
  _mm256_zeroupper();
}

void end_code_kernels() {
  static const bool has_avx = __builtin_cpu_supports("avx");
  if (has_avx) zero_upper_halves();
}

L2CodeBatchKernel l2_code_batch_kernel(bool allow_avx2) {
  static const bool has_avx2 = __builtin_cpu_supports("avx2");
  return allow_avx2 && has_avx2 ? &l2_code_batch_avx2 : &l2_code_batch_sse2;
}

L2CodeKernel l2_code_kernel(bool allow_avx2) {
  static const bool has_avx2 = __builtin_cpu_supports("avx2");
  return allow_avx2 && has_avx2 ? &l2_code_avx2 : &l2_code_sse2;
}

#else

uint32_t l2_code_sse2(const uint8_t* a, const uint8_t* b, int dim) {
  return l2_code_scalar(a, b, dim);
}
L2CodeKernel l2_code_kernel(bool) {
  return &l2_code_scalar;
}
static void l2_code_batch_scalar(const uint8_t* query, const uint8_t* codes, const int32_t* ids,
                                 int count, int dim, uint32_t* out) {
  for (int j = 0; j < count; ++j)
    out[j] = l2_code_scalar(query, codes + static_cast<int64_t>(ids[j]) * dim, dim);
}
L2CodeBatchKernel l2_code_batch_kernel(bool) {
  return &l2_code_batch_scalar;
}
void end_code_kernels() {}

#endif

}  // namespace tessel::ann
