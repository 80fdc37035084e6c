// Error checks, device buffers and conversions shared by the CUDA and cuDNN LSTM paths, and the
// plugin's constructors of both (exported through lstm_cuda_plugin.h).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "models/common/cuda_util.cuh"
#include "models/lstm/lstm_cuda_plugin.h"
#include "runtime/core/error.h"

namespace tessel::lstm::cuda {

// Number of usable CUDA devices (0 without a GPU or driver).
int device_count();
bool cudnn_compiled();
// The persistent kernel (lstm_cuda.cu) and the cuDNN baseline (lstm_cudnn.cu).
std::unique_ptr<CudaLstm::Impl> make_persistent(const LstmWeights& w, int batch, int steps,
                                                CudaPrecision precision);
std::unique_ptr<CudnnLstm::Impl> make_cudnn(const LstmWeights& w, int batch, int steps,
                                            CudaPrecision precision);

using gpu::check;
using gpu::DeviceBuffer;

// out[k] = half(in[k]) on the device (round to nearest).
void to_half(const float* in, __half* out, std::size_t n, cudaStream_t stream = nullptr);
// out[k] = float(in[k]) on the device.
void to_float(const __half* in, float* out, std::size_t n, cudaStream_t stream = nullptr);

}  // namespace tessel::lstm::cuda
