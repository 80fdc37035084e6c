// Persistent-kernel LSTM on CUDA: one cooperative kernel runs all steps of a layer.
// Input projections are one cuBLAS GEMM per layer and direction; the kernel keeps W_hh in
// shared memory across time steps where it fits.
#include <algorithm>
#include <vector>

#include <cooperative_groups.h>

#include "models/common/cuda_plugin.h"
#include "models/lstm/cuda_util.cuh"
#include "models/lstm/lstm_cuda_plugin.h"

namespace cg = cooperative_groups;

namespace tessel::lstm {
namespace cuda {

namespace {
__global__ void to_half_kernel(const float* in, __half* out, std::size_t n) {
  for (std::size_t k = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; k < n;
       k += std::size_t{gridDim.x} * blockDim.x)
    out[k] = __float2half_rn(in[k]);
}
__global__ void to_float_kernel(const __half* in, float* out, std::size_t n) {
  for (std::size_t k = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; k < n;
       k += std::size_t{gridDim.x} * blockDim.x)
    out[k] = __half2float(in[k]);
}
unsigned blocks_for(std::size_t n) {
  return static_cast<unsigned>(std::min<std::size_t>((n + 255) / 256, 4096));
}
}  // namespace

void to_half(const float* in, __half* out, std::size_t n, cudaStream_t stream) {
  if (!n) return;
  to_half_kernel<<<blocks_for(n), 256, 0, stream>>>(in, out, n);
  check(cudaGetLastError(), "to_half");
}
void to_float(const __half* in, float* out, std::size_t n, cudaStream_t stream) {
  if (!n) return;
  to_float_kernel<<<blocks_for(n), 256, 0, stream>>>(in, out, n);
  check(cudaGetLastError(), "to_float");
}

}  // namespace cuda

namespace {

using cuda::check;
using cuda::DeviceBuffer;

constexpr int kThreads = 256;

// gx[col * rows + r] += bias[r]: adds b_ih + b_hh to every column of the projection GEMM.
__global__ void add_bias_kernel(float* gx, const float* bias, int rows, std::size_t total) {
  for (std::size_t k = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; k < total;
       k += std::size_t{gridDim.x} * blockDim.x)
    gx[k] += bias[k % rows];
}

__device__ __forceinline__ float sigmoid(float x) {
  return 1.0f / (1.0f + expf(-x));
}

// Four consecutive weights as floats (16-byte fp32 or 8-byte fp16 load; the caller
// guarantees alignment: rows of a multiple of 4 elements in cudaMalloc'd or shared memory).
__device__ __forceinline__ float4 load4(const float* w, int k4) {
  return reinterpret_cast<const float4*>(w)[k4];
}
__device__ __forceinline__ float4 load4(const __half* w, int k4) {
  const uint2 raw = reinterpret_cast<const uint2*>(w)[k4];
  const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&raw.x));
  const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&raw.y));
  return make_float4(a.x, a.y, b.x, b.y);
}
__device__ __forceinline__ float load1(const float* w, int k) {
  return w[k];
}
__device__ __forceinline__ float load1(const __half* w, int k) {
  return __half2float(w[k]);
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Batch elements processed together per step: each weight read from shared memory is
// reused for up to this many h vectors.
constexpr int kBatchChunk = 8;

struct StepArgs {
  const void* w_hh;  // [4H, H] row-major (float or __half)
  const float* gx;   // [T*B, 4H]: W_ih x_t + b_ih + b_hh for column t*B + b
  float* h_buf;      // [2, B, H]: h_{t-1} and h_t, swapped every step
  float* c;          // [B, H], updated in place (each unit is owned by one block)
  float* y;          // [T*B, y_stride]; this direction writes [y_offset, y_offset + H)
  float* h_n;        // [B, H]
  float* c_n;        // [B, H]
  int hidden;
  int batch;
  int chunk;  // batch elements per pass, <= kBatchChunk (sizes the shared scratch)
  int steps;
  int y_stride;
  int y_offset;
  int units_per_block;
  int reverse;
  int weights_in_smem;
};

// One block owns units [u0, u0 + units): the four gate rows of each unit, so the cell
// update needs nothing from other blocks. Per step and chunk of batch elements: stage
// h_{t-1} in shared memory, one warp per gate row computes its dot products with every h
// of the chunk, then the block updates c and h of its units. A single grid-wide barrier
// per step publishes h_t.
template <typename W>
__global__ void __launch_bounds__(kThreads) lstm_persistent_kernel(StepArgs a) {
  cg::grid_group grid = cg::this_grid();
  extern __shared__ __align__(16) unsigned char smem[];
  const int hid = a.hidden;
  const int u0 = blockIdx.x * a.units_per_block;
  const int units = min(a.units_per_block, hid - u0);
  const int rows = 4 * units;
  const int g_stride = 4 * a.units_per_block;
  const std::size_t w_bytes =
      a.weights_in_smem ? ((std::size_t{4} * a.units_per_block * hid * sizeof(W) + 15) / 16 * 16)
                        : 0;
  W* w_s = reinterpret_cast<W*>(smem);
  float* h_s = reinterpret_cast<float*>(smem + w_bytes);  // [chunk, H]
  float* g_s = h_s + std::size_t(a.chunk) * hid;          // [chunk, 4 * units_per_block]
  const W* w_g = static_cast<const W*>(a.w_hh);
  // Local row lr = gate * units + unit  <->  global row gate * H + u0 + unit.
  auto global_row = [&](int lr) { return (lr / units) * hid + u0 + lr % units; };

  if (a.weights_in_smem) {
    for (std::size_t idx = threadIdx.x; idx < std::size_t(rows) * hid; idx += blockDim.x) {
      const int lr = static_cast<int>(idx / hid);
      const int k = static_cast<int>(idx % hid);
      w_s[idx] = w_g[std::size_t(global_row(lr)) * hid + k];
    }
  }
  __syncthreads();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  const bool vec = (hid & 3) == 0;
  for (int s = 0; s < a.steps; ++s) {
    const int t = a.reverse ? a.steps - 1 - s : s;
    const float* h_prev = a.h_buf + std::size_t(s & 1) * a.batch * hid;
    float* h_next = a.h_buf + std::size_t((s + 1) & 1) * a.batch * hid;
    for (int b0 = 0; b0 < a.batch; b0 += a.chunk) {
      const int nb = min(a.chunk, a.batch - b0);
      // h_{t-1} was written by other SMs: read through L2 (__ldcg), never a stale L1 line.
      for (int k = threadIdx.x; k < nb * hid; k += blockDim.x)
        h_s[k] = __ldcg(h_prev + std::size_t(b0) * hid + k);
      __syncthreads();
      for (int lr = warp; lr < rows; lr += warps) {
        const W* wrow = a.weights_in_smem ? w_s + std::size_t(lr) * hid
                                          : w_g + std::size_t(global_row(lr)) * hid;
        float acc[kBatchChunk];
#pragma unroll
        for (int q = 0; q < kBatchChunk; ++q) acc[q] = 0.0f;
        if (vec) {
          for (int k4 = lane; k4 < hid / 4; k4 += 32) {
            const float4 w = load4(wrow, k4);
#pragma unroll
            for (int q = 0; q < kBatchChunk; ++q) {
              if (q < nb) {
                const float4 h = reinterpret_cast<const float4*>(h_s + std::size_t(q) * hid)[k4];
                acc[q] = fmaf(w.x, h.x, fmaf(w.y, h.y, fmaf(w.z, h.z, fmaf(w.w, h.w, acc[q]))));
              }
            }
          }
        } else {
          for (int k = lane; k < hid; k += 32) {
            const float w = load1(wrow, k);
#pragma unroll
            for (int q = 0; q < kBatchChunk; ++q)
              if (q < nb) acc[q] = fmaf(w, h_s[std::size_t(q) * hid + k], acc[q]);
          }
        }
#pragma unroll
        for (int q = 0; q < kBatchChunk; ++q) {
          if (q < nb) {  // nb is the same for every lane: the shuffles stay convergent
            const float v = warp_sum(acc[q]);
            if (lane == 0)
              g_s[q * g_stride + lr] =
                  v + a.gx[(std::size_t(t) * a.batch + b0 + q) * 4 * hid + global_row(lr)];
          }
        }
      }
      __syncthreads();
      for (int idx = threadIdx.x; idx < nb * units; idx += blockDim.x) {
        const int q = idx / units, j = idx % units;
        const float* g = g_s + q * g_stride;
        const float ig = sigmoid(g[j]);
        const float fg = sigmoid(g[units + j]);
        const float gg = tanhf(g[2 * units + j]);
        const float og = sigmoid(g[3 * units + j]);
        const std::size_t bu = std::size_t(b0 + q) * hid + u0 + j;
        const float c = fg * a.c[bu] + ig * gg;
        const float h = og * tanhf(c);
        a.c[bu] = c;
        h_next[bu] = h;
        a.y[(std::size_t(t) * a.batch + b0 + q) * a.y_stride + a.y_offset + u0 + j] = h;
        if (s == a.steps - 1) {
          a.h_n[bu] = h;
          a.c_n[bu] = c;
        }
      }
      __syncthreads();  // h_s and g_s are reused by the next chunk
    }
    grid.sync();
  }
}

struct DirectionWeights {
  DeviceBuffer<float> w_ih, w_hh, bias;  // fp32 copies (bias always fp32)
  DeviceBuffer<__half> w_ih_h, w_hh_h;   // fp16 copies when precision is kFp16
  int input_size = 0;
};

std::vector<float> row_major(const Eigen::MatrixXf& m) {
  std::vector<float> v(static_cast<std::size_t>(m.size()));
  for (Eigen::Index r = 0; r < m.rows(); ++r)
    for (Eigen::Index c = 0; c < m.cols(); ++c)
      v[static_cast<std::size_t>(r * m.cols() + c)] = m(r, c);
  return v;
}

class PersistentLstm final : public CudaLstm::Impl {
 public:
  ~PersistentLstm() override {
    if (blas) cublasDestroy(blas);
  }
  // Uploads the weights and plans the launch; a separate step so that a throw from it still
  // runs the destructor, which releases the cuBLAS handle.
  void init(const LstmWeights& w, int batch, int steps, CudaPrecision precision);
  void upload(const Sequence& x, const LstmState* initial) override;
  void run() override;
  LstmOutput download() const override;
  bool weights_on_chip() const override { return on_chip; }

 private:
  LstmShape shape;
  int batch = 0, steps = 0;
  CudaPrecision precision;
  cublasHandle_t blas = nullptr;
  std::vector<DirectionWeights> dirs;
  DeviceBuffer<float> x, out[2], gx, h_buf, c, h0, c0, hn, cn;
  DeviceBuffer<__half> in_h;
  int sms = 0, max_smem = 0;
  int units_per_block = 0, grid = 0, chunk = 1;
  bool on_chip = false;
  std::size_t smem_bytes = 0;

  std::size_t state_size() const { return std::size_t(batch) * shape.hidden_size; }

  // Grid and shared memory: as many units per block as needed to cover H with one block
  // per SM; weights on chip when their slice plus h and the gate scratch fit.
  template <typename W>
  void plan() {
    const int hid = shape.hidden_size;
    units_per_block = (hid + sms - 1) / sms;
    grid = (hid + units_per_block - 1) / units_per_block;
    chunk = std::min(batch, kBatchChunk);
    const std::size_t scratch =
        std::size_t(chunk) * (std::size_t(hid) + 4 * units_per_block) * sizeof(float);
    const std::size_t w_bytes = (std::size_t{4} * units_per_block * hid * sizeof(W) + 15) / 16 * 16;
    auto kernel = lstm_persistent_kernel<W>;
    // Weights on chip first; if that does not fit (or leaves the grid not co-resident),
    // stream them from global memory / L2 instead.
    for (bool want_on_chip : {true, false}) {
      if (want_on_chip && w_bytes + scratch > static_cast<std::size_t>(max_smem)) continue;
      on_chip = want_on_chip;
      smem_bytes = on_chip ? w_bytes + scratch : scratch;
      check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 static_cast<int>(smem_bytes)),
            "cudaFuncSetAttribute");
      int per_sm = 0;
      check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, smem_bytes),
            "occupancy");
      if (per_sm * sms >= grid) return;
    }
    throw Error("cuda lstm: cooperative grid of " + std::to_string(grid) +
                    " blocks does not fit the device",
                kExitFailure);
  }

  template <typename W>
  void launch(const W* w_hh, int y_stride, int y_offset, bool reverse, float* y, std::size_t k) {
    StepArgs a{w_hh,
               gx.get(),
               h_buf.get(),
               c.get(),
               y,
               hn.get() + k * state_size(),
               cn.get() + k * state_size(),
               shape.hidden_size,
               batch,
               chunk,
               steps,
               y_stride,
               y_offset,
               units_per_block,
               reverse ? 1 : 0,
               on_chip ? 1 : 0};
    void* args[] = {&a};
    // The shared-memory limit is a property of the kernel, not of this object: set it again
    // in case another CudaLstm of a different size ran in between.
    check(
        cudaFuncSetAttribute(lstm_persistent_kernel<W>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(smem_bytes)),
        "cudaFuncSetAttribute");
    check(cudaLaunchCooperativeKernel(reinterpret_cast<void*>(lstm_persistent_kernel<W>),
                                      dim3(grid), dim3(kThreads), args, smem_bytes, nullptr),
          "cudaLaunchCooperativeKernel");
  }
};

void PersistentLstm::init(const LstmWeights& w, int batch, int steps, CudaPrecision precision) {
  if (batch < 1 || steps < 1) throw ConfigError("cuda lstm: batch and steps must be >= 1");
  if (cuda::device_count() == 0) throw Error("cuda lstm: no CUDA device", kExitFailure);
  PersistentLstm& m = *this;
  m.shape = w.shape;
  m.batch = batch;
  m.steps = steps;
  m.precision = precision;
  int dev = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&m.sms, cudaDevAttrMultiProcessorCount, dev), "SM count");
  check(cudaDeviceGetAttribute(&m.max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev),
        "shared memory size");
  int coop = 0;
  check(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, dev), "cooperative launch");
  if (!coop) throw Error("cuda lstm: device does not support cooperative launch", kExitFailure);
  check(cublasCreate(&m.blas), "cublasCreate");

  const int hid = w.shape.hidden_size, ndir = w.shape.directions();
  std::size_t max_in = 0;
  for (int l = 0; l < w.shape.num_layers; ++l) {
    for (int d = 0; d < ndir; ++d) {
      const LayerParams& p = w.at(l, d);
      DirectionWeights dw;
      dw.input_size = w.shape.layer_input_size(l);
      max_in = std::max<std::size_t>(max_in, dw.input_size);
      const std::vector<float> wih = row_major(p.w_ih), whh = row_major(p.w_hh);
      const Eigen::VectorXf b = p.b_ih + p.b_hh;
      dw.w_ih.resize(wih.size());
      dw.w_ih.upload(wih.data(), wih.size());
      dw.w_hh.resize(whh.size());
      dw.w_hh.upload(whh.data(), whh.size());
      dw.bias.resize(b.size());
      dw.bias.upload(b.data(), b.size());
      if (precision == CudaPrecision::kFp16) {
        dw.w_ih_h.resize(wih.size());
        cuda::to_half(dw.w_ih.get(), dw.w_ih_h.get(), wih.size());
        dw.w_hh_h.resize(whh.size());
        cuda::to_half(dw.w_hh.get(), dw.w_hh_h.get(), whh.size());
      }
      m.dirs.push_back(std::move(dw));
    }
  }
  const std::size_t tb = std::size_t(steps) * batch;
  m.x.resize(tb * w.shape.input_size);
  m.out[0].resize(tb * ndir * hid);
  m.out[1].resize(tb * ndir * hid);
  m.gx.resize(tb * 4 * hid);
  if (precision == CudaPrecision::kFp16) m.in_h.resize(tb * max_in);
  m.h_buf.resize(2 * m.state_size());
  m.c.resize(m.state_size());
  const std::size_t states = std::size_t(w.shape.num_layers) * ndir * m.state_size();
  m.h0.resize(states);
  m.c0.resize(states);
  m.hn.resize(states);
  m.cn.resize(states);
  if (precision == CudaPrecision::kFp16)
    m.plan<__half>();
  else
    m.plan<float>();
  check(cudaDeviceSynchronize(), "weight upload");
}

void PersistentLstm::upload(const Sequence& x, const LstmState* initial) {
  PersistentLstm& m = *this;
  if (static_cast<int>(x.size()) != m.steps)
    throw ConfigError("cuda lstm: expected " + std::to_string(m.steps) + " steps, got " +
                      std::to_string(x.size()));
  std::vector<float> host(std::size_t(m.steps) * m.batch * m.shape.input_size);
  for (int t = 0; t < m.steps; ++t) {
    if (x[t].rows() != m.shape.input_size || x[t].cols() != m.batch)
      throw ConfigError("cuda lstm: input at step " + std::to_string(t) + " has wrong shape");
    std::copy(x[t].data(), x[t].data() + x[t].size(), host.begin() + std::size_t(t) * x[t].size());
  }
  m.x.upload(host.data(), host.size());
  m.h0.zero();
  m.c0.zero();
  if (initial) {
    const std::size_t n = m.state_size();
    if (initial->h.size() != m.dirs.size() || initial->c.size() != m.dirs.size())
      throw ConfigError("cuda lstm: initial state needs " + std::to_string(m.dirs.size()) +
                        " h and c matrices");
    for (std::size_t k = 0; k < m.dirs.size(); ++k) {
      if (initial->h[k].size() != static_cast<Eigen::Index>(n) ||
          initial->c[k].size() != static_cast<Eigen::Index>(n))
        throw ConfigError("cuda lstm: initial state " + std::to_string(k) + " has wrong shape");
      m.h0.upload(initial->h[k].data(), n, k * n);
      m.c0.upload(initial->c[k].data(), n, k * n);
    }
  }
}

void PersistentLstm::run() {
  PersistentLstm& m = *this;
  const int hid = m.shape.hidden_size, ndir = m.shape.directions();
  const int tb = m.steps * m.batch;
  const std::size_t n = m.state_size();
  const float one = 1.0f, zero = 0.0f;
  for (int l = 0; l < m.shape.num_layers; ++l) {
    const float* in = l == 0 ? m.x.get() : m.out[(l - 1) % 2].get();
    float* y = m.out[l % 2].get();
    for (int d = 0; d < ndir; ++d) {
      const std::size_t k = std::size_t(l) * ndir + d;
      DirectionWeights& dw = m.dirs[k];
      // gx (4H x TB, column-major) = W_ih (row-major [4H, in] = column-major [in, 4H])^T * X.
      if (m.precision == CudaPrecision::kFp32) {
        check(cublasSgemm(m.blas, CUBLAS_OP_T, CUBLAS_OP_N, 4 * hid, tb, dw.input_size, &one,
                          dw.w_ih.get(), dw.input_size, in, dw.input_size, &zero, m.gx.get(),
                          4 * hid),
              "input projection");
      } else {
        cuda::to_half(in, m.in_h.get(), std::size_t(tb) * dw.input_size);
        check(cublasGemmEx(m.blas, CUBLAS_OP_T, CUBLAS_OP_N, 4 * hid, tb, dw.input_size, &one,
                           dw.w_ih_h.get(), CUDA_R_16F, dw.input_size, m.in_h.get(), CUDA_R_16F,
                           dw.input_size, &zero, m.gx.get(), CUDA_R_32F, 4 * hid,
                           CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
              "input projection (fp16)");
      }
      const std::size_t total = std::size_t(tb) * 4 * hid;
      add_bias_kernel<<<static_cast<unsigned>(std::min<std::size_t>((total + 255) / 256, 4096)),
                        256>>>(m.gx.get(), dw.bias.get(), 4 * hid, total);
      check(cudaGetLastError(), "add_bias");
      check(cudaMemcpy(m.h_buf.get(), m.h0.get() + k * n, n * sizeof(float),
                       cudaMemcpyDeviceToDevice),
            "h0");
      check(cudaMemcpy(m.c.get(), m.c0.get() + k * n, n * sizeof(float), cudaMemcpyDeviceToDevice),
            "c0");
      if (m.precision == CudaPrecision::kFp32)
        m.launch(dw.w_hh.get(), ndir * hid, d * hid, d == 1, y, k);
      else
        m.launch(dw.w_hh_h.get(), ndir * hid, d * hid, d == 1, y, k);
    }
  }
  check(cudaDeviceSynchronize(), "lstm run");
}

LstmOutput PersistentLstm::download() const {
  const PersistentLstm& m = *this;
  const int width = m.shape.directions() * m.shape.hidden_size;
  LstmOutput o;
  std::vector<float> host(std::size_t(m.steps) * m.batch * width);
  m.out[(m.shape.num_layers - 1) % 2].download(host.data(), host.size());
  for (int t = 0; t < m.steps; ++t)
    o.y.push_back(Eigen::Map<const Eigen::MatrixXf>(host.data() + std::size_t(t) * m.batch * width,
                                                    width, m.batch));
  const std::size_t n = m.state_size();
  for (std::size_t k = 0; k < m.dirs.size(); ++k) {
    Eigen::MatrixXf h(m.shape.hidden_size, m.batch), c(m.shape.hidden_size, m.batch);
    m.hn.download(h.data(), n, k * n);
    m.cn.download(c.data(), n, k * n);
    o.final.h.push_back(std::move(h));
    o.final.c.push_back(std::move(c));
  }
  return o;
}

}  // namespace

namespace cuda {
int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

std::unique_ptr<CudaLstm::Impl> make_persistent(const LstmWeights& w, int batch, int steps,
                                                CudaPrecision precision) {
  auto lstm = std::make_unique<PersistentLstm>();
  lstm->init(w, batch, steps, precision);
  return lstm;
}
}  // namespace cuda

}  // namespace tessel::lstm

TESSEL_CUDA_PLUGIN_EXPORT const tessel::lstm::LstmCudaApi* tessel_cuda_lstm_api() {
  namespace gpu = tessel::lstm::cuda;
  static const tessel::lstm::LstmCudaApi api{gpu::device_count, gpu::cudnn_compiled,
                                             gpu::make_persistent, gpu::make_cudnn};
  return &api;
}
