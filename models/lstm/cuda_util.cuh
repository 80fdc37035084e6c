// Error checks, device buffers and conversions shared by the CUDA and cuDNN LSTM paths, and the
// plugin's constructors of both (exported through lstm_cuda_plugin.h).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

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

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw Error(std::string("cuda: ") + what + ": " + cudaGetErrorString(e), kExitFailure);
}

inline void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw Error(std::string("cublas: ") + what + ": status " + std::to_string(static_cast<int>(s)),
                kExitFailure);
}

// Owning device allocation of n elements of T.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n) { resize(n); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      p_ = o.p_, n_ = o.n_;
      o.p_ = nullptr, o.n_ = 0;
    }
    return *this;
  }

  void resize(std::size_t n) {
    release();
    if (n) check(cudaMalloc(&p_, n * sizeof(T)), "cudaMalloc");
    n_ = n;
  }
  void upload(const T* host, std::size_t n, std::size_t offset = 0) {
    check(cudaMemcpy(p_ + offset, host, n * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }
  void download(T* host, std::size_t n, std::size_t offset = 0) const {
    check(cudaMemcpy(host, p_ + offset, n * sizeof(T), cudaMemcpyDeviceToHost), "download");
  }
  void zero() {
    if (n_) check(cudaMemset(p_, 0, n_ * sizeof(T)), "cudaMemset");
  }
  T* get() const { return p_; }
  std::size_t size() const { return n_; }

 private:
  void release() {
    if (p_) cudaFree(p_);
    p_ = nullptr;
    n_ = 0;
  }
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

// out[k] = half(in[k]) on the device (round to nearest).
void to_half(const float* in, __half* out, std::size_t n, cudaStream_t stream = nullptr);
// out[k] = float(in[k]) on the device.
void to_float(const __half* in, float* out, std::size_t n, cudaStream_t stream = nullptr);

}  // namespace tessel::lstm::cuda
