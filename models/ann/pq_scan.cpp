// PQ distance-table scans over blocked codes: a portable loop and an AVX2 gather kernel.
#include <immintrin.h>

#include <algorithm>

#include "models/ann/pq.h"

namespace tessel::ann {

std::vector<uint8_t> pq_block_codes(const uint8_t* rows, int64_t n, int m) {
  const int64_t blocks = (n + kPqBlock - 1) / kPqBlock;
  std::vector<uint8_t> out(static_cast<std::size_t>(blocks) * kPqBlock * m, 0);
  for (int64_t i = 0; i < n; ++i) {
    uint8_t* b = out.data() + (i / kPqBlock) * kPqBlock * m + (i % kPqBlock);
    const uint8_t* r = rows + i * m;
    for (int s = 0; s < m; ++s) b[s * kPqBlock] = r[s];
  }
  return out;
}

void pq_unblock_code(const uint8_t* blocked, int64_t j, int m, uint8_t* row) {
  const uint8_t* b = blocked + (j / kPqBlock) * kPqBlock * m + (j % kPqBlock);
  for (int s = 0; s < m; ++s) row[s] = b[s * kPqBlock];
}

void pq_scan_portable(const float* table, const uint8_t* blocked, int64_t blocks, int m,
                      float* out) {
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* p = blocked + b * kPqBlock * m;
    // Eight independent sums: the loads of different vectors overlap.
    float acc[kPqBlock] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int s = 0; s < m; ++s) {
      const float* t = table + s * 256;
      const uint8_t* c = p + s * kPqBlock;
      for (int j = 0; j < kPqBlock; ++j) acc[j] += t[c[j]];
    }
    std::copy_n(acc, kPqBlock, out + b * kPqBlock);
  }
}

namespace {

__attribute__((target("avx2"))) void pq_scan_avx2(const float* table, const uint8_t* blocked,
                                                  int64_t blocks, int m, float* out) {
  int64_t b = 0;
  // Two blocks per round: two independent gather chains keep more loads in flight.
  for (; b + 2 <= blocks; b += 2) {
    const uint8_t* p = blocked + b * kPqBlock * m;
    const uint8_t* q = p + kPqBlock * m;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int s = 0; s < m; ++s) {
      const float* t = table + s * 256;
      const __m256i i0 =
          _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + s * 8)));
      const __m256i i1 =
          _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + s * 8)));
      acc0 = _mm256_add_ps(acc0, _mm256_i32gather_ps(t, i0, 4));
      acc1 = _mm256_add_ps(acc1, _mm256_i32gather_ps(t, i1, 4));
    }
    _mm256_storeu_ps(out + b * kPqBlock, acc0);
    _mm256_storeu_ps(out + (b + 1) * kPqBlock, acc1);
  }
  for (; b < blocks; ++b) {
    const uint8_t* p = blocked + b * kPqBlock * m;
    __m256 acc = _mm256_setzero_ps();
    for (int s = 0; s < m; ++s) {
      const __m256i i0 =
          _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + s * 8)));
      acc = _mm256_add_ps(acc, _mm256_i32gather_ps(table + s * 256, i0, 4));
    }
    _mm256_storeu_ps(out + b * kPqBlock, acc);
  }
  // Clean upper halves before returning to baseline (SSE) code, see codes.h.
  _mm256_zeroupper();
}

}  // namespace

bool pq_scan_has_avx2() {
  return __builtin_cpu_supports("avx2");
}

PqScanKernel pq_scan_kernel(bool allow_avx2) {
  return allow_avx2 && pq_scan_has_avx2() ? pq_scan_avx2 : pq_scan_portable;
}

}  // namespace tessel::ann
