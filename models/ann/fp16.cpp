// binary16 conversions and the float-query x half-row squared-L2 kernels (fp16.h says why).
#include "models/ann/fp16.h"

#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace tessel::ann {
namespace {

uint32_t bits_of(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
float float_of(uint32_t b) {
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

// Rounds `value >> shift` to nearest, ties to even (shift >= 1).
uint32_t shift_round_even(uint32_t value, int shift) {
  const uint32_t kept = value >> shift;
  const uint32_t rest = value & ((uint32_t{1} << shift) - 1);
  const uint32_t half = uint32_t{1} << (shift - 1);
  return kept + (rest > half || (rest == half && (kept & 1)) ? 1 : 0);
}

}  // namespace

uint16_t float_to_half(float x) {
  const uint32_t b = bits_of(x);
  const auto sign = static_cast<uint16_t>((b >> 16) & 0x8000);
  const uint32_t magnitude = b & 0x7fffffff;
  if (magnitude >= 0x7f800000) {
    // Infinity, or NaN kept quiet with the top of its payload.
    if (magnitude == 0x7f800000) return sign | 0x7c00;
    return static_cast<uint16_t>(sign | 0x7e00 | ((magnitude >> 13) & 0x3ff));
  }
  const int exponent = static_cast<int>(magnitude >> 23) - 127;
  if (exponent > 15) return sign | 0x7c00;  // beyond 65520: infinity
  const uint32_t significand = (magnitude & 0x7fffff) | 0x800000;
  if (exponent >= -14) {
    // Normal: rebias the exponent, round the 23-bit fraction to 10. A carry out of the fraction
    // steps the exponent, up to infinity (0x7c00) for 65520 and above, as the standard says.
    const uint32_t rounded = shift_round_even(magnitude & 0x7fffff, 13);
    return static_cast<uint16_t>(sign | ((static_cast<uint32_t>(exponent + 15) << 10) + rounded));
  }
  // Subnormal: the value in units of 2^-24 is significand * 2^(exponent + 1).
  const int shift = -(exponent + 1);
  if (shift > 24) return sign;  // below 2^-25: rounds to zero
  return static_cast<uint16_t>(sign | shift_round_even(significand, shift));
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t rest = h & 0x7fff;
  // Infinities and NaNs keep their payload under the all-ones exponent.
  if (rest >= 0x7c00) return float_of(sign | 0x7f800000 | ((rest & 0x3ff) << 13));
  // Subnormals are rest * 2^-24 (exact in float, and no float subnormal is involved).
  if (rest < 0x400) return float_of(sign | bits_of(static_cast<float>(rest) * 0x1p-24f));
  // Normal: rebias the exponent (15 -> 127) and widen the fraction.
  return float_of(sign | ((rest << 13) + ((127 - 15) << 23)));
}

namespace {

float l2_sq_half_portable(const float* query, const uint16_t* row, int dim) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int k = 0;
  for (; k + 8 <= dim; k += 8)
    for (int j = 0; j < 8; ++j) {
      const float d = query[k + j] - half_to_float(row[k + j]);
      acc[j] += d * d;
    }
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; k < dim; ++k) {
    const float d = query[k] - half_to_float(row[k]);
    s += d * d;
  }
  return s;
}

float l2_sq_half_residual_portable(const float* query, const uint8_t* code,
                                   const uint16_t* residual, float offset, float step, int dim) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  auto diff = [&](int k) {
    return query[k] - (code_value(offset, step, code[k]) + half_to_float(residual[k]));
  };
  int k = 0;
  for (; k + 8 <= dim; k += 8)
    for (int j = 0; j < 8; ++j) {
      const float d = diff(k + j);
      acc[j] += d * d;
    }
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; k < dim; ++k) {
    const float d = diff(k);
    s += d * d;
  }
  return s;
}

#if defined(__x86_64__)
// GCC 12 warns that its own _mm512_cvtph_ps and _mm512_reduce_add_ps read uninitialised
// vectors (false positives inside the intrinsics' header, as in distance.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// 16 binary16 values at p as floats.
__attribute__((target("avx512f"))) inline __m512 load16_half(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

__attribute__((target("avx512f"))) float l2_sq_half_avx512(const float* query, const uint16_t* row,
                                                           int dim) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int k = 0;
  for (; k + 32 <= dim; k += 32) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(query + k), load16_half(row + k));
    const __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(query + k + 16), load16_half(row + k + 16));
    acc0 = _mm512_fmadd_ps(d0, d0, acc0);
    acc1 = _mm512_fmadd_ps(d1, d1, acc1);
  }
  for (; k + 16 <= dim; k += 16) {
    const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(query + k), load16_half(row + k));
    acc0 = _mm512_fmadd_ps(d, d, acc0);
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  for (; k < dim; ++k) {
    const float d = query[k] - half_to_float(row[k]);
    s += d * d;
  }
  return s;
}

__attribute__((target("avx512f"))) float l2_sq_half_residual_avx512(const float* query,
                                                                    const uint8_t* code,
                                                                    const uint16_t* residual,
                                                                    float offset, float step,
                                                                    int dim) {
  const __m512 vo = _mm512_set1_ps(offset), vs = _mm512_set1_ps(step);
  __m512 acc = _mm512_setzero_ps();
  int k = 0;
  for (; k + 16 <= dim; k += 16) {
    const __m512 c = _mm512_cvtepi32_ps(
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(code + k))));
    // code_value's order: multiply, then add (no FMA), then the residual.
    const __m512 x =
        _mm512_add_ps(_mm512_add_ps(vo, _mm512_mul_ps(vs, c)), load16_half(residual + k));
    const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(query + k), x);
    acc = _mm512_fmadd_ps(d, d, acc);
  }
  float s = _mm512_reduce_add_ps(acc);
  for (; k < dim; ++k) {
    const float d = query[k] - (code_value(offset, step, code[k]) + half_to_float(residual[k]));
    s += d * d;
  }
  return s;
}
#pragma GCC diagnostic pop

__attribute__((target("avx2,fma,f16c"))) inline __m256 load8_half(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

__attribute__((target("avx2,fma,f16c"))) inline float sum8(__m256 v) {
  __m128 sum4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum4 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
  return _mm_cvtss_f32(_mm_add_ss(sum4, _mm_movehdup_ps(sum4)));
}

__attribute__((target("avx2,fma,f16c"))) float l2_sq_half_f16c(const float* query,
                                                               const uint16_t* row, int dim) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int k = 0;
  for (; k + 16 <= dim; k += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(query + k), load8_half(row + k));
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(query + k + 8), load8_half(row + k + 8));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    acc1 = _mm256_fmadd_ps(d1, d1, acc1);
  }
  for (; k + 8 <= dim; k += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(query + k), load8_half(row + k));
    acc0 = _mm256_fmadd_ps(d, d, acc0);
  }
  float s = sum8(_mm256_add_ps(acc0, acc1));
  for (; k < dim; ++k) {
    const float d = query[k] - half_to_float(row[k]);
    s += d * d;
  }
  return s;
}

__attribute__((target("avx2,fma,f16c"))) float l2_sq_half_residual_f16c(const float* query,
                                                                        const uint8_t* code,
                                                                        const uint16_t* residual,
                                                                        float offset, float step,
                                                                        int dim) {
  const __m256 vo = _mm256_set1_ps(offset), vs = _mm256_set1_ps(step);
  __m256 acc = _mm256_setzero_ps();
  int k = 0;
  for (; k + 8 <= dim; k += 8) {
    const __m256 c = _mm256_cvtepi32_ps(
        _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(code + k))));
    const __m256 x =
        _mm256_add_ps(_mm256_add_ps(vo, _mm256_mul_ps(vs, c)), load8_half(residual + k));
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(query + k), x);
    acc = _mm256_fmadd_ps(d, d, acc);
  }
  float s = sum8(acc);
  for (; k < dim; ++k) {
    const float d = query[k] - (code_value(offset, step, code[k]) + half_to_float(residual[k]));
    s += d * d;
  }
  return s;
}
#endif

}  // namespace

std::vector<HalfKernels> half_kernels() {
  std::vector<HalfKernels> kernels;
#if defined(__x86_64__)
  __builtin_cpu_init();
  // F16C from CPUID leaf 1: clang before 16 rejects __builtin_cpu_supports("f16c") (as in
  // models/cpu_adam). vcvtph2ps on zmm is part of AVX-512F itself.
  unsigned a = 0, b = 0, c = 0, d = 0;
  const bool f16c = __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit_F16C) != 0;
  if (__builtin_cpu_supports("avx512f"))
    kernels.push_back({"avx512f", l2_sq_half_avx512, l2_sq_half_residual_avx512});
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c)
    kernels.push_back({"avx2+fma+f16c", l2_sq_half_f16c, l2_sq_half_residual_f16c});
#endif
  kernels.push_back({"portable", l2_sq_half_portable, l2_sq_half_residual_portable});
  return kernels;
}

const HalfKernels& best_half_kernels() {
  static const HalfKernels best = half_kernels().front();
  return best;
}

}  // namespace tessel::ann
