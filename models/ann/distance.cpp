// The wide float L2 kernels and the choice among them (distance.h says why).
#include "models/ann/distance.h"

#include <immintrin.h>

namespace tessel::ann {
namespace {

// GCC 12 warns that its own _mm512_maskz_loadu_ps reads an uninitialised vector (a false
// positive inside the intrinsic's header).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
__attribute__((target("avx512f"))) float l2_sq_avx512(const float* a, const float* b, int dim) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int k = 0;
  for (; k + 32 <= dim; k += 32) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k));
    const __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + k + 16), _mm512_loadu_ps(b + k + 16));
    acc0 = _mm512_fmadd_ps(d0, d0, acc0);
    acc1 = _mm512_fmadd_ps(d1, d1, acc1);
  }
  for (; k < dim; k += 16) {
    // The tail through a mask: lanes past `dim` load zeros on both sides and add nothing.
    const __mmask16 m = dim - k >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (dim - k)) - 1);
    const __m512 d =
        _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + k), _mm512_maskz_loadu_ps(m, b + k));
    acc0 = _mm512_fmadd_ps(d, d, acc0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}
#pragma GCC diagnostic pop

__attribute__((target("avx2,fma"))) float l2_sq_avx2(const float* a, const float* b, int dim) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int k = 0;
  for (; k + 16 <= dim; k += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k));
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(b + k + 8));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    acc1 = _mm256_fmadd_ps(d1, d1, acc1);
  }
  for (; k + 8 <= dim; k += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k));
    acc0 = _mm256_fmadd_ps(d, d, acc0);
  }
  const __m256 sum8 = _mm256_add_ps(acc0, acc1);
  __m128 sum4 = _mm_add_ps(_mm256_castps256_ps128(sum8), _mm256_extractf128_ps(sum8, 1));
  sum4 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
  float s = _mm_cvtss_f32(_mm_add_ss(sum4, _mm_movehdup_ps(sum4)));
  for (; k < dim; ++k) {
    const float d = a[k] - b[k];
    s += d * d;
  }
  return s;
}

#pragma GCC diagnostic push  // the same false positive as above
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// Byte rows: 32 values per step, widened to 16-bit differences whose squares madd sums in pairs
// into 32-bit lanes (exact: 2 * 255^2 per pair); the tail through a mask.
__attribute__((target("avx512f,avx512bw,avx512vl"))) uint32_t l2_bytes_avx512(const uint8_t* a,
                                                                              const uint8_t* b,
                                                                              int dim) {
  __m512i acc = _mm512_setzero_si512();
  for (int k = 0; k < dim; k += 32) {
    const __mmask32 m = dim - k >= 32 ? ~__mmask32{0} : (__mmask32{1} << (dim - k)) - 1;
    const __m512i x = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, a + k));
    const __m512i y = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, b + k));
    const __m512i d = _mm512_sub_epi16(x, y);
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(d, d));
  }
  return static_cast<uint32_t>(_mm512_reduce_add_epi32(acc));
}
#pragma GCC diagnostic pop

__attribute__((target("avx2"))) uint32_t l2_bytes_avx2(const uint8_t* a, const uint8_t* b,
                                                       int dim) {
  __m256i acc = _mm256_setzero_si256();
  int k = 0;
  for (; k + 16 <= dim; k += 16) {
    const __m256i x =
        _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + k)));
    const __m256i y =
        _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + k)));
    const __m256i d = _mm256_sub_epi16(x, y);
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d, d));
  }
  __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
  uint32_t s = static_cast<uint32_t>(_mm_cvtsi128_si32(s4));
  for (; k < dim; ++k) {
    const int d = static_cast<int>(a[k]) - static_cast<int>(b[k]);
    s += static_cast<uint32_t>(d * d);
  }
  return s;
}

uint32_t l2_bytes_portable(const uint8_t* a, const uint8_t* b, int dim) {
  uint32_t s = 0;
  for (int k = 0; k < dim; ++k) {
    const int d = static_cast<int>(a[k]) - static_cast<int>(b[k]);
    s += static_cast<uint32_t>(d * d);
  }
  return s;
}

// Picks the kernel on the first call and replaces itself with it. A constant initialiser, so
// the pointer is valid even for callers in other files' static initialisers.
float l2_sq_first_call(const float* a, const float* b, int dim) {
  const detail::L2Fn best = detail::l2_sq_kernels().front().fn;
  detail::l2_sq_kernel.store(best, std::memory_order_relaxed);
  return best(a, b, dim);
}

}  // namespace

std::atomic<detail::L2Fn> detail::l2_sq_kernel{l2_sq_first_call};

std::vector<detail::L2Kernel> detail::l2_sq_kernels() {
  __builtin_cpu_init();
  std::vector<L2Kernel> kernels;
  if (__builtin_cpu_supports("avx512f")) kernels.push_back({"avx512f", l2_sq_avx512});
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    kernels.push_back({"avx2+fma", l2_sq_avx2});
  kernels.push_back({"portable", l2_sq_portable});
  return kernels;
}

std::vector<detail::L2BytesKernel> detail::l2_sq_bytes_kernels() {
  __builtin_cpu_init();
  std::vector<L2BytesKernel> kernels;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl"))
    kernels.push_back({"avx512bw", l2_bytes_avx512});
  if (__builtin_cpu_supports("avx2")) kernels.push_back({"avx2", l2_bytes_avx2});
  kernels.push_back({"portable", l2_bytes_portable});
  return kernels;
}

std::vector<uint8_t> exact_byte_rows(const float* data, int64_t n, int dim) {
  // 32-bit sums hold dim * 255^2 up to about 66,000 dimensions.
  if (dim > 65536) return {};
  const std::size_t count = static_cast<std::size_t>(n) * dim;
  // Checked before allocating: a float base usually fails on its first value.
  for (std::size_t i = 0; i < count; ++i) {
    const float x = data[i];
    if (!(x >= 0 && x <= 255) || x != static_cast<float>(static_cast<int>(x))) return {};
  }
  return std::vector<uint8_t>(data, data + count);
}

float l2_sq_bytes(const uint8_t* a, const uint8_t* b, const float* fa, const float* fb, int dim) {
  static const detail::L2BytesFn kernel = detail::l2_sq_bytes_kernels().front().fn;
  const uint32_t s = kernel(a, b, dim);
  if (s <= (uint32_t{1} << 24)) return static_cast<float>(s);
  return l2_sq(fa, fb, dim);
}

}  // namespace tessel::ann
