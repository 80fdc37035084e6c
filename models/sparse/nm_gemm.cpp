// CPU GEMMs on N:M compressed weights: the plain reference and the SIMD fast path.
#include "models/sparse/nm_gemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TESSEL_SPARSE_X86 1
#endif

#include "models/sparse/nm_gemm_cuda.h"
#include "runtime/core/error.h"

namespace tessel::sparse {
namespace {

template <typename T, typename X>
void check_shapes(const CompressedMatrix<T>& w, const X& x, const char* what) {
  if (x.rows() != w.cols)
    throw ConfigError(std::string(what) + ": W is " + std::to_string(w.rows) + "x" +
                      std::to_string(w.cols) + " but X has " + std::to_string(x.rows()) +
                      " rows (expected K=" + std::to_string(w.cols) + ")");
}

// Kept weights of each row paired up: the int8 kernel multiplies two activations rows
// by two weights per madd instruction. An odd count is padded with a zero weight that
// points at the row's first column (any valid row works: it is multiplied by 0).
struct PairList {
  std::vector<int32_t> k0, k1;   // activation rows of the pair
  std::vector<int32_t> weights;  // w0 in the low 16 bits, w1 in the high 16 bits
  std::vector<int64_t> row_start;
};

PairList make_pairs(const CompressedMatrix<int8_t>& w) {
  PairList p;
  std::vector<uint8_t> idx = w.unpacked_indices();
  const int64_t kept = w.kept_per_row();
  p.row_start.reserve(static_cast<size_t>(w.rows + 1));
  for (int64_t r = 0; r < w.rows; ++r) {
    p.row_start.push_back(static_cast<int64_t>(p.k0.size()));
    for (int64_t j = 0; j < kept; j += 2) {
      auto col = [&](int64_t jj) {
        return static_cast<int32_t>((jj / w.pattern.n) * w.pattern.m +
                                    idx[static_cast<size_t>(r * kept + jj)]);
      };
      int32_t w0 = w.values(r, j);
      int32_t w1 = j + 1 < kept ? w.values(r, j + 1) : 0;
      p.k0.push_back(col(j));
      p.k1.push_back(j + 1 < kept ? col(j + 1) : col(j));
      p.weights.push_back(static_cast<int32_t>((static_cast<uint32_t>(w0) & 0xFFFF) |
                                               (static_cast<uint32_t>(w1) << 16)));
    }
  }
  p.row_start.push_back(static_cast<int64_t>(p.k0.size()));
  return p;
}

void int8_pairs_portable(const PairList& p, const int16_t* x16, int64_t t_count, int64_t rows,
                         int32_t* y) {
  for (int64_t r = 0; r < rows; ++r) {
    int32_t* yr = y + r * t_count;
    std::memset(yr, 0, sizeof(int32_t) * static_cast<size_t>(t_count));
    for (int64_t q = p.row_start[r]; q < p.row_start[r + 1]; ++q) {
      const int32_t w0 = static_cast<int16_t>(p.weights[q] & 0xFFFF);
      const int32_t w1 = static_cast<int16_t>(static_cast<uint32_t>(p.weights[q]) >> 16);
      const int16_t* a = x16 + int64_t{p.k0[q]} * t_count;
      const int16_t* b = x16 + int64_t{p.k1[q]} * t_count;
      for (int64_t t = 0; t < t_count; ++t) yr[t] += w0 * a[t] + w1 * b[t];
    }
  }
}

#ifdef TESSEL_SPARSE_X86
// The int8 N:M kernel. Activations are widened to int16 once (O(K*T), against the
// O(out*K*T*N/M) product). For each block of 64 tokens and each chunk of K (an even number
// of whole groups, about 128 rows of X), the chunk's activations are copied into a
// contiguous 16 KiB panel that every output row then reuses: unpacked, rows of X sit
// t_count int16 apart (2 KiB for 1024 tokens) and all map to the same L1 sets. Per row,
// each weight pair (w0, w1) at activation rows (k0, k1) interleaves 16 tokens of the two
// rows and one vpmaddwd computes w0*x[k0][t] + w1*x[k1][t] for 8 tokens into int32 —
// exact, since |w*x| <= 2^14 and two of them fit 2^15. The interleave is the software form
// of the hardware's activation multiplexer: the index picks the row, not a dense K step.
// Pairs never straddle chunks because chunks hold an even number of groups.
struct Int8Chunking {
  int64_t chunk_k = 0;      // K rows per chunk
  int64_t chunk_pairs = 0;  // weight pairs of one row per chunk
};

Int8Chunking int8_chunking(const Pattern& p) {
  const int64_t groups = std::max<int64_t>(2, (128 / p.m) & ~int64_t{1});
  return Int8Chunking{groups * p.m, groups * p.n / 2};
}

// unpacklo/hi work within 128-bit lanes, so an accumulator pair (lo, hi) for 16 tokens
// holds tokens 0-3 | 8-11 and 4-7 | 12-15; these convert to and from y's natural order.
__attribute__((target("avx2"))) inline void load_pair(const int32_t* y, __m256i& lo, __m256i& hi) {
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y));
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + 8));
  lo = _mm256_permute2x128_si256(a, b, 0x20);
  hi = _mm256_permute2x128_si256(a, b, 0x31);
}
__attribute__((target("avx2"))) inline void store_pair(int32_t* y, __m256i lo, __m256i hi) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), _mm256_permute2x128_si256(lo, hi, 0x20));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
}
__attribute__((target("avx2"))) inline void madd_16(const int16_t* a, const int16_t* b, __m256i wp,
                                                    __m256i& lo, __m256i& hi) {
  const __m256i xa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
  const __m256i xb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
  lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(xa, xb), wp));
  hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(xa, xb), wp));
}

// y must be zero on entry; rows of y accumulate chunk by chunk.
__attribute__((target("avx2"))) void int8_pairs_avx2(const PairList& p, const Int8Chunking& ch,
                                                     int64_t k, const int16_t* x16, int64_t t_count,
                                                     int64_t rows, int32_t* y) {
  constexpr int64_t kBlock = 64;
  const int64_t t_vec = t_count / 16 * 16;
  std::vector<int16_t> panel(static_cast<size_t>(ch.chunk_k * kBlock));
  for (int64_t t0 = 0; t0 < t_vec; t0 += kBlock) {
    const int64_t tb = std::min(kBlock, t_vec - t0);
    for (int64_t c = 0, kbase = 0; kbase < k; ++c, kbase += ch.chunk_k) {
      const int64_t kn = std::min(ch.chunk_k, k - kbase);
      for (int64_t kk = 0; kk < kn; ++kk)
        std::memcpy(&panel[static_cast<size_t>(kk * kBlock)], x16 + (kbase + kk) * t_count + t0,
                    sizeof(int16_t) * static_cast<size_t>(tb));
      const int16_t* pan = panel.data() - kbase * kBlock;  // indexed by absolute k
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t q0 = p.row_start[r] + c * ch.chunk_pairs;
        const int64_t q1 = std::min(q0 + ch.chunk_pairs, p.row_start[r + 1]);
        if (q0 >= q1) continue;
        int32_t* yr = y + r * t_count + t0;
        if (tb == kBlock) {
          // Named accumulators: GCC spills an array of __m256i to the stack every pair.
          __m256i l0, h0, l1, h1, l2, h2, l3, h3;
          load_pair(yr, l0, h0);
          load_pair(yr + 16, l1, h1);
          load_pair(yr + 32, l2, h2);
          load_pair(yr + 48, l3, h3);
          for (int64_t q = q0; q < q1; ++q) {
            const __m256i wp = _mm256_set1_epi32(p.weights[q]);
            const int16_t* a = pan + int64_t{p.k0[q]} * kBlock;
            const int16_t* b = pan + int64_t{p.k1[q]} * kBlock;
            madd_16(a, b, wp, l0, h0);
            madd_16(a + 16, b + 16, wp, l1, h1);
            madd_16(a + 32, b + 32, wp, l2, h2);
            madd_16(a + 48, b + 48, wp, l3, h3);
          }
          store_pair(yr, l0, h0);
          store_pair(yr + 16, l1, h1);
          store_pair(yr + 32, l2, h2);
          store_pair(yr + 48, l3, h3);
        } else {
          for (int64_t c16 = 0; c16 < tb; c16 += 16) {
            __m256i lo, hi;
            load_pair(yr + c16, lo, hi);
            for (int64_t q = q0; q < q1; ++q)
              madd_16(pan + int64_t{p.k0[q]} * kBlock + c16, pan + int64_t{p.k1[q]} * kBlock + c16,
                      _mm256_set1_epi32(p.weights[q]), lo, hi);
            store_pair(yr + c16, lo, hi);
          }
        }
      }
    }
  }
  // Tokens left over after the last full 16: portable loop.
  for (int64_t r = 0; r < rows && t_vec < t_count; ++r) {
    int32_t* yr = y + r * t_count;
    for (int64_t q = p.row_start[r]; q < p.row_start[r + 1]; ++q) {
      const int32_t w0 = static_cast<int16_t>(p.weights[q] & 0xFFFF);
      const int32_t w1 = static_cast<int16_t>(static_cast<uint32_t>(p.weights[q]) >> 16);
      const int16_t* a = x16 + int64_t{p.k0[q]} * t_count;
      const int16_t* b = x16 + int64_t{p.k1[q]} * t_count;
      for (int64_t t = t_vec; t < t_count; ++t) yr[t] += w0 * a[t] + w1 * b[t];
    }
  }
}

// fp32: for each row and block of 64 tokens, the 64 outputs live in 8 registers while
// every kept weight is broadcast and fused-multiply-added with the 64 activations of its
// row (one load per FMA). Accumulates onto yr (one K block at a time). Needs tb == 64.
__attribute__((target("avx2,fma"))) void float_block_avx2(const float* vals, const int32_t* cols,
                                                          int64_t kept, const float* x,
                                                          int64_t t_count, int64_t t0, float* yr) {
  // Named accumulators, not an array: GCC keeps an array of __m256 on the stack and
  // stores all eight back every iteration.
  __m256 a0 = _mm256_loadu_ps(yr), a1 = _mm256_loadu_ps(yr + 8), a2 = _mm256_loadu_ps(yr + 16),
         a3 = _mm256_loadu_ps(yr + 24), a4 = _mm256_loadu_ps(yr + 32),
         a5 = _mm256_loadu_ps(yr + 40), a6 = _mm256_loadu_ps(yr + 48),
         a7 = _mm256_loadu_ps(yr + 56);
  for (int64_t j = 0; j < kept; ++j) {
    const __m256 wv = _mm256_broadcast_ss(vals + j);
    const float* xr = x + int64_t{cols[j]} * t_count + t0;
    a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xr), a0);
    a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xr + 8), a1);
    a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xr + 16), a2);
    a3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xr + 24), a3);
    a4 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xr + 32), a4);
    a5 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xr + 40), a5);
    a6 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xr + 48), a6);
    a7 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xr + 56), a7);
  }
  _mm256_storeu_ps(yr, a0);
  _mm256_storeu_ps(yr + 8, a1);
  _mm256_storeu_ps(yr + 16, a2);
  _mm256_storeu_ps(yr + 24, a3);
  _mm256_storeu_ps(yr + 32, a4);
  _mm256_storeu_ps(yr + 40, a5);
  _mm256_storeu_ps(yr + 48, a6);
  _mm256_storeu_ps(yr + 56, a7);
}
#endif

void float_axpy_portable(const float* vals, const int32_t* cols, int64_t kept, const float* x,
                         int64_t t_count, int64_t t0, int64_t tb, float* yr) {
  for (int64_t j = 0; j < kept; ++j) {
    const float wv = vals[j];
    const float* xr = x + int64_t{cols[j]} * t_count + t0;
    for (int64_t t = 0; t < tb; ++t) yr[t] += wv * xr[t];
  }
}

MatrixF float_gemm_cpu(const MatrixF& values, const CompressedMatrix<float>& shape,
                       const MatrixF& x) {
  const int64_t kept = shape.kept_per_row(), t_count = x.cols();
  const int64_t n = shape.pattern.n, m = shape.pattern.m;
  std::vector<uint8_t> idx = shape.unpacked_indices();
  // K offset of each stored weight within its chunk (chunks are whole groups).
  const int64_t chunk_groups = std::max<int64_t>(1, 128 / m);
  const int64_t chunk_kept = chunk_groups * n, chunk_k = chunk_groups * m;
  std::vector<int32_t> cols(idx.size());
  for (size_t i = 0; i < idx.size(); ++i) {
    const int64_t j = static_cast<int64_t>(i % static_cast<size_t>(kept));
    cols[i] = static_cast<int32_t>((j % chunk_kept) / n * m + idx[i]);
  }
  MatrixF y = MatrixF::Zero(shape.rows, t_count);
  // Blocks of 64 tokens x chunk_k (about 128) rows of X, copied into a contiguous panel
  // (32 KiB) that every output row then reuses. Unpacked, the rows of X sit t_count
  // floats apart — 4 KiB for 1024 tokens — so the rows a chunk touches all map to the
  // same L1 sets and evict each other; the panel removes that conflict.
  constexpr int64_t kBlock = 64;
  std::vector<float> panel(static_cast<size_t>(chunk_k * kBlock));
  const bool avx2 = cpu_has_avx2();
  for (int64_t t0 = 0; t0 < t_count; t0 += kBlock) {
    const int64_t tb = std::min(kBlock, t_count - t0);
    for (int64_t j0 = 0; j0 < kept; j0 += chunk_kept) {
      const int64_t jn = std::min(chunk_kept, kept - j0);
      const int64_t k0 = j0 / n * m, kn = std::min(chunk_k, shape.cols - k0);
      for (int64_t kk = 0; kk < kn; ++kk)
        std::memcpy(&panel[static_cast<size_t>(kk * kBlock)], x.data() + (k0 + kk) * t_count + t0,
                    sizeof(float) * static_cast<size_t>(tb));
      for (int64_t r = 0; r < shape.rows; ++r) {
        const float* vr = values.data() + r * kept + j0;
        const int32_t* cr = cols.data() + r * kept + j0;
        float* yr = y.data() + r * t_count + t0;
#ifdef TESSEL_SPARSE_X86
        if (avx2 && tb == kBlock) {
          float_block_avx2(vr, cr, jn, panel.data(), kBlock, 0, yr);
          continue;
        }
#endif
        (void)avx2;
        float_axpy_portable(vr, cr, jn, panel.data(), kBlock, 0, tb, yr);
      }
    }
  }
  return y;
}

}  // namespace

Backend parse_backend(const std::string& name) {
  if (name == "cpu") return Backend::kCpu;
  if (name == "cuda") return Backend::kCuda;
  throw ConfigError("backend: expected \"cpu\" or \"cuda\", got \"" + name + "\"");
}

const char* backend_name(Backend b) {
  return b == Backend::kCpu ? "cpu" : "cuda";
}

bool cpu_has_avx2() {
#ifdef TESSEL_SPARSE_X86
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

MatrixI32 nm_gemm_reference(const CompressedMatrix<int8_t>& w, const MatrixI8& x) {
  check_shapes(w, x, "nm_gemm_reference");
  MatrixI32 y = MatrixI32::Zero(w.rows, x.cols());
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t j = 0; j < w.kept_per_row(); ++j) {
      const int32_t wv = w.values(r, j);
      const int64_t k = w.column(r, j);
      for (int64_t t = 0; t < x.cols(); ++t) y(r, t) += wv * int32_t{x(k, t)};
    }
  return y;
}

MatrixF nm_gemm_reference(const CompressedMatrix<float>& w, const MatrixF& x) {
  check_shapes(w, x, "nm_gemm_reference");
  MatrixF y = MatrixF::Zero(w.rows, x.cols());
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t j = 0; j < w.kept_per_row(); ++j) {
      const float wv = w.values(r, j);
      const int64_t k = w.column(r, j);
      for (int64_t t = 0; t < x.cols(); ++t) y(r, t) += wv * x(k, t);
    }
  return y;
}

MatrixI32 nm_gemm(const CompressedMatrix<int8_t>& w, const MatrixI8& x, Backend backend) {
  check_shapes(w, x, "nm_gemm");
  if (backend == Backend::kCuda) return cuda_nm_gemm(w, x);
  PairList pairs = make_pairs(w);
  const int64_t t_count = x.cols();
  std::vector<int16_t> x16(static_cast<size_t>(x.size()));
  for (int64_t i = 0; i < x.size(); ++i) x16[static_cast<size_t>(i)] = x.data()[i];
  MatrixI32 y = MatrixI32::Zero(w.rows, t_count);
#ifdef TESSEL_SPARSE_X86
  if (cpu_has_avx2()) {
    int8_pairs_avx2(pairs, int8_chunking(w.pattern), w.cols, x16.data(), t_count, w.rows, y.data());
    return y;
  }
#endif
  int8_pairs_portable(pairs, x16.data(), t_count, w.rows, y.data());
  return y;
}

MatrixF nm_gemm(const CompressedMatrix<float>& w, const MatrixF& x, Backend backend) {
  check_shapes(w, x, "nm_gemm");
  if (backend == Backend::kCuda) return cuda_nm_gemm(w, x);
  return float_gemm_cpu(w.values, w, x);
}

MatrixF nm_gemm(const CompressedMatrix<Eigen::half>& w, const MatrixH& x, Backend backend) {
  check_shapes(w, x, "nm_gemm");
  // 2:4 runs on the sparse tensor cores; other patterns on the generic kernel.
  if (backend == Backend::kCuda && w.pattern == Pattern{2, 4}) return cuda_sparse_tc_gemm(w, x);
  // fp16 -> fp32 is exact, so this is fp16 operands with fp32 accumulation.
  CompressedMatrix<float> wf;
  wf.pattern = w.pattern;
  wf.rows = w.rows;
  wf.cols = w.cols;
  wf.packed_indices = w.packed_indices;
  wf.values = w.values.cast<float>();
  if (backend == Backend::kCuda) return cuda_nm_gemm(wf, x.cast<float>());
  return float_gemm_cpu(wf.values, wf, x.cast<float>());
}

}  // namespace tessel::sparse
