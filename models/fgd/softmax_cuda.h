// The full-softmax and exact top-K baselines on the GPU: cuBLAS GEMV/GEMM logits, then one
// block per decoding step for the log partition and the K largest logits.
#pragma once

#include <cstdint>
#include <memory>

#include "models/fgd/output_layer.h"

namespace tessel::fgd {

// GPUs visible to the CUDA plugin; 0 without a GPU or in a build without CUDA.
int cuda_device_count();

class CudaSoftmax {
 public:
  // Uploads W and b. Throws tessel::Error without CUDA or a GPU.
  explicit CudaSoftmax(const OutputLayer& layer);
  ~CudaSoftmax();
  CudaSoftmax(const CudaSoftmax&) = delete;
  CudaSoftmax& operator=(const CudaSoftmax&) = delete;

  // For n hidden states (n x dim, row-major, host memory): every logit by cuBLAS (GEMV for one
  // step, GEMM for several), then per step log Σ exp(logit) into log_z[n] and the K largest
  // logits, descending, ties to the lower id, into ids/top (n x K). Throws on K < 1 or
  // K > vocab (checked on the host, before any upload).
  void decode(const float* h, int n, int K, int32_t* ids, float* top, double* log_z);

 private:
  int64_t vocab_;
  int dim_;
  void* state_ = nullptr;  // the plugin's device buffers and cuBLAS handle
};

}  // namespace tessel::fgd
