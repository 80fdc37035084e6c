// Host side of the CUDA N:M GEMMs: shape checks, padding to mma tiles, NVIDIA metadata; the
// kernels run in the CUDA plugin (models/common/cuda_plugin.h), loaded on the first call.
#include "models/sparse/nm_gemm_cuda.h"

#include <cstring>

#include "models/common/cuda_plugin.h"
#include "models/sparse/nm_gemm_kernels.h"
#include "runtime/core/error.h"

namespace tessel::sparse {
namespace {

const cuda::Api& gpu() {
  static const cuda::Api& api = cuda_plugin_api<cuda::Api>(cuda::kApiSymbol);
  return api;
}

void require_gpu(const char* what) {
  if (gpu().device_count() == 0)
    throw Error(std::string(what) + ": no CUDA device present", kExitFailure);
}

template <typename T>
void require_24(const CompressedMatrix<T>& w, const char* what) {
  if (!(w.pattern == Pattern{2, 4}))
    throw ConfigError(std::string(what) + ": sparse tensor cores need 2:4, matrix is " +
                      w.pattern.str());
}

int64_t round_up(int64_t v, int64_t to) {
  return (v + to - 1) / to * to;
}

// The compressed matrix grown to rows_p x cols_p: new groups hold zeros at positions 0, 1
// (a valid 2:4 nibble), so padding contributes nothing to the product.
template <typename T>
CompressedMatrix<T> pad_24(const CompressedMatrix<T>& w, int64_t rows_p, int64_t cols_p) {
  CompressedMatrix<T> p;
  p.pattern = w.pattern;
  p.rows = rows_p;
  p.cols = cols_p;
  p.values = CompressedMatrix<T>::Dense::Zero(rows_p, cols_p / 2);
  p.values.topLeftCorner(w.rows, w.kept_per_row()) = w.values;
  std::vector<uint8_t> src = w.unpacked_indices();
  std::vector<uint8_t> idx(static_cast<size_t>(rows_p * cols_p / 2));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<uint8_t>(i % 2);
  for (int64_t r = 0; r < w.rows; ++r)
    std::memcpy(&idx[static_cast<size_t>(r * cols_p / 2)],
                &src[static_cast<size_t>(r * w.kept_per_row())],
                static_cast<size_t>(w.kept_per_row()));
  pack_indices(idx, p.pattern.index_bits(), p.packed_indices);
  return p;
}

template <typename T>
Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> pad_x(
    const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>& x, int64_t rows_p,
    int64_t cols_p) {
  Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> p =
      Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>::Zero(rows_p, cols_p);
  p.topLeftCorner(x.rows(), x.cols()) = x;
  return p;
}

template <typename T, typename X>
void check_shapes(const CompressedMatrix<T>& w, const X& x, const char* what) {
  if (x.rows() != w.cols)
    throw ConfigError(std::string(what) + ": W has K=" + std::to_string(w.cols) + ", X has " +
                      std::to_string(x.rows()) + " rows");
}

}  // namespace

int cuda_device_count() {
  return gpu().device_count();
}

MatrixI32 cuda_nm_gemm(const CompressedMatrix<int8_t>& w, const MatrixI8& x) {
  check_shapes(w, x, "cuda_nm_gemm");
  require_gpu("cuda_nm_gemm");
  std::vector<uint8_t> idx = w.unpacked_indices();
  MatrixI32 y(w.rows, x.cols());
  gpu().nm_gemm_int8(w.values.data(), idx.data(), w.rows, w.cols, w.pattern.n, w.pattern.m,
                     x.data(), x.cols(), y.data());
  return y;
}

MatrixF cuda_nm_gemm(const CompressedMatrix<float>& w, const MatrixF& x) {
  check_shapes(w, x, "cuda_nm_gemm");
  require_gpu("cuda_nm_gemm");
  std::vector<uint8_t> idx = w.unpacked_indices();
  MatrixF y(w.rows, x.cols());
  gpu().nm_gemm_f32(w.values.data(), idx.data(), w.rows, w.cols, w.pattern.n, w.pattern.m, x.data(),
                    x.cols(), y.data());
  return y;
}

MatrixF cuda_sparse_tc_gemm(const CompressedMatrix<Eigen::half>& w, const MatrixH& x) {
  check_shapes(w, x, "cuda_sparse_tc_gemm");
  require_24(w, "cuda_sparse_tc_gemm");
  require_gpu("cuda_sparse_tc_gemm");
  const int64_t rp = round_up(w.rows, 16), kp = round_up(w.cols, 32), tp = round_up(x.cols(), 8);
  CompressedMatrix<Eigen::half> wp = pad_24(w, rp, kp);
  // The kernel pairs the 16-bit words of rows g and g+8 per lane (nm_gemm_kernels.cu).
  std::vector<uint16_t> meta = nvidia_metadata_fp16(wp);
  MatrixH xp = pad_x(x, kp, tp);
  MatrixF yp(rp, tp);
  gpu().sparse_tc_f16(reinterpret_cast<const uint16_t*>(wp.values.data()), meta.data(), rp, kp,
                      reinterpret_cast<const uint16_t*>(xp.data()), tp, yp.data());
  return yp.topLeftCorner(w.rows, x.cols());
}

MatrixI32 cuda_sparse_tc_gemm(const CompressedMatrix<int8_t>& w, const MatrixI8& x) {
  check_shapes(w, x, "cuda_sparse_tc_gemm");
  require_24(w, "cuda_sparse_tc_gemm");
  require_gpu("cuda_sparse_tc_gemm");
  const int64_t rp = round_up(w.rows, 16), kp = round_up(w.cols, 32), tp = round_up(x.cols(), 8);
  CompressedMatrix<int8_t> wp = pad_24(w, rp, kp);
  std::vector<uint32_t> meta = nvidia_metadata_int8(wp);
  MatrixI8 xp = pad_x(x, kp, tp);
  MatrixI32 yp(rp, tp);
  gpu().sparse_tc_int8(wp.values.data(), meta.data(), rp, kp, xp.data(), tp, yp.data());
  return yp.topLeftCorner(w.rows, x.cols());
}

MatrixF cuda_dense_gemm(const MatrixH& w, const MatrixH& x) {
  if (x.rows() != w.cols())
    throw ConfigError("cuda_dense_gemm: W has K=" + std::to_string(w.cols()) + ", X has " +
                      std::to_string(x.rows()) + " rows");
  require_gpu("cuda_dense_gemm");
  MatrixF y(w.rows(), x.cols());
  gpu().dense_f16(reinterpret_cast<const uint16_t*>(w.data()),
                  reinterpret_cast<const uint16_t*>(x.data()), w.rows(), w.cols(), x.cols(),
                  y.data());
  return y;
}

CudaTimings cuda_time_gemms(int64_t out, int64_t k, int64_t tokens, int reps) {
  require_gpu("cuda_time_gemms");
  if (out % 16 || k % 32 || tokens % 8)
    throw ConfigError("cuda_time_gemms: need out % 16 == 0, K % 32 == 0, tokens % 8 == 0");
  cuda::Timings t = gpu().time_gemms(out, k, tokens, reps);
  return CudaTimings{t.nm_int8_ms, t.tc_fp16_ms, t.tc_int8_ms, t.cublas_fp16_ms};
}

}  // namespace tessel::sparse
