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

}  // namespace tessel::ann
