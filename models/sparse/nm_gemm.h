// GEMM with N:M compressed weights: Y = W * X, W sparse (out x K, N:M along K), X dense (K x T).
//
// W plays the role of NVIDIA's sparse A operand (rows = output features, groups along the
// reduction dimension K); X holds one activation column per token. int8 accumulates
// exactly in int32 (so every backend must equal the dense product bit for bit); fp32 and
// fp16 accumulate in fp32.
#pragma once

#include <string>

#include "models/sparse/compressed.h"

namespace tessel::sparse {

// Which implementation nm_gemm(..., Backend) runs.
enum class Backend { kCpu, kCuda };
Backend parse_backend(const std::string& name);  // "cpu" | "cuda"; ConfigError otherwise
const char* backend_name(Backend b);

// Plain loops over the compressed form, in the order the hardware walks it: the
// reference every faster path (CPU SIMD, CUDA, SystemC) is checked against.
MatrixI32 nm_gemm_reference(const CompressedMatrix<int8_t>& w, const MatrixI8& x);
MatrixF nm_gemm_reference(const CompressedMatrix<float>& w, const MatrixF& x);

// Fast paths. kCpu: single-threaded SIMD (AVX2 when the CPU has it, checked at run time;
// portable loops otherwise). kCuda: models/sparse/nm_gemm_cuda.h; throws tessel::Error
// when the build has no CUDA or no GPU is present. Shapes are checked (ConfigError).
MatrixI32 nm_gemm(const CompressedMatrix<int8_t>& w, const MatrixI8& x,
                  Backend backend = Backend::kCpu);
MatrixF nm_gemm(const CompressedMatrix<float>& w, const MatrixF& x,
                Backend backend = Backend::kCpu);
// fp16 operands, fp32 accumulation and result (what a sparse tensor core computes). kCuda
// uses the sparse tensor cores for 2:4 and the generic N:M kernel otherwise.
MatrixF nm_gemm(const CompressedMatrix<Eigen::half>& w, const MatrixH& x,
                Backend backend = Backend::kCpu);

// Whether the running CPU takes the AVX2 path of nm_gemm(kCpu).
bool cpu_has_avx2();

}  // namespace tessel::sparse
