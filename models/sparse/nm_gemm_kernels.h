// Raw-pointer interface of the CUDA N:M kernels (kept free of Eigen so nvcc never parses it),
// and the table the CUDA plugin exports them in (nm_gemm_cuda.cpp calls through it).
//
// All matrices are row-major host arrays; each call uploads, runs and downloads. Shapes:
// W compressed rows x kept (kept = K/M*N) with one index byte (0..M-1) per value;
// X is K x T; Y is rows x T.
#pragma once

#include <cstdint>

namespace tessel::sparse::cuda {

int device_count();

void nm_gemm_int8(const int8_t* vals, const uint8_t* idx, int64_t rows, int64_t k, int n, int m,
                  const int8_t* x, int64_t t, int32_t* y);
void nm_gemm_f32(const float* vals, const uint8_t* idx, int64_t rows, int64_t k, int n, int m,
                 const float* x, int64_t t, float* y);

// 2:4 sparse tensor cores (mma.sp m16n8k32). rows % 16 == 0, k % 32 == 0, t % 8 == 0 (the
// caller pads). vals: rows x k/2; meta: NVIDIA nibble words (models/sparse/compressed.h),
// fp16: rows x k/16 16-bit words, int8: rows x k/32 32-bit words; fp16 values are raw
// IEEE half bit patterns.
void sparse_tc_f16(const uint16_t* vals, const uint16_t* meta, int64_t rows, int64_t k,
                   const uint16_t* x, int64_t t, float* y);
void sparse_tc_int8(const int8_t* vals, const uint32_t* meta, int64_t rows, int64_t k,
                    const int8_t* x, int64_t t, int32_t* y);

// cuBLAS dense fp16 x fp16 -> fp32 (Y = W X), the baseline.
void dense_f16(const uint16_t* w, const uint16_t* x, int64_t rows, int64_t k, int64_t t, float* y);

struct Timings {
  double nm_int8_ms, tc_fp16_ms, tc_int8_ms, cublas_fp16_ms;
};
// Mean device milliseconds per call over `reps` launches on random device-resident data.
Timings time_gemms(int64_t rows, int64_t k, int64_t t, int reps);

// Symbol of `const Api* tessel_cuda_sparse_api()` in libtessel_cuda.so.
inline constexpr const char* kApiSymbol = "tessel_cuda_sparse_api";

// The functions above, as the plugin exports them.
struct Api {
  int (*device_count)();
  void (*nm_gemm_int8)(const int8_t* vals, const uint8_t* idx, int64_t rows, int64_t k, int n,
                       int m, const int8_t* x, int64_t t, int32_t* y);
  void (*nm_gemm_f32)(const float* vals, const uint8_t* idx, int64_t rows, int64_t k, int n, int m,
                      const float* x, int64_t t, float* y);
  void (*sparse_tc_f16)(const uint16_t* vals, const uint16_t* meta, int64_t rows, int64_t k,
                        const uint16_t* x, int64_t t, float* y);
  void (*sparse_tc_int8)(const int8_t* vals, const uint32_t* meta, int64_t rows, int64_t k,
                         const int8_t* x, int64_t t, int32_t* y);
  void (*dense_f16)(const uint16_t* w, const uint16_t* x, int64_t rows, int64_t k, int64_t t,
                    float* y);
  Timings (*time_gemms)(int64_t rows, int64_t k, int64_t t, int reps);
};

}  // namespace tessel::sparse::cuda
