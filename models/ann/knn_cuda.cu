// Exact kNN candidates on CUDA: cuBLAS inner products per base chunk and a warp-per-query top-k.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <string>
#include <vector>

#include "models/ann/knn_cuda_plugin.h"
#include "models/common/cuda_plugin.h"
#include "models/common/cuda_util.cuh"
#include "runtime/core/error.h"

namespace tessel::ann {
namespace {

using gpu::check;
template <typename T>
using DeviceArray = gpu::DeviceBuffer<T>;

// Largest candidate list one lane keeps; knn_candidates(k) <= kMaxWidth for k <= 85.
constexpr int kMaxWidth = 128;
constexpr int kWarpsPerBlock = 4;

__global__ void squared_norms_kernel(const float* v, int64_t n, int dim, float* out) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  double s = 0;
  for (int k = 0; k < dim; ++k) s += double(v[i * dim + k]) * v[i * dim + k];
  out[i] = float(s);
}

// One warp per query. Each lane keeps a sorted list of its best `width` (distance, id) pairs
// over the lane's strided share of the chunk plus the query's running list, then the warp merges
// the 32 lists by repeated arg-min and writes the best `width` back as the new running list.
// Distances come from the GEMM tile g (chunk x queries, column-major) exactly as on the CPU.
__global__ void topk_kernel(const float* g, int chunk, int64_t base0, const float* bnorm,
                            const float* qnorm, int64_t q0, int nqb, int width, bool exclude_self,
                            float* run_d, int* run_id) {
  const int warp = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (warp >= nqb) return;
  float ld[kMaxWidth] = {};
  int li[kMaxWidth] = {};
  int count = 0;
  auto insert = [&](float d, int id) {
    if (count == width && !(d < ld[width - 1] || (d == ld[width - 1] && id < li[width - 1])))
      return;
    int pos = count < width ? count++ : width - 1;
    while (pos > 0 && (ld[pos - 1] > d || (ld[pos - 1] == d && li[pos - 1] > id))) {
      ld[pos] = ld[pos - 1];
      li[pos] = li[pos - 1];
      --pos;
    }
    ld[pos] = d;
    li[pos] = id;
  };
  float* rd = run_d + int64_t(warp) * width;
  int* ri = run_id + int64_t(warp) * width;
  for (int j = lane; j < width; j += 32)
    if (ri[j] >= 0) insert(rd[j], ri[j]);
  const float qn = qnorm[q0 + warp];
  const float* col = g + int64_t(warp) * chunk;
  for (int j = lane; j < chunk; j += 32) {
    const int64_t id = base0 + j;
    if (exclude_self && id == q0 + warp) continue;
    insert(qn + bnorm[id] - 2.0f * col[j], int(id));
  }
  __syncwarp();
  int head = 0;
  for (int out = 0; out < width; ++out) {
    float best_d = head < count ? ld[head] : INFINITY;
    int best_id = head < count ? li[head] : INT_MAX;
    int best_lane = lane;
    for (int off = 16; off > 0; off /= 2) {
      const float od = __shfl_down_sync(0xffffffffu, best_d, off);
      const int oi = __shfl_down_sync(0xffffffffu, best_id, off);
      const int ol = __shfl_down_sync(0xffffffffu, best_lane, off);
      if (od < best_d || (od == best_d && oi < best_id)) {
        best_d = od, best_id = oi, best_lane = ol;
      }
    }
    best_d = __shfl_sync(0xffffffffu, best_d, 0);
    best_id = __shfl_sync(0xffffffffu, best_id, 0);
    best_lane = __shfl_sync(0xffffffffu, best_lane, 0);
    if (lane == 0) {
      rd[out] = best_d;
      ri[out] = best_id == INT_MAX ? -1 : best_id;
    }
    if (lane == best_lane) ++head;
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

void knn_candidates(const VectorSet& base, const VectorSet& queries, int width, bool exclude_self,
                    std::vector<int32_t>& cand) {
  if (width > kMaxWidth)
    throw Error("exact_knn cuda: k too large (" + std::to_string(width) +
                    " candidates per query, at most " + std::to_string(kMaxWidth) + ")",
                kExitFailure);
  const int dim = base.dim;
  const int64_t n = base.n, nq = queries.n;
  if (nq == 0) {  // as the CPU path: no queries, no candidates (a 0-block launch is an error)
    cand.clear();
    return;
  }
  // 64 Mi floats of GEMM tile (256 MiB) per step bounds memory for any base size.
  const int qbatch = static_cast<int>(std::min<int64_t>(nq, 4096));
  const int chunk =
      static_cast<int>(std::min<int64_t>(n, (int64_t(1) << 26) / std::max(qbatch, 1)));
  DeviceArray<float> d_base(static_cast<std::size_t>(n) * dim), d_bnorm(n);
  DeviceArray<float> d_q(static_cast<std::size_t>(nq) * dim), d_qnorm(nq);
  DeviceArray<float> d_g(static_cast<std::size_t>(chunk) * qbatch);
  DeviceArray<float> d_rd(static_cast<std::size_t>(qbatch) * width);
  DeviceArray<int> d_ri(static_cast<std::size_t>(qbatch) * width);
  check(cudaMemcpy(d_base.get(), base.data.data(), base.data.size() * 4, cudaMemcpyHostToDevice),
        "upload base");
  check(cudaMemcpy(d_q.get(), queries.data.data(), queries.data.size() * 4, cudaMemcpyHostToDevice),
        "upload queries");
  squared_norms_kernel<<<(n + 255) / 256, 256>>>(d_base.get(), n, dim, d_bnorm.get());
  squared_norms_kernel<<<(nq + 255) / 256, 256>>>(d_q.get(), nq, dim, d_qnorm.get());
  check(cudaGetLastError(), "norms");
  cublasHandle_t h;
  check(cublasCreate(&h), "create");
  // Plain fp32 (no TF32): the candidates must be ranked as precisely as the CPU ranks them.
  cand.assign(static_cast<std::size_t>(nq) * width, -1);
  try {
    check(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), "math mode");
    for (int64_t q0 = 0; q0 < nq; q0 += qbatch) {
      const int nqb = static_cast<int>(std::min<int64_t>(qbatch, nq - q0));
      check(cudaMemset(d_ri.get(), 0xff, static_cast<std::size_t>(nqb) * width * 4), "reset");
      for (int64_t b0 = 0; b0 < n; b0 += chunk) {
        const int bn = static_cast<int>(std::min<int64_t>(chunk, n - b0));
        const float one = 1.0f, zero = 0.0f;
        // Row-major vectors are column-major dim x n matrices: G = B^T Q, bn x nqb, column j
        // holds query j's inner products with the chunk, contiguous for the warp's scan.
        check(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, bn, nqb, dim, &one, d_base.get() + b0 * dim,
                          dim, d_q.get() + q0 * dim, dim, &zero, d_g.get(), bn),
              "sgemm");
        const int blocks = (nqb + kWarpsPerBlock - 1) / kWarpsPerBlock;
        topk_kernel<<<blocks, 32 * kWarpsPerBlock>>>(d_g.get(), bn, b0, d_bnorm.get(),
                                                     d_qnorm.get(), q0, nqb, width, exclude_self,
                                                     d_rd.get(), d_ri.get());
        check(cudaGetLastError(), "topk launch");
      }
      check(cudaMemcpy(cand.data() + q0 * width, d_ri.get(),
                       static_cast<std::size_t>(nqb) * width * 4, cudaMemcpyDeviceToHost),
            "download");
    }
  } catch (...) {
    cublasDestroy(h);
    throw;
  }
  cublasDestroy(h);
}

}  // namespace
}  // namespace tessel::ann

TESSEL_CUDA_PLUGIN_EXPORT const tessel::ann::KnnCudaApi* tessel_cuda_ann_api() {
  static const tessel::ann::KnnCudaApi api{tessel::ann::device_count, tessel::ann::knn_candidates};
  return &api;
}
