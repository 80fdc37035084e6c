// CUDA kernels for N:M compressed GEMM: generic N:M on CUDA cores, 2:4 via mma.sp PTX.
#include "models/sparse/nm_gemm_kernels.h"

#include "models/common/cuda_plugin.h"
#include "models/common/cuda_util.cuh"

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace tessel::sparse::cuda {
namespace {

using gpu::check;
using gpu::DeviceBuffer;

// A device copy of n host elements.
template <typename T>
DeviceBuffer<T> on_device(const T* host, size_t n) {
  DeviceBuffer<T> b(n);
  b.upload(host, n);
  return b;
}

// One thread per output element; a warp spans 32 consecutive tokens, so the activation
// row chosen by each index is read coalesced while value and index are warp-uniform
// broadcasts. The index lookup is the multiplexer of the hardware unit.
template <typename T, typename Acc>
__global__ void nm_gemm_kernel(const T* __restrict__ vals, const uint8_t* __restrict__ idx,
                               int64_t rows, int64_t kept, int n, int m, const T* __restrict__ x,
                               int64_t t_count, Acc* __restrict__ y) {
  const int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (t >= t_count) return;
  // gridDim.y is at most 65535: a grid row covers rows r, r + gridDim.y, ...
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const T* vr = vals + r * kept;
    const uint8_t* ir = idx + r * kept;
    Acc acc = 0;
    for (int64_t j = 0; j < kept; ++j) {
      const int64_t k = (j / n) * m + ir[j];
      acc += static_cast<Acc>(vr[j]) * static_cast<Acc>(x[k * t_count + t]);
    }
    y[r * t_count + t] = acc;
  }
}

// mma.sp::ordered_metadata m16n8k32 (indices ascending within a group, which compress()
// guarantees; ptxas recommends it over plain .sp for future architectures), one warp per
// 16x8 output tile, operands straight from global memory.
// Fragment layouts (PTX ISA, mma.m16n8k16 / m16n8k32 and mma.sp): g = lane / 4, q = lane % 4.
//   fp16 A (compressed 16x16 halves): a0 = row g, cols 2q..2q+1; a1 = row g+8, same cols;
//        a2 = row g, cols 8+2q..; a3 = row g+8, cols 8+2q..
//   fp16 B (32x8): b_i = rows 8i + 2q, 8i + 2q + 1 of column g, i = 0..3
//   int8 A (compressed 16x16 bytes): a0 = row g, cols 4q..4q+3; a1 = row g+8
//   int8 B (32x8): b0 = rows 4q..4q+3 of column g; b1 = rows 16+4q..16+4q+3
//   C/D: d0, d1 = row g, cols 2q, 2q+1; d2, d3 = row g+8
//   metadata (sparsity selector 0, two lanes per quad), as CUTLASS's reorder_meta arranges
//   it for ldmatrix (rows g and g+8 side by side):
//     fp16: lane q (0 or 1) holds row g's 16-bit word for columns 16q..16q+15 in bits
//           [15:0] and row g+8's word for the same columns in bits [31:16]
//     int8: lane 0 holds row g's 32-bit word (columns 0..31), lane 1 row g+8's
//   Lanes 2 and 3 pass the same values; the hardware ignores them for selector 0.
__global__ void sparse_tc_f16_kernel(const __half* __restrict__ vals,
                                     const uint16_t* __restrict__ meta, int64_t rows, int64_t k,
                                     const __half* __restrict__ x, int64_t t_count,
                                     float* __restrict__ y) {
  const int lane = threadIdx.x % 32;
  const int64_t warp = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32;
  const int64_t tiles_t = t_count / 8;
  const int64_t r0 = (warp / tiles_t) * 16, t0 = (warp % tiles_t) * 8;
  if (r0 >= rows) return;
  const int g = lane / 4, q = lane % 4;
  float d[4] = {0, 0, 0, 0};
  const int64_t kc = k / 2;  // compressed columns
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  for (int64_t k0 = 0; k0 < k; k0 += 32) {
    const int64_t c0 = k0 / 2;
    auto pair = [&](int64_t r, int64_t c) {
      __half2 h = __halves2half2(vals[r * kc + c], vals[r * kc + c + 1]);
      return *reinterpret_cast<uint32_t*>(&h);
    };
    uint32_t a[4] = {pair(r0 + g, c0 + 2 * q), pair(r0 + g + 8, c0 + 2 * q),
                     pair(r0 + g, c0 + 8 + 2 * q), pair(r0 + g + 8, c0 + 8 + 2 * q)};
    uint32_t b[4];
    for (int i = 0; i < 4; ++i) {
      __half2 h = __halves2half2(x[(k0 + 8 * i + 2 * q) * t_count + t0 + g],
                                 x[(k0 + 8 * i + 2 * q + 1) * t_count + t0 + g]);
      b[i] = *reinterpret_cast<uint32_t*>(&h);
    }
    const int64_t words = k / 16, w = k0 / 16 + (q & 1);
    uint32_t e =
        uint32_t{meta[(r0 + g) * words + w]} | (uint32_t{meta[(r0 + g + 8) * words + w]} << 16);
    asm volatile(
        "mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32.f16.f16.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9,%10,%11}, {%0,%1,%2,%3}, %12, 0x0;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]),
          "r"(e));
  }
#endif
  y[(r0 + g) * t_count + t0 + 2 * q] = d[0];
  y[(r0 + g) * t_count + t0 + 2 * q + 1] = d[1];
  y[(r0 + g + 8) * t_count + t0 + 2 * q] = d[2];
  y[(r0 + g + 8) * t_count + t0 + 2 * q + 1] = d[3];
}

__global__ void sparse_tc_int8_kernel(const int8_t* __restrict__ vals,
                                      const uint32_t* __restrict__ meta, int64_t rows, int64_t k,
                                      const int8_t* __restrict__ x, int64_t t_count,
                                      int32_t* __restrict__ y) {
  const int lane = threadIdx.x % 32;
  const int64_t warp = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32;
  const int64_t tiles_t = t_count / 8;
  const int64_t r0 = (warp / tiles_t) * 16, t0 = (warp % tiles_t) * 8;
  if (r0 >= rows) return;
  const int g = lane / 4, q = lane % 4;
  int d[4] = {0, 0, 0, 0};
  const int64_t kc = k / 2;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  for (int64_t k0 = 0; k0 < k; k0 += 32) {
    const int64_t c0 = k0 / 2;
    auto quad_a = [&](int64_t r) {
      const int8_t* p = vals + r * kc + c0 + 4 * q;
      return uint32_t(uint8_t(p[0])) | uint32_t(uint8_t(p[1])) << 8 |
             uint32_t(uint8_t(p[2])) << 16 | uint32_t(uint8_t(p[3])) << 24;
    };
    auto quad_b = [&](int64_t kr) {
      const int8_t* p = x + (k0 + kr) * t_count + t0 + g;
      return uint32_t(uint8_t(p[0])) | uint32_t(uint8_t(p[t_count])) << 8 |
             uint32_t(uint8_t(p[2 * t_count])) << 16 | uint32_t(uint8_t(p[3 * t_count])) << 24;
    };
    uint32_t a0 = quad_a(r0 + g), a1 = quad_a(r0 + g + 8);
    uint32_t b0 = quad_b(4 * q), b1 = quad_b(16 + 4 * q);
    const int64_t mrow = r0 + g + ((q & 1) ? 8 : 0);
    uint32_t e = meta[mrow * (k / 32) + k0 / 32];
    asm volatile(
        "mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 "
        "{%0,%1,%2,%3}, {%4,%5}, {%6,%7}, {%0,%1,%2,%3}, %8, 0x0;\n"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
        : "r"(a0), "r"(a1), "r"(b0), "r"(b1), "r"(e));
  }
#endif
  y[(r0 + g) * t_count + t0 + 2 * q] = d[0];
  y[(r0 + g) * t_count + t0 + 2 * q + 1] = d[1];
  y[(r0 + g + 8) * t_count + t0 + 2 * q] = d[2];
  y[(r0 + g + 8) * t_count + t0 + 2 * q + 1] = d[3];
}

template <typename T, typename Acc>
void launch_nm(const T* vals, const uint8_t* idx, int64_t rows, int64_t kept, int n, int m,
               const T* x, int64_t t, Acc* y) {
  if (rows == 0 || t == 0) return;  // nothing to compute (a 0-block launch is an error)
  dim3 block(128), grid(static_cast<unsigned>((t + 127) / 128),
                        static_cast<unsigned>(std::min<int64_t>(rows, 65535)));
  nm_gemm_kernel<T, Acc><<<grid, block>>>(vals, idx, rows, kept, n, m, x, t, y);
  check(cudaGetLastError(), "nm_gemm_kernel launch");
}

unsigned tc_blocks(int64_t rows, int64_t t) {
  const int64_t warps = rows / 16 * (t / 8);
  return static_cast<unsigned>((warps + 3) / 4);  // 4 warps per 128-thread block
}

template <typename T, typename Acc>
void nm_gemm_host(const T* vals, const uint8_t* idx, int64_t rows, int64_t k, int n, int m,
                  const T* x, int64_t t, Acc* y) {
  const int64_t kept = k / m * n;
  DeviceBuffer<T> dv = on_device(vals, static_cast<size_t>(rows * kept));
  DeviceBuffer<uint8_t> di = on_device(idx, static_cast<size_t>(rows * kept));
  DeviceBuffer<T> dx = on_device(x, static_cast<size_t>(k * t));
  DeviceBuffer<Acc> dy(static_cast<size_t>(rows * t));
  if (rows == 0 || t == 0) return;  // an empty product, as on the CPU
  launch_nm(dv.get(), di.get(), rows, kept, n, m, dx.get(), t, dy.get());
  check(cudaDeviceSynchronize(), "nm_gemm_kernel");
  dy.download(y, dy.size());
}

}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

void nm_gemm_int8(const int8_t* vals, const uint8_t* idx, int64_t rows, int64_t k, int n, int m,
                  const int8_t* x, int64_t t, int32_t* y) {
  nm_gemm_host<int8_t, int32_t>(vals, idx, rows, k, n, m, x, t, y);
}

void nm_gemm_f32(const float* vals, const uint8_t* idx, int64_t rows, int64_t k, int n, int m,
                 const float* x, int64_t t, float* y) {
  nm_gemm_host<float, float>(vals, idx, rows, k, n, m, x, t, y);
}

void sparse_tc_f16(const uint16_t* vals, const uint16_t* meta, int64_t rows, int64_t k,
                   const uint16_t* x, int64_t t, float* y) {
  DeviceBuffer<__half> dv =
      on_device(reinterpret_cast<const __half*>(vals), static_cast<size_t>(rows * k / 2));
  DeviceBuffer<uint16_t> dm = on_device(meta, static_cast<size_t>(rows * k / 16));
  DeviceBuffer<__half> dx =
      on_device(reinterpret_cast<const __half*>(x), static_cast<size_t>(k * t));
  DeviceBuffer<float> dy(static_cast<size_t>(rows * t));
  if (rows == 0 || t == 0) return;  // an empty product (a 0-block launch is an error)
  sparse_tc_f16_kernel<<<tc_blocks(rows, t), 128>>>(dv.get(), dm.get(), rows, k, dx.get(), t,
                                                    dy.get());
  check(cudaGetLastError(), "sparse_tc_f16 launch");
  check(cudaDeviceSynchronize(), "sparse_tc_f16");
  dy.download(y, dy.size());
}

void sparse_tc_int8(const int8_t* vals, const uint32_t* meta, int64_t rows, int64_t k,
                    const int8_t* x, int64_t t, int32_t* y) {
  DeviceBuffer<int8_t> dv = on_device(vals, static_cast<size_t>(rows * k / 2));
  DeviceBuffer<uint32_t> dm = on_device(meta, static_cast<size_t>(rows * k / 32));
  DeviceBuffer<int8_t> dx = on_device(x, static_cast<size_t>(k * t));
  DeviceBuffer<int32_t> dy(static_cast<size_t>(rows * t));
  if (rows == 0 || t == 0) return;  // an empty product (a 0-block launch is an error)
  sparse_tc_int8_kernel<<<tc_blocks(rows, t), 128>>>(dv.get(), dm.get(), rows, k, dx.get(), t,
                                                     dy.get());
  check(cudaGetLastError(), "sparse_tc_int8 launch");
  check(cudaDeviceSynchronize(), "sparse_tc_int8");
  dy.download(y, dy.size());
}

namespace {
// Row-major Y = W X is column-major Y^T = X^T W^T: cuBLAS sees m = t, n = rows, k = k.
void cublas_f16(cublasHandle_t h, const __half* w, const __half* x, int64_t rows, int64_t k,
                int64_t t, float* y) {
  const float one = 1.0f, zero = 0.0f;
  check(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(t), static_cast<int>(rows),
                     static_cast<int>(k), &one, x, CUDA_R_16F, static_cast<int>(t), w, CUDA_R_16F,
                     static_cast<int>(k), &zero, y, CUDA_R_32F, static_cast<int>(t),
                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx");
}
}  // namespace

void dense_f16(const uint16_t* w, const uint16_t* x, int64_t rows, int64_t k, int64_t t, float* y) {
  DeviceBuffer<__half> dw =
      on_device(reinterpret_cast<const __half*>(w), static_cast<size_t>(rows * k));
  DeviceBuffer<__half> dx =
      on_device(reinterpret_cast<const __half*>(x), static_cast<size_t>(k * t));
  DeviceBuffer<float> dy(static_cast<size_t>(rows * t));
  cublasHandle_t h;
  check(cublasCreate(&h), "cublasCreate");
  cublas_f16(h, dw.get(), dx.get(), rows, k, t, dy.get());
  check(cudaDeviceSynchronize(), "cublas");
  cublasDestroy(h);
  dy.download(y, dy.size());
}

Timings time_gemms(int64_t rows, int64_t k, int64_t t, int reps) {
  // Contents do not change the timing of these kernels; valid 2:4 metadata (indices 0, 1 in
  // every group, nibble 0x4) keeps mma.sp on defined behaviour.
  std::vector<uint32_t> meta(static_cast<size_t>(rows * k / 32), 0x44444444u);
  std::vector<uint16_t> meta16(static_cast<size_t>(rows * k / 16), 0x4444u);
  std::vector<uint8_t> idx(static_cast<size_t>(rows * k / 2));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<uint8_t>(i % 2);
  DeviceBuffer<int8_t> v8(static_cast<size_t>(rows * k / 2)), x8(static_cast<size_t>(k * t));
  DeviceBuffer<__half> v16(static_cast<size_t>(rows * k / 2)), x16(static_cast<size_t>(k * t)),
      w16(static_cast<size_t>(rows * k));
  DeviceBuffer<uint32_t> dm = on_device(meta.data(), meta.size());
  DeviceBuffer<uint16_t> dm16 = on_device(meta16.data(), meta16.size());
  DeviceBuffer<uint8_t> di = on_device(idx.data(), idx.size());
  DeviceBuffer<int32_t> y32(static_cast<size_t>(rows * t));
  DeviceBuffer<float> yf(static_cast<size_t>(rows * t));
  check(cudaMemset(v8.get(), 1, v8.size()), "memset");
  check(cudaMemset(x8.get(), 1, x8.size()), "memset");
  check(cudaMemset(v16.get(), 0, v16.size() * 2), "memset");
  check(cudaMemset(x16.get(), 0, x16.size() * 2), "memset");
  check(cudaMemset(w16.get(), 0, w16.size() * 2), "memset");
  cublasHandle_t h;
  check(cublasCreate(&h), "cublasCreate");
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "event");
  check(cudaEventCreate(&stop), "event");
  // A failed launch must not time as a fast one.
  auto time = [&](auto&& launch) {
    launch();  // warm-up (also cuBLAS heuristics)
    check(cudaGetLastError(), "timed launch");
    check(cudaDeviceSynchronize(), "warm-up");
    check(cudaEventRecord(start), "timing");
    for (int i = 0; i < reps; ++i) launch();
    check(cudaGetLastError(), "timed launch");
    check(cudaEventRecord(stop), "timing");
    check(cudaEventSynchronize(stop), "timing");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "timing");
    return static_cast<double>(ms) / reps;
  };
  Timings tm{};
  tm.nm_int8_ms =
      time([&] { launch_nm(v8.get(), di.get(), rows, k / 2, 2, 4, x8.get(), t, y32.get()); });
  tm.tc_fp16_ms = time([&] {
    sparse_tc_f16_kernel<<<tc_blocks(rows, t), 128>>>(v16.get(), dm16.get(), rows, k, x16.get(), t,
                                                      yf.get());
  });
  tm.tc_int8_ms = time([&] {
    sparse_tc_int8_kernel<<<tc_blocks(rows, t), 128>>>(v8.get(), dm.get(), rows, k, x8.get(), t,
                                                       y32.get());
  });
  tm.cublas_fp16_ms = time([&] { cublas_f16(h, w16.get(), x16.get(), rows, k, t, yf.get()); });
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cublasDestroy(h);
  return tm;
}

}  // namespace tessel::sparse::cuda

TESSEL_CUDA_PLUGIN_EXPORT const tessel::sparse::cuda::Api* tessel_cuda_sparse_api() {
  using namespace tessel::sparse::cuda;
  static const Api api{device_count,   nm_gemm_int8, nm_gemm_f32, sparse_tc_f16,
                       sparse_tc_int8, dense_f16,    time_gemms};
  return &api;
}
