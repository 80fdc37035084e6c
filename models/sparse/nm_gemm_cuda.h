// CUDA GEMMs on N:M compressed weights: a generic N:M kernel and a 2:4 sparse-tensor-core path.
#pragma once

#include "models/sparse/compressed.h"

namespace tessel::sparse {

// Number of usable CUDA devices; 0 when built without CUDA or with no GPU present.
int cuda_device_count();

// Generic N:M kernel (any N < M <= 16) on CUDA cores: each thread owns one output element
// and walks the compressed row, using the stored indices to pick activations — the GPU
// form of the activation multiplexer. int8 accumulates in int32 (exact).
MatrixI32 cuda_nm_gemm(const CompressedMatrix<int8_t>& w, const MatrixI8& x);
MatrixF cuda_nm_gemm(const CompressedMatrix<float>& w, const MatrixF& x);

// 2:4 on sparse tensor cores via mma.sp::ordered_metadata PTX, shape m16n8k32 for both
// fp16 (fp32 accumulation) and int8 (int32 accumulation). Requires pattern 2:4; pads
// rows to 16, K to 32 and tokens to 8 internally. Built for sm_90.
MatrixF cuda_sparse_tc_gemm(const CompressedMatrix<Eigen::half>& w, const MatrixH& x);
MatrixI32 cuda_sparse_tc_gemm(const CompressedMatrix<int8_t>& w, const MatrixI8& x);

// Dense cuBLAS baselines for the benchmark (fp16 in, fp32 out; int8 in, int32 out).
MatrixF cuda_dense_gemm(const MatrixH& w, const MatrixH& x);

// Device time in milliseconds of `reps` back-to-back launches of each GPU path on
// operands already resident on the device (for bench/nm_cuda_gemm.cpp).
struct CudaTimings {
  double nm_int8_ms = 0, tc_fp16_ms = 0, tc_int8_ms = 0, cublas_fp16_ms = 0;
};
CudaTimings cuda_time_gemms(int64_t out, int64_t k, int64_t tokens, int reps);

}  // namespace tessel::sparse
