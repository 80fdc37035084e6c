// Dense Eigen GEMM baselines for bench_nxm_gemm, compiled with AVX2/FMA behind a raw-pointer
// interface.
//
// This file alone gets -mavx2 -mfma (bench/CMakeLists.txt) so Eigen's dense kernels use
// the same vector ISA as the sparse kernels' AVX2 path. Only raw pointers cross into
// other files: Eigen objects built with a different alignment setting must not be shared
// (their allocation and free paths differ, which crashes).
#include <cstdint>

#include <Eigen/Core>

namespace tessel::sparse::bench {

using RowI8 = Eigen::Matrix<int8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowI32 = Eigen::Matrix<int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// y = w * x on int8 operands widened to int32, as models/linalg/gemm_reference.h computes.
void dense_int8(const int8_t* w, const int8_t* x, int64_t out, int64_t k, int64_t t, int32_t* y) {
  Eigen::Map<const RowI8> wm(w, out, k), xm(x, k, t);
  Eigen::Map<RowI32> ym(y, out, t);
  ym.noalias() = wm.cast<int32_t>() * xm.cast<int32_t>();
}

void dense_fp32(const float* w, const float* x, int64_t out, int64_t k, int64_t t, float* y) {
  Eigen::Map<const RowF> wm(w, out, k), xm(x, k, t);
  Eigen::Map<RowF> ym(y, out, t);
  ym.noalias() = wm * xm;
}

bool vectorized_with_avx2() {
#ifdef EIGEN_VECTORIZE_AVX2
  return true;
#else
  return false;
#endif
}

}  // namespace tessel::sparse::bench
