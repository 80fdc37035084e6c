// CPU GEMMs on N:M compressed weights: the plain references, the fp32 SIMD path and the
// entry points (the int8 kernel is in nm_gemm_int8.cpp / nm_gemm_x86.cpp).
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

#ifdef TESSEL_SPARSE_X86
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
  return NmGemmInt8Cpu(w)(x);
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
