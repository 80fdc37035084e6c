// Error checks and an owning device buffer for every CUDA file of the project (nvcc only).
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "runtime/core/error.h"

namespace tessel::gpu {

// A failed CUDA call is an Error with the call's purpose and the driver's words.
inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw Error(std::string("cuda: ") + what + ": " + cudaGetErrorString(e), kExitFailure);
}

inline void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw Error(std::string("cublas: ") + what + ": status " + std::to_string(static_cast<int>(s)),
                kExitFailure);
}

// Owning device array of n elements of T, released on scope exit (an exception never leaks
// device memory). Allocations start zeroed, so a kernel that reads memory nobody wrote
// gives the same wrong answer on every run instead of a different one.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n) { resize(n); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  // Movable so std::vector can hold per-layer buffers.
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }

  void resize(std::size_t n) {
    release();
    if (n) check(cudaMalloc(&p_, n * sizeof(T)), "cudaMalloc");
    n_ = n;
    zero();
  }
  void release() {
    if (p_) cudaFree(p_);
    p_ = nullptr;
    n_ = 0;
  }
  // n elements from host to elements [at, at + n).
  void upload(const T* host, std::size_t n, std::size_t at = 0) {
    if (n) check(cudaMemcpy(p_ + at, host, n * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }
  void download(T* host, std::size_t n, std::size_t at = 0) const {
    if (n) check(cudaMemcpy(host, p_ + at, n * sizeof(T), cudaMemcpyDeviceToHost), "download");
  }
  void zero() {
    if (n_) check(cudaMemset(p_, 0, n_ * sizeof(T)), "cudaMemset");
  }
  T* get() const { return p_; }
  std::size_t size() const { return n_; }

 private:
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

// Owning page-locked host array (cudaHostAlloc): what cudaMemcpyAsync needs to copy without
// staging and so overlap kernels. Not zeroed.
template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() { release(); }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void resize(std::size_t n) {
    release();
    if (n)
      check(cudaHostAlloc(reinterpret_cast<void**>(&p_), n * sizeof(T), cudaHostAllocDefault),
            "cudaHostAlloc");
    n_ = n;
  }
  void release() {
    if (p_) cudaFreeHost(p_);
    p_ = nullptr;
    n_ = 0;
  }
  T* get() const { return p_; }
  std::size_t size() const { return n_; }

 private:
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

}  // namespace tessel::gpu
