// The CUDA entry points in a build without nvcc: no device, and calling a kernel is an error.
#include "models/sparse/nm_gemm_cuda.h"

#include "runtime/core/error.h"

namespace tessel::sparse {
namespace {
[[noreturn]] void no_cuda() {
  throw Error("sparse: this build has no CUDA support (nvcc was not found at configure time)",
              kExitFailure);
}
}  // namespace

int cuda_device_count() {
  return 0;
}
MatrixI32 cuda_nm_gemm(const CompressedMatrix<int8_t>&, const MatrixI8&) {
  no_cuda();
}
MatrixF cuda_nm_gemm(const CompressedMatrix<float>&, const MatrixF&) {
  no_cuda();
}
MatrixF cuda_sparse_tc_gemm(const CompressedMatrix<Eigen::half>&, const MatrixH&) {
  no_cuda();
}
MatrixI32 cuda_sparse_tc_gemm(const CompressedMatrix<int8_t>&, const MatrixI8&) {
  no_cuda();
}
MatrixF cuda_dense_gemm(const MatrixH&, const MatrixH&) {
  no_cuda();
}
CudaTimings cuda_time_gemms(int64_t, int64_t, int64_t, int) {
  no_cuda();
}

}  // namespace tessel::sparse
