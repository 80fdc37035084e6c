// Full softmax and exact top-K on CUDA: cuBLAS logits, one block per decoding step for the log
// partition (max, then Σ exp) and K rounds of a block arg-max for the top-K.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <string>
#include <vector>

#include "models/common/cuda_plugin.h"
#include "models/fgd/softmax_cuda_plugin.h"
#include "runtime/core/error.h"

namespace tessel::fgd {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw Error(std::string("fgd cuda: ") + what + ": " + cudaGetErrorString(e), kExitFailure);
}
void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw Error(
        std::string("fgd cublas: ") + what + ": status " + std::to_string(static_cast<int>(s)),
        kExitFailure);
}

constexpr int kThreads = 512;

struct State {
  int64_t vocab = 0;
  int dim = 0;
  float* w = nullptr;  // vocab x dim row-major = dim x vocab column-major
  float* b = nullptr;
  float* h = nullptr;       // n x dim
  float* logits = nullptr;  // n x vocab
  int32_t* ids = nullptr;
  float* top = nullptr;
  double* log_z = nullptr;
  int cap_n = 0, cap_k = 0;
  cublasHandle_t handle = nullptr;
};

// (value, id) ordered by value descending, then id ascending: a before b when a ranks higher.
__device__ bool ranks_higher(float va, int ia, float vb, int ib) {
  return va > vb || (va == vb && ia < ib);
}

// One block per step. The log partition: block max, then block Σ exp(l - max) in double. The
// top-K: round r takes the highest-ranked logit ranked below round r-1's pick, so nothing is
// overwritten and ties resolve to the lower id, as the CPU's exact_topk does.
__global__ void softmax_topk_kernel(const float* logits, int vocab, int K, int32_t* ids, float* top,
                                    double* log_z) {
  const float* z = logits + static_cast<int64_t>(blockIdx.x) * vocab;
  __shared__ float sv[kThreads];
  __shared__ int si[kThreads];
  __shared__ double sd[kThreads];
  const int t = threadIdx.x;
  float m = -FLT_MAX;
  for (int i = t; i < vocab; i += kThreads) m = fmaxf(m, z[i]);
  sv[t] = m;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s /= 2) {
    if (t < s) sv[t] = fmaxf(sv[t], sv[t + s]);
    __syncthreads();
  }
  const float mx = sv[0];
  __syncthreads();
  double acc = 0;
  for (int i = t; i < vocab; i += kThreads) acc += exp(static_cast<double>(z[i]) - mx);
  sd[t] = acc;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s /= 2) {
    if (t < s) sd[t] += sd[t + s];
    __syncthreads();
  }
  if (t == 0) log_z[blockIdx.x] = mx + log(sd[0]);
  float prev_v = FLT_MAX;
  int prev_i = -1;
  for (int r = 0; r < K; ++r) {
    float bv = -FLT_MAX;
    int bi = INT_MAX;
    for (int i = t; i < vocab; i += kThreads) {
      const float v = z[i];
      if (r > 0 && !ranks_higher(prev_v, prev_i, v, i)) continue;  // already taken
      if (bi == INT_MAX || ranks_higher(v, i, bv, bi)) bv = v, bi = i;
    }
    sv[t] = bv;
    si[t] = bi;
    __syncthreads();
    for (int s = kThreads / 2; s > 0; s /= 2) {
      if (t < s && si[t + s] != INT_MAX &&
          (si[t] == INT_MAX || ranks_higher(sv[t + s], si[t + s], sv[t], si[t])))
        sv[t] = sv[t + s], si[t] = si[t + s];
      __syncthreads();
    }
    prev_v = sv[0];
    prev_i = si[0];
    if (t == 0) {
      ids[static_cast<int64_t>(blockIdx.x) * K + r] = prev_i;
      top[static_cast<int64_t>(blockIdx.x) * K + r] = prev_v;
    }
    __syncthreads();
  }
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error for later calls
    return 0;
  }
  return n;
}

void release(State* s) {
  cudaFree(s->h);
  cudaFree(s->logits);
  cudaFree(s->ids);
  cudaFree(s->top);
  cudaFree(s->log_z);
  s->h = s->logits = s->top = nullptr;
  s->ids = nullptr;
  s->log_z = nullptr;
}

void* create(const float* weight, const float* bias, int64_t vocab, int dim) {
  auto* s = new State;
  s->vocab = vocab;
  s->dim = dim;
  try {
    check(cudaMalloc(&s->w, sizeof(float) * vocab * dim), "cudaMalloc W");
    check(cudaMalloc(&s->b, sizeof(float) * vocab), "cudaMalloc b");
    check(cudaMemcpy(s->w, weight, sizeof(float) * vocab * dim, cudaMemcpyHostToDevice), "W");
    check(cudaMemcpy(s->b, bias, sizeof(float) * vocab, cudaMemcpyHostToDevice), "b");
    check(cublasCreate(&s->handle), "create");
    // Plain fp32 (no TF32): the logits must rank as the CPU's do.
    check(cublasSetMathMode(s->handle, CUBLAS_DEFAULT_MATH), "math mode");
  } catch (...) {
    cudaFree(s->w);
    cudaFree(s->b);
    if (s->handle) cublasDestroy(s->handle);
    delete s;
    throw;
  }
  return s;
}

void destroy(void* p) {
  auto* s = static_cast<State*>(p);
  release(s);
  cudaFree(s->w);
  cudaFree(s->b);
  if (s->handle) cublasDestroy(s->handle);
  delete s;
}

void decode(void* p, const float* h, int n, int K, int32_t* ids, float* top, double* log_z) {
  auto* s = static_cast<State*>(p);
  const int vocab = static_cast<int>(s->vocab), dim = s->dim;
  if (n > s->cap_n || K > s->cap_k) {
    release(s);
    // The capacities are recorded only once every buffer exists: after a failed allocation
    // the next call allocates again instead of running on null pointers.
    const int cap_n = std::max(n, s->cap_n), cap_k = std::max(K, s->cap_k);
    s->cap_n = s->cap_k = 0;
    check(cudaMalloc(&s->h, sizeof(float) * cap_n * dim), "cudaMalloc h");
    check(cudaMalloc(&s->logits, sizeof(float) * cap_n * static_cast<int64_t>(vocab)),
          "cudaMalloc logits");
    check(cudaMalloc(&s->ids, sizeof(int32_t) * cap_n * cap_k), "cudaMalloc ids");
    check(cudaMalloc(&s->top, sizeof(float) * cap_n * cap_k), "cudaMalloc top");
    check(cudaMalloc(&s->log_z, sizeof(double) * cap_n), "cudaMalloc log_z");
    s->cap_n = cap_n;
    s->cap_k = cap_k;
  }
  check(cudaMemcpy(s->h, h, sizeof(float) * n * dim, cudaMemcpyHostToDevice), "upload h");
  // Bias first, then logits += W h: column-major, W is dim x vocab, so logits = Wᵀ h.
  for (int r = 0; r < n; ++r)
    check(cudaMemcpy(s->logits + static_cast<int64_t>(r) * vocab, s->b, sizeof(float) * vocab,
                     cudaMemcpyDeviceToDevice),
          "bias");
  const float one = 1.0f;
  if (n == 1) {
    check(cublasSgemv(s->handle, CUBLAS_OP_T, dim, vocab, &one, s->w, dim, s->h, 1, &one, s->logits,
                      1),
          "sgemv");
  } else {
    check(cublasSgemm(s->handle, CUBLAS_OP_T, CUBLAS_OP_N, vocab, n, dim, &one, s->w, dim, s->h,
                      dim, &one, s->logits, vocab),
          "sgemm");
  }
  softmax_topk_kernel<<<n, kThreads>>>(s->logits, vocab, K, s->ids, s->top, s->log_z);
  check(cudaGetLastError(), "softmax_topk launch");
  check(cudaMemcpy(ids, s->ids, sizeof(int32_t) * n * K, cudaMemcpyDeviceToHost), "ids");
  check(cudaMemcpy(top, s->top, sizeof(float) * n * K, cudaMemcpyDeviceToHost), "top");
  check(cudaMemcpy(log_z, s->log_z, sizeof(double) * n, cudaMemcpyDeviceToHost), "log_z");
}

}  // namespace
}  // namespace tessel::fgd

TESSEL_CUDA_PLUGIN_EXPORT const tessel::fgd::SoftmaxCudaApi* tessel_cuda_fgd_api() {
  static const tessel::fgd::SoftmaxCudaApi api{tessel::fgd::device_count, tessel::fgd::create,
                                               tessel::fgd::destroy, tessel::fgd::decode};
  return &api;
}
