// The table the CUDA plugin exports for models/fgd (softmax_cuda.cu) and
// softmax_cuda_client.cpp calls through.
#pragma once

#include <cstdint>

namespace tessel::fgd {

// Symbol of `const SoftmaxCudaApi* tessel_cuda_fgd_api()` in libtessel_cuda.so.
inline constexpr const char* kSoftmaxCudaApiSymbol = "tessel_cuda_fgd_api";

struct SoftmaxCudaApi {
  int (*device_count)();
  // W (vocab x dim, row-major) and b uploaded; returns the plugin's state.
  void* (*create)(const float* weight, const float* bias, int64_t vocab, int dim);
  void (*destroy)(void* state);
  void (*decode)(void* state, const float* h, int n, int K, int32_t* ids, float* top,
                 double* log_z);
};

}  // namespace tessel::fgd
