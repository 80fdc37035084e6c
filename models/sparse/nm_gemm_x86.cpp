// x86 levels of the int8 N:M kernel (design in nm_gemm_int8.h): panel builders and row
// kernels, each function compiled for its own instruction set with a target attribute so
// the library itself stays baseline x86-64; panel_kernel() hands out only what the CPU runs.
#include <cstring>

#include "models/sparse/nm_gemm_int8.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>

#define TESSEL_AVX2 __attribute__((target("avx2")))
#define TESSEL_AVXVNNI __attribute__((target("avx2,avxvnni")))
#define TESSEL_AVX512VNNI __attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512vnni")))

namespace tessel::sparse::int8_kernel {
namespace {

// Tokens per panel: one ymm of int8 for the AVX2 / AVX-VNNI levels, one zmm for AVX-512.
constexpr int64_t kYmmBlock = 32, kZmmBlock = 64;

// The builders use 256-bit unpacks, which interleave within each 128-bit lane. Each input
// row is permuted first so that the four unpacked outputs hold tokens 0-7, 8-15, 16-23 and
// 24-31 in order (derivation: output i, lane L, element j must be token 8i + 4L + j).
//
// kQuadU8: row bytes are flipped to u8 (x + 128 == x ^ 0x80) and their dwords permuted
// [0,2,4,6,1,3,5,7]; bytes of rows (a,b) and (c,d) interleave to words, the words to
// [a,b,c,d] dwords. Pairs are shared between the quads that use them.
TESSEL_AVX2 void build_quad(const PanelPlan& plan, const int8_t* const* x_rows, uint8_t* panels,
                            void* scratch) {
  __m256i* rows = static_cast<__m256i*>(scratch);
  __m256i* pairs = rows + plan.sg_rows;
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i perm = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  for (int i = 0; i < plan.sg_rows; ++i) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x_rows[i]));
    rows[i] = _mm256_permutevar8x32_epi32(_mm256_xor_si256(v, flip), perm);
  }
  for (size_t p = 0; p < plan.pairs.size(); ++p) {
    const __m256i a = rows[plan.pairs[p][0]], b = rows[plan.pairs[p][1]];
    pairs[2 * p] = _mm256_unpacklo_epi8(a, b);
    pairs[2 * p + 1] = _mm256_unpackhi_epi8(a, b);
  }
  __m256i* out = reinterpret_cast<__m256i*>(panels);
  for (const auto& h : plan.halves) {
    const __m256i lo0 = pairs[2 * h[0]], hi0 = pairs[2 * h[0] + 1];
    const __m256i lo1 = pairs[2 * h[1]], hi1 = pairs[2 * h[1] + 1];
    _mm256_store_si256(out, _mm256_unpacklo_epi16(lo0, lo1));
    _mm256_store_si256(out + 1, _mm256_unpackhi_epi16(lo0, lo1));
    _mm256_store_si256(out + 2, _mm256_unpacklo_epi16(hi0, hi1));
    _mm256_store_si256(out + 3, _mm256_unpackhi_epi16(hi0, hi1));
    out += 4;
  }
}

// kQuadU8, 64 tokens (one zmm of int8 per row): 512-bit unpacks interleave within each of
// the four 128-bit lanes, so each row's dwords are permuted d = 4L + i <- 4i + L first (a
// 4 x 4 transpose of dwords); the four outputs then hold tokens 0-15, 16-31, 32-47, 48-63.
TESSEL_AVX512VNNI void build_quad64(const PanelPlan& plan, const int8_t* const* x_rows,
                                    uint8_t* panels, void* scratch) {
  __m512i* rows = static_cast<__m512i*>(scratch);
  __m512i* pairs = rows + plan.sg_rows;
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const __m512i perm = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  for (int i = 0; i < plan.sg_rows; ++i) {
    const __m512i v = _mm512_loadu_si512(x_rows[i]);
    const __m512i u = _mm512_xor_si512(v, flip);
    rows[i] = _mm512_mask_permutexvar_epi32(u, 0xFFFF, perm, u);  // (unmasked: GCC 12 warns)
  }
  for (size_t p = 0; p < plan.pairs.size(); ++p) {
    const __m512i a = rows[plan.pairs[p][0]], b = rows[plan.pairs[p][1]];
    pairs[2 * p] = _mm512_unpacklo_epi8(a, b);
    pairs[2 * p + 1] = _mm512_unpackhi_epi8(a, b);
  }
  __m512i* out = reinterpret_cast<__m512i*>(panels);
  for (const auto& h : plan.halves) {
    const __m512i lo0 = pairs[2 * h[0]], hi0 = pairs[2 * h[0] + 1];
    const __m512i lo1 = pairs[2 * h[1]], hi1 = pairs[2 * h[1] + 1];
    _mm512_store_si512(out, _mm512_unpacklo_epi16(lo0, lo1));
    _mm512_store_si512(out + 1, _mm512_unpackhi_epi16(lo0, lo1));
    _mm512_store_si512(out + 2, _mm512_unpacklo_epi16(hi0, hi1));
    _mm512_store_si512(out + 3, _mm512_unpackhi_epi16(hi0, hi1));
    out += 4;
  }
}

// kPairI16: each row is widened to two ymm of int16 (tokens 0-15, 16-31) whose qwords are
// permuted [0,2,1,3]; unpacking two rows' words gives [a,b] dwords for 8 tokens each.
TESSEL_AVX2 void build_pair(const PanelPlan& plan, const int8_t* const* x_rows, uint8_t* panels,
                            void* scratch) {
  __m256i* rows = static_cast<__m256i*>(scratch);
  for (int i = 0; i < plan.sg_rows; ++i) {
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x_rows[i]));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x_rows[i] + 16));
    rows[2 * i] = _mm256_permute4x64_epi64(_mm256_cvtepi8_epi16(lo), 0xD8);
    rows[2 * i + 1] = _mm256_permute4x64_epi64(_mm256_cvtepi8_epi16(hi), 0xD8);
  }
  __m256i* out = reinterpret_cast<__m256i*>(panels);
  for (const auto& t : plan.tuples) {
    const __m256i* a = rows + 2 * t[0];
    const __m256i* b = rows + 2 * t[1];
    _mm256_store_si256(out, _mm256_unpacklo_epi16(a[0], b[0]));
    _mm256_store_si256(out + 1, _mm256_unpackhi_epi16(a[0], b[0]));
    _mm256_store_si256(out + 2, _mm256_unpacklo_epi16(a[1], b[1]));
    _mm256_store_si256(out + 3, _mm256_unpackhi_epi16(a[1], b[1]));
    out += 4;
  }
}

// Row kernels: R rows at a time, each row's token block in 4 registers, accumulators in
// registers for the whole chunk (arrays indexed by unrolled constants stay in registers).
// Per entry: one broadcast of the packed weights, V multiply-accumulates whose activation
// operand is the panel the entry points at. R*V independent accumulator chains cover the
// instruction latency.

template <int R>
TESSEL_AVX512VNNI void rows_avx512vnni_tile(const RowsArgs& a, int64_t r0) {
  __m512i acc[R][4];
  const Entry* e[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    e[r] = a.entries + (r0 + r) * a.entry_stride;
    const int32_t* in = a.acc + (r0 + r) * kZmmBlock;
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v)
      acc[r][v] = a.init ? _mm512_set1_epi32(a.init[r0 + r]) : _mm512_load_si512(in + 16 * v);
  }
  for (int64_t i = 0; i < a.count; ++i) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const Entry en = e[r][i];
      const __m512i w = _mm512_set1_epi32(en.weights);
      const uint8_t* p = a.panels + en.offset;
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v)
        acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], _mm512_load_si512(p + 64 * v), w);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    int32_t* y = a.y ? a.y + (r0 + r) * a.y_stride : a.acc + (r0 + r) * kZmmBlock;
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) _mm512_storeu_si512(y + 16 * v, acc[r][v]);
  }
}

TESSEL_AVX512VNNI void rows_avx512vnni(const RowsArgs& a) {
  constexpr int kRows = 4;
  int64_t r = 0;
  for (; r + kRows <= a.rows; r += kRows) rows_avx512vnni_tile<kRows>(a, r);
  for (; r < a.rows; ++r) rows_avx512vnni_tile<1>(a, r);
}

template <int R>
TESSEL_AVXVNNI void rows_avxvnni_tile(const RowsArgs& a, int64_t r0) {
  __m256i acc[R][4];
  const Entry* e[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    e[r] = a.entries + (r0 + r) * a.entry_stride;
    const int32_t* in = a.acc + (r0 + r) * kYmmBlock;
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v)
      acc[r][v] = a.init ? _mm256_set1_epi32(a.init[r0 + r])
                         : _mm256_load_si256(reinterpret_cast<const __m256i*>(in + 8 * v));
  }
  for (int64_t i = 0; i < a.count; ++i) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const Entry en = e[r][i];
      const __m256i w = _mm256_set1_epi32(en.weights);
      const __m256i* p = reinterpret_cast<const __m256i*>(a.panels + en.offset);
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v)
        acc[r][v] = _mm256_dpbusd_avx_epi32(acc[r][v], _mm256_load_si256(p + v), w);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    int32_t* y = a.y ? a.y + (r0 + r) * a.y_stride : a.acc + (r0 + r) * kYmmBlock;
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + 8 * v), acc[r][v]);
  }
}

TESSEL_AVXVNNI void rows_avxvnni(const RowsArgs& a) {
  constexpr int kRows = 2;  // 8 of the 16 ymm registers hold accumulators
  int64_t r = 0;
  for (; r + kRows <= a.rows; r += kRows) rows_avxvnni_tile<kRows>(a, r);
  for (; r < a.rows; ++r) rows_avxvnni_tile<1>(a, r);
}

template <int R>
TESSEL_AVX2 void rows_avx2_tile(const RowsArgs& a, int64_t r0) {
  __m256i acc[R][4];
  const Entry* e[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    e[r] = a.entries + (r0 + r) * a.entry_stride;
    const int32_t* in = a.acc + (r0 + r) * kYmmBlock;
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v)
      acc[r][v] = a.init ? _mm256_set1_epi32(a.init[r0 + r])
                         : _mm256_load_si256(reinterpret_cast<const __m256i*>(in + 8 * v));
  }
  for (int64_t i = 0; i < a.count; ++i) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const Entry en = e[r][i];
      const __m256i w = _mm256_set1_epi32(en.weights);
      const __m256i* p = reinterpret_cast<const __m256i*>(a.panels + en.offset);
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v)
        acc[r][v] = _mm256_add_epi32(acc[r][v], _mm256_madd_epi16(_mm256_load_si256(p + v), w));
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    int32_t* y = a.y ? a.y + (r0 + r) * a.y_stride : a.acc + (r0 + r) * kYmmBlock;
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + 8 * v), acc[r][v]);
  }
}

TESSEL_AVX2 void rows_avx2(const RowsArgs& a) {
  constexpr int kRows = 2;
  int64_t r = 0;
  for (; r + kRows <= a.rows; r += kRows) rows_avx2_tile<kRows>(a, r);
  for (; r < a.rows; ++r) rows_avx2_tile<1>(a, r);
}

const PanelKernel kAvx512Vnni{LaneFormat::kQuadU8, kZmmBlock, build_quad64, rows_avx512vnni};
const PanelKernel kAvxVnni{LaneFormat::kQuadU8, kYmmBlock, build_quad, rows_avxvnni};
const PanelKernel kAvx2{LaneFormat::kPairI16, kYmmBlock, build_pair, rows_avx2};

}  // namespace

bool x86_supports(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kPortable:
      return true;
    case CpuIsa::kAvx2:
      return __builtin_cpu_supports("avx2");
    case CpuIsa::kAvxVnni: {
      // AVX-VNNI is CPUID leaf 7, sub-leaf 1, EAX bit 4, read directly: clang before 15
      // rejects __builtin_cpu_supports("avxvnni") at compile time (the tsan preset's clang 14).
      unsigned a = 0, b = 0, c = 0, d = 0;
      const bool vnni = __get_cpuid_count(7, 1, &a, &b, &c, &d) != 0 && (a & (1u << 4)) != 0;
      return __builtin_cpu_supports("avx2") && vnni;
    }
    case CpuIsa::kAvx512Vnni:
      // The builders are AVX2; every AVX-512 VNNI CPU has it, but check rather than assume.
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512vnni");
  }
  return false;
}

const PanelKernel* panel_kernel(CpuIsa isa) {
  if (!x86_supports(isa)) return nullptr;
  switch (isa) {
    case CpuIsa::kAvx512Vnni:
      return &kAvx512Vnni;
    case CpuIsa::kAvxVnni:
      return &kAvxVnni;
    case CpuIsa::kAvx2:
      return &kAvx2;
    case CpuIsa::kPortable:
      break;
  }
  return nullptr;
}

}  // namespace tessel::sparse::int8_kernel

#else  // not x86: only the portable loops exist

namespace tessel::sparse::int8_kernel {
bool x86_supports(CpuIsa isa) {
  return isa == CpuIsa::kPortable;
}
const PanelKernel* panel_kernel(CpuIsa) {
  return nullptr;
}
}  // namespace tessel::sparse::int8_kernel

#endif
