// GPU Transformer: cuBLAS GEMMs plus kernels for embedding, LayerNorm, causal softmax,
// GELU, cross-entropy, AdamW; the same layer order as transformer.cpp, read side by side.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "models/common/cuda_plugin.h"
#include "models/common/cuda_util.cuh"
#include "models/nn/transformer_cuda_plugin.h"
#include "runtime/core/cpu_time.h"
#include "runtime/core/error.h"

namespace tessel::nn {
namespace {

using gpu::check;
template <typename T>
using Dev = gpu::DeviceBuffer<T>;

constexpr int kThreads = 256;
inline unsigned grid(int64_t n) {
  return static_cast<unsigned>((n + kThreads - 1) / kThreads);
}
// One warp per row.
inline unsigned warp_grid(int64_t rows) {
  return static_cast<unsigned>((rows * 32 + kThreads - 1) / kThreads);
}

__device__ inline float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__global__ void embed_forward(const int* tok, const float* wte, const float* wpe, float* x,
                              int64_t n, int seq, int c) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n * c) return;
  const int64_t r = i / c;
  const int j = int(i % c);
  x[i] = wte[int64_t(tok[r]) * c + j] + wpe[int64_t(r % seq) * c + j];
}

__global__ void embed_backward(const int* tok, const float* dx, float* dwte, float* dwpe, int64_t n,
                               int seq, int c) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n * c) return;
  const int64_t r = i / c;
  const int j = int(i % c);
  atomicAdd(&dwte[int64_t(tok[r]) * c + j], dx[i]);
  atomicAdd(&dwpe[int64_t(r % seq) * c + j], dx[i]);
}

__global__ void layernorm_forward(const float* x, const float* g, const float* b, float* y,
                                  float* mean, float* rstd, int64_t n, int c) {
  const int64_t row = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= n) return;
  const float* xr = x + row * c;
  float s = 0;
  for (int j = lane; j < c; j += 32) s += xr[j];
  const float m = warp_sum(s) / c;
  float v = 0;
  for (int j = lane; j < c; j += 32) v += (xr[j] - m) * (xr[j] - m);
  const float rs = rsqrtf(warp_sum(v) / c + 1e-5f);
  for (int j = lane; j < c; j += 32) y[row * c + j] = (xr[j] - m) * rs * g[j] + b[j];
  if (lane == 0) {
    mean[row] = m;
    rstd[row] = rs;
  }
}

// dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), dxhat = dy g; dg, db accumulate.
__global__ void layernorm_backward(const float* dy, const float* x, const float* g,
                                   const float* mean, const float* rstd, float* dx, float* dg,
                                   float* db, int64_t n, int c) {
  const int64_t row = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= n) return;
  const float m = mean[row], rs = rstd[row];
  const float* xr = x + row * c;
  const float* dyr = dy + row * c;
  float a = 0, bsum = 0;
  for (int j = lane; j < c; j += 32) {
    const float xh = (xr[j] - m) * rs, d = dyr[j] * g[j];
    a += d;
    bsum += d * xh;
  }
  a = warp_sum(a) / c;
  bsum = warp_sum(bsum) / c;
  for (int j = lane; j < c; j += 32) {
    const float xh = (xr[j] - m) * rs, d = dyr[j] * g[j];
    dx[row * c + j] = (d - a - xh * bsum) * rs;
    atomicAdd(&dg[j], dyr[j] * xh);
    atomicAdd(&db[j], dyr[j]);
  }
}

__global__ void add_bias(float* y, const float* b, int64_t n, int c) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i < n * c) y[i] += b[i % c];
}

// db[j] += Σ_r dy[r, j]; adjacent threads read adjacent columns.
__global__ void bias_grad(const float* dy, float* db, int64_t n, int c) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= c) return;
  float s = 0;
  for (int64_t r = 0; r < n; ++r) s += dy[r * c + j];
  db[j] += s;
}

// out = x + s y (out may alias x).
__global__ void axpy(float* out, const float* x, const float* y, float s, int64_t n) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = x[i] + s * y[i];
}

__global__ void scale(float* out, const float* x, float s, int64_t n) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = s * x[i];
}

__global__ void multiply(float* out, const float* a, const float* b, int64_t n) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = a[i] * b[i];
}

__global__ void fill(float* out, float v, int64_t n) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = v;
}

constexpr float kGeluC = 0.7978845608028654f;

__global__ void gelu_forward(const float* x, float* y, int64_t n) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const float v = x[i];
  y[i] = 0.5f * v * (1.0f + tanhf(kGeluC * (v + 0.044715f * v * v * v)));
}

__global__ void gelu_backward(const float* dy, const float* x, float* dx, int64_t n) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const float v = x[i];
  const float th = tanhf(kGeluC * (v + 0.044715f * v * v * v));
  const float du = kGeluC * (1.0f + 3.0f * 0.044715f * v * v);
  dx[i] = dy[i] * (0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * du);
}

// qkv [B*T, 3C] → q, k, v [B*H, T, hd] (each head contiguous for batched GEMMs).
__global__ void split_heads(const float* qkv, float* q, float* k, float* v, int batch, int seq,
                            int heads, int hd) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int c = heads * hd;
  if (i >= int64_t(batch) * seq * c) return;
  const int d = int(i % hd);
  const int t = int(i / hd % seq);
  const int h = int(i / (int64_t(hd) * seq) % heads);
  const int b = int(i / (int64_t(hd) * seq * heads));
  const int64_t src = (int64_t(b) * seq + t) * 3 * c + h * hd + d;
  q[i] = qkv[src];
  k[i] = qkv[src + c];
  v[i] = qkv[src + 2 * c];
}

// The inverse: dq, dk, dv [B*H, T, hd] → dqkv [B*T, 3C].
__global__ void merge_heads_qkv(const float* dq, const float* dk, const float* dv, float* dqkv,
                                int batch, int seq, int heads, int hd) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int c = heads * hd;
  if (i >= int64_t(batch) * seq * c) return;
  const int d = int(i % hd);
  const int t = int(i / hd % seq);
  const int h = int(i / (int64_t(hd) * seq) % heads);
  const int b = int(i / (int64_t(hd) * seq * heads));
  const int64_t dst = (int64_t(b) * seq + t) * 3 * c + h * hd + d;
  dqkv[dst] = dq[i];
  dqkv[dst + c] = dk[i];
  dqkv[dst + 2 * c] = dv[i];
}

// o [B*H, T, hd] ↔ y [B*T, C]; `to_rows` picks the direction.
__global__ void heads_rows(float* heads_buf, float* rows, int batch, int seq, int heads, int hd,
                           bool to_rows) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int c = heads * hd;
  if (i >= int64_t(batch) * seq * c) return;
  const int d = int(i % hd);
  const int t = int(i / hd % seq);
  const int h = int(i / (int64_t(hd) * seq) % heads);
  const int b = int(i / (int64_t(hd) * seq * heads));
  const int64_t r = (int64_t(b) * seq + t) * c + h * hd + d;
  if (to_rows)
    rows[r] = heads_buf[i];
  else
    heads_buf[i] = rows[r];
}

// p = softmax over s <= t of scale · raw[t, s]; zero above the diagonal. One warp per row.
__global__ void causal_softmax_forward(const float* raw, float* p, float scale_qk, int64_t rows,
                                       int seq) {
  const int64_t row = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const int t = int(row % seq);
  const float* r = raw + row * seq;
  float* pr = p + row * seq;
  float mx = -INFINITY;
  for (int j = lane; j <= t; j += 32) mx = fmaxf(mx, scale_qk * r[j]);
  mx = warp_max(mx);
  float sum = 0;
  for (int j = lane; j <= t; j += 32) sum += expf(scale_qk * r[j] - mx);
  sum = warp_sum(sum);
  for (int j = lane; j < seq; j += 32) pr[j] = j <= t ? expf(scale_qk * r[j] - mx) / sum : 0.0f;
}

// d raw = scale · p ⊙ (dp - Σ_j p_j dp_j): the gradient with respect to the unscaled Q Kᵀ.
__global__ void causal_softmax_backward(const float* dp, const float* p, float* draw,
                                        float scale_qk, int64_t rows, int seq) {
  const int64_t row = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const float* dpr = dp + row * seq;
  const float* pr = p + row * seq;
  float dot = 0;
  for (int j = lane; j < seq; j += 32) dot += pr[j] * dpr[j];
  dot = warp_sum(dot);
  for (int j = lane; j < seq; j += 32) draw[row * seq + j] = scale_qk * pr[j] * (dpr[j] - dot);
}

// Per row: loss = logsumexp - logit[y]; dlogits = (softmax - onehot) · gscale. Rows with
// a negative target give loss 0 and zero gradient. dlogits may be null (loss only).
__global__ void cross_entropy(const float* logits, const int* targets, float* dlogits,
                              float* losses, float gscale, int64_t n, int v) {
  const int64_t row = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= n) return;
  const float* lr = logits + row * v;
  const int y = targets[row];
  if (y < 0) {
    if (dlogits)
      for (int j = lane; j < v; j += 32) dlogits[row * v + j] = 0;
    if (lane == 0) losses[row] = 0;
    return;
  }
  float mx = -INFINITY;
  for (int j = lane; j < v; j += 32) mx = fmaxf(mx, lr[j]);
  mx = warp_max(mx);
  float sum = 0;
  for (int j = lane; j < v; j += 32) sum += expf(lr[j] - mx);
  sum = warp_sum(sum);
  if (lane == 0) losses[row] = logf(sum) + mx - lr[y];
  if (dlogits)
    for (int j = lane; j < v; j += 32)
      dlogits[row * v + j] = (expf(lr[j] - mx) / sum - (j == y ? 1.0f : 0.0f)) * gscale;
}

__global__ void sum_squares(const float* g, int64_t n, double* out) {
  __shared__ double part[kThreads];
  double s = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    s += double(g[i]) * g[i];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w >>= 1) {
    if (threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) atomicAdd(out, part[0]);
}

// The same arithmetic as adamw_update() in optimizer.cpp, with the clip factor folded in.
__global__ void adamw(float* p, const float* g, float* m, float* v, const unsigned char* decay,
                      int64_t n, float lr, float b1, float b2, float bc1, float bc2, float eps,
                      float wd, float gscale) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const float gi = g[i] * gscale;
  m[i] = b1 * m[i] + (1 - b1) * gi;
  v[i] = b2 * v[i] + (1 - b2) * gi * gi;
  const float mh = m[i] / bc1, vh = v[i] / bc2;
  p[i] -= lr * (mh / (sqrtf(vh) + eps) + (decay[i] ? wd : 0.0f) * p[i]);
}

// ZeRO-Offload's 16-bit transfers. out = round(g · mask · factor) to fp16 or bf16 (round to
// nearest even, overflow to infinity: the rounding of models/cpu_adam/half.h), as bits;
// mask may be null.
__global__ void to_sixteen_bits(const float* g, const float* mask, uint16_t* out, float factor,
                                int64_t n, bool bf16) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const float x = (mask ? g[i] * mask[i] : g[i]) * factor;
  out[i] =
      bf16 ? __bfloat16_as_ushort(__float2bfloat16_rn(x)) : __half_as_ushort(__float2half_rn(x));
}

__global__ void from_sixteen_bits(const uint16_t* in, float* out, int64_t n, bool bf16) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  out[i] =
      bf16 ? __bfloat162float(__ushort_as_bfloat16(in[i])) : __half2float(__ushort_as_half(in[i]));
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

// ParamStore<float>::index on the layout's infos (params.cpp is not part of the plugin).
int param_index(const std::vector<ParamInfo>& infos, const std::string& name) {
  for (std::size_t i = 0; i < infos.size(); ++i)
    if (infos[i].name == name) return static_cast<int>(i);
  throw Error("nn: no parameter named '" + name + "'", kExitFailure);
}

// cfg, precision and loss_scale are fields of CudaTransformer::Impl.
struct GpuTransformer final : CudaTransformer::Impl {
  int64_t max_tokens;
  std::vector<ParamInfo> infos;
  int64_t n_params = 0;
  int wte, wpe, lnf_g, lnf_b;
  struct Ids {
    int ln1_g, ln1_b, w_qkv, b_qkv, w_proj, b_proj, ln2_g, ln2_b, w_fc, b_fc, w_fc2, b_fc2;
  };
  std::vector<Ids> ids;

  cublasHandle_t blas = nullptr;
  Dev<float> values, fwd_values, grads, mask, adam_m, adam_v;
  Dev<unsigned char> decay;
  bool has_mask = false;
  int64_t clean_steps = 0;

  // Activations, sized for max_tokens.
  struct Layer {
    Dev<float> x_mid, ln1, q, k, v, att, atty, ln2, fc, act;
    Dev<float> ln1_mean, ln1_rstd, ln2_mean, ln2_rstd;
    float scale = 1;
  };
  std::vector<Dev<float>> x;  // residual stream: x[l] enters block l, x[L] leaves the last
  std::vector<Layer> layers;
  Dev<float> lnf, lnf_mean, lnf_rstd, logits, dlogits, losses;
  Dev<float> scratch_c3, scratch_tt, scratch_c, scratch_c2, scratch_c4;  // forward temporaries
  Dev<float> dres, dxm, dtmp, dbig, dbig2, dln, datty, dq, dk, dv, dhead, dp, dqkv;
  Dev<int> tokens, targets;
  Dev<double> norm_sq;  // clip_and_adamw's sum of squares, allocated once (cudaFree syncs)
  int batch = 0, seq = 0;
  int64_t counted = 0;

  // ZeRO-Offload (enable_offload). A bucket is a contiguous range of the parameters whose
  // gradients are complete at one point of backward.
  struct Bucket {
    int64_t begin = 0, end = 0;
    cudaEvent_t converted = nullptr;                       // its 16-bit gradients are in grads16
    cudaEvent_t copy_begin = nullptr, copy_end = nullptr;  // timing, on the copy stream
  };
  bool offload = false, offload_bf16 = false;
  float offload_scale = 1;
  cudaStream_t copy_stream = nullptr;  // non-blocking: never waits for the compute stream
  std::vector<Bucket> buckets;         // in send order: LN_f, blocks L-1 .. 0, the embeddings
  cudaEvent_t params_copied = nullptr;
  Dev<uint16_t> grads16, params16;
  gpu::PinnedBuffer<uint16_t> host_grads16, host_params16;
  // offload_times: step_anchor completes at host time anchor_ns (recorded on the idle
  // compute stream and waited for at the step's start); the others are timed against it.
  cudaEvent_t step_anchor = nullptr, backward_end = nullptr, upload_begin = nullptr;
  cudaEvent_t copies_done = nullptr;   // wait_copies
  cudaEvent_t compute_done = nullptr;  // the upload waits for the compute stream's work
  double anchor_ns = 0;
  bool step_timed = false, upload_timed = false;
  std::vector<cudaEvent_t> events;  // every event above, destroyed with the model

  const float* w(int id) const { return fwd_values.get() + infos[size_t(id)].offset; }
  float* gw(int id) const { return grads.get() + infos[size_t(id)].offset; }

  cublasComputeType_t compute() const {
    switch (precision) {
      case Precision::kBf16:
        return CUBLAS_COMPUTE_32F_FAST_16BF;
      case Precision::kFp16:
        return CUBLAS_COMPUTE_32F_FAST_16F;
      default:
        return CUBLAS_COMPUTE_32F;
    }
  }

  // Row-major C[m, n] = alpha op(A) op(B) + beta C, with op(A) [m, k] and op(B) [k, n].
  // cuBLAS is column-major, so it computes Cᵀ = op(B)ᵀ op(A)ᵀ on the same memory.
  void gemm(bool ta, bool tb, int m, int n, int k, const float* a, const float* b, float* c,
            float alpha = 1, float beta = 0) const {
    check(cublasGemmEx(blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m,
                       k, &alpha, b, CUDA_R_32F, tb ? k : n, a, CUDA_R_32F, ta ? m : k, &beta, c,
                       CUDA_R_32F, n, compute(), CUBLAS_GEMM_DEFAULT),
          "gemm");
  }
  void gemm_batched(bool ta, bool tb, int m, int n, int k, const float* a, int64_t sa,
                    const float* b, int64_t sb, float* c, int64_t sc, int count, float alpha = 1,
                    float beta = 0) const {
    check(cublasGemmStridedBatchedEx(blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                     ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, CUDA_R_32F,
                                     tb ? k : n, sb, a, CUDA_R_32F, ta ? m : k, sa, &beta, c,
                                     CUDA_R_32F, n, sc, count, compute(), CUBLAS_GEMM_DEFAULT),
          "gemm_batched");
  }

  // y = x W + b for x [rows, in], W [in, out].
  void linear(const float* xin, int id_w, int id_b, float* y, int64_t rows, int in, int out) const {
    gemm(false, false, int(rows), out, in, xin, w(id_w), y);
    add_bias<<<grid(rows * out), kThreads>>>(y, w(id_b), rows, out);
  }
  // dx = dy Wᵀ (when dx), dW += xᵀ dy, db += Σ dy.
  void linear_back(const float* dy, const float* xin, int id_w, int id_b, float* dx, int64_t rows,
                   int in, int out) const {
    if (dx) gemm(false, true, int(rows), in, out, dy, w(id_w), dx);
    gemm(true, false, in, out, int(rows), xin, dy, gw(id_w), 1, 1);
    bias_grad<<<grid(out), kThreads>>>(dy, gw(id_b), rows, out);
  }

  float forward(const data::TokenBatch& b, const StepOptions& o, bool need_grad);
  void backward();
  void backward_block(int l);
  void add_bucket(const std::vector<int>& ids);
  void send_bucket(const Bucket& b);
  // fwd_values = values ⊙ mask (a copy without a mask), after anything wrote values.
  void refresh_forward_values();

  ~GpuTransformer() override {
    if (copy_stream) {  // copies in flight still write the pinned buffers
      cudaStreamSynchronize(copy_stream);
      cudaStreamDestroy(copy_stream);
    }
    for (cudaEvent_t e : events) cudaEventDestroy(e);
    if (blas) cublasDestroy(blas);
  }
  // Sizes every buffer; a separate step so that a throw from it still runs the destructor.
  void init(const TransformerConfig& config, const ParamStore<float>& layout, int64_t max_tokens_,
            Precision precision_);
  void upload_params(const ParamStore<float>& params) override;
  void download_params(ParamStore<float>& params) const override;
  void download_grads(ParamStore<float>& params) const override;
  void zero_grad() override;
  float forward_backward(const data::TokenBatch& batch, const StepOptions& o) override;
  float loss(const data::TokenBatch& batch, const StepOptions& o) override;
  Matrix<float> download_logits() const override;
  double clip_and_adamw(const AdamWConfig& c, double lr, int64_t t, double max_norm,
                        const std::function<void()>& before_update) override;
  void download_adam(float* m_out, float* v_out) const override;
  void upload_adam(const float* m_in, const float* v_in) override;
  CudaTransformer::DeviceParams device_params() override;
  float* device_mask() override;
  void values_changed() override;
  CudaTransformer::DeviceLogits device_logits() override;
  CudaTransformer::OffloadBuffers enable_offload(bool bf16, float loss_scale) override;
  void wait_offload_gradients() override;
  void upload_offload_params() override;
  CudaTransformer::OffloadTimes offload_times() const override;
  cudaEvent_t new_event(unsigned flags);
  void wait_copies();
  double event_ns(cudaEvent_t e) const;
};

void GpuTransformer::init(const TransformerConfig& config, const ParamStore<float>& layout,
                          int64_t max_tokens_, Precision precision_) {
  if (config.head != Head::kLanguageModel)
    throw Error("nn: the CUDA backend implements the language-model head only", kExitConfig);
  GpuTransformer& m = *this;
  m.cfg = config;
  m.precision = precision_;
  m.max_tokens = max_tokens_;
  m.infos = layout.infos();
  m.n_params = layout.size();
  auto index = [&](const std::string& name) { return param_index(m.infos, name); };
  m.wte = index("wte");
  m.wpe = index("wpe");
  m.lnf_g = index("lnf_g");
  m.lnf_b = index("lnf_b");
  for (int l = 0; l < config.layers; ++l) {
    const std::string p = "h" + std::to_string(l) + ".";
    m.ids.push_back({index(p + "ln1_g"), index(p + "ln1_b"), index(p + "w_qkv"), index(p + "b_qkv"),
                     index(p + "w_proj"), index(p + "b_proj"), index(p + "ln2_g"),
                     index(p + "ln2_b"), index(p + "w_fc"), index(p + "b_fc"), index(p + "w_fc2"),
                     index(p + "b_fc2")});
  }
  check(cublasCreate(&m.blas), "cublasCreate");
  const auto n = static_cast<std::size_t>(m.n_params);
  m.values.resize(n);
  m.fwd_values.resize(n);
  m.grads.resize(n);
  m.adam_m.resize(n);
  m.adam_v.resize(n);
  std::vector<unsigned char> decay(n);
  for (const auto& p : m.infos)
    std::fill(decay.begin() + p.offset, decay.begin() + p.offset + p.size(), p.decay ? 1 : 0);
  m.decay.resize(n);
  m.decay.upload(decay.data(), n);

  const auto t = static_cast<std::size_t>(max_tokens);
  const auto c = static_cast<std::size_t>(config.width);
  const auto f = static_cast<std::size_t>(config.mlp_ratio) * c;
  const std::size_t tt = t * static_cast<std::size_t>(config.heads * config.max_seq);
  m.x.resize(static_cast<std::size_t>(config.layers) + 1);
  for (auto& b : m.x) b.resize(t * c);
  m.layers.resize(static_cast<std::size_t>(config.layers));
  for (auto& L : m.layers) {
    for (Dev<float>* b : {&L.x_mid, &L.ln1, &L.q, &L.k, &L.v, &L.atty, &L.ln2}) b->resize(t * c);
    L.att.resize(tt);
    L.fc.resize(t * f);
    L.act.resize(t * f);
    for (Dev<float>* b : {&L.ln1_mean, &L.ln1_rstd, &L.ln2_mean, &L.ln2_rstd}) b->resize(t);
  }
  const auto v = static_cast<std::size_t>(config.vocab_size);
  m.lnf.resize(t * c);
  m.lnf_mean.resize(t);
  m.lnf_rstd.resize(t);
  m.logits.resize(t * v);
  m.dlogits.resize(t * v);
  m.losses.resize(t);
  m.scratch_c3.resize(3 * t * c);
  m.scratch_tt.resize(tt);
  m.scratch_c.resize(t * c);
  m.scratch_c2.resize(t * c);
  m.scratch_c4.resize(t * f);
  for (Dev<float>* b : {&m.dres, &m.dxm, &m.dtmp, &m.dln, &m.datty, &m.dq, &m.dk, &m.dv, &m.dhead})
    b->resize(t * c);
  m.dbig.resize(t * f);
  m.dbig2.resize(t * f);
  m.dp.resize(tt);
  m.dqkv.resize(3 * t * c);
  m.tokens.resize(t);
  m.targets.resize(t);
  m.norm_sq.resize(1);
}

void GpuTransformer::upload_params(const ParamStore<float>& params) {
  GpuTransformer& m = *this;
  if (params.size() != m.n_params)
    throw Error("nn cuda: parameter store of another model (" + std::to_string(params.size()) +
                    " values, expected " + std::to_string(m.n_params) + ")",
                kExitFailure);
  const auto n = static_cast<std::size_t>(m.n_params);
  m.values.upload(params.values().data(), n);
  m.has_mask = params.has_masks();
  if (m.has_mask) {
    m.mask.resize(n);
    m.mask.upload(params.mask().data(), n);
  }
  m.refresh_forward_values();
}

void GpuTransformer::refresh_forward_values() {
  if (has_mask)
    multiply<<<grid(n_params), kThreads>>>(fwd_values.get(), values.get(), mask.get(), n_params);
  else
    check(cudaMemcpy(fwd_values.get(), values.get(), size_t(n_params) * sizeof(float),
                     cudaMemcpyDeviceToDevice),
          "copy values");
}

void GpuTransformer::download_params(ParamStore<float>& params) const {
  values.download(params.values().data(), static_cast<std::size_t>(n_params));
}

void GpuTransformer::download_grads(ParamStore<float>& params) const {
  grads.download(params.grads().data(), static_cast<std::size_t>(n_params));
}

void GpuTransformer::zero_grad() {
  grads.zero();
}

float GpuTransformer::forward(const data::TokenBatch& b, const StepOptions& o, bool need_grad) {
  if (o.trace)
    throw Error("nn cuda: the tensor trace is recorded by the CPU backend only", kExitFailure);
  if (b.size() > max_tokens || b.seq > cfg.max_seq)
    throw Error("nn cuda: batch of " + std::to_string(b.batch) + " x " + std::to_string(b.seq) +
                    " exceeds the buffers sized for " + std::to_string(max_tokens) + " tokens",
                kExitFailure);
  if (!o.layer_scale.empty() && static_cast<int>(o.layer_scale.size()) != cfg.layers)
    throw Error("nn cuda: layer_scale size differs from the layer count", kExitFailure);
  // The checks of the CPU model's check_batch: the uploads below trust these sizes.
  if (b.batch <= 0 || b.seq <= 0) throw Error("nn cuda: empty batch", kExitFailure);
  if (!o.layer_scale.empty() && cfg.norm == Norm::kPostLN)
    throw Error("nn cuda: layer dropping needs the pre-LN layout (PLD's switchable block)",
                kExitFailure);
  if (static_cast<int64_t>(b.tokens.size()) != b.size() ||
      static_cast<int64_t>(b.targets.size()) != b.size())
    throw Error("nn cuda: tokens or targets size != batch * seq", kExitFailure);
  for (int32_t t : b.tokens)
    if (t < 0 || t >= cfg.vocab_size) throw Error("nn cuda: token id out of range", kExitFailure);
  for (int32_t y : b.targets)
    if (y >= cfg.vocab_size) throw Error("nn cuda: target id out of range", kExitFailure);
  batch = b.batch;
  seq = b.seq;
  const int64_t n = b.size();
  const int c = cfg.width, f = cfg.mlp_ratio * cfg.width, h = cfg.heads, hd = c / h;
  const int v = cfg.vocab_size;
  tokens.upload(b.tokens.data(), b.tokens.size());
  targets.upload(b.targets.data(), b.targets.size());
  counted = 0;
  for (int32_t y : b.targets) counted += y >= 0;

  embed_forward<<<grid(n * c), kThreads>>>(tokens.get(), w(wte), w(wpe), x[0].get(), n, seq, c);
  const float scale_qk = 1.0f / std::sqrt(static_cast<float>(hd));
  const int bh = batch * h;
  const bool post = cfg.norm == Norm::kPostLN;
  for (int l = 0; l < cfg.layers; ++l) {
    Layer& L = layers[size_t(l)];
    const Ids& p = ids[size_t(l)];
    L.scale = o.layer_scale.empty() ? 1.0f : static_cast<float>(o.layer_scale[size_t(l)]);
    float* xin = x[size_t(l)].get();
    float* xout = x[size_t(l) + 1].get();
    if (L.scale == 0) {  // skipped block: identity
      check(cudaMemcpy(xout, xin, size_t(n) * c * sizeof(float), cudaMemcpyDeviceToDevice), "skip");
      continue;
    }
    // Post-LN (the CPU's post_ln_block_forward): the attention reads x_in itself; L.ln1 and
    // L.ln2 hold the residual sums that LN1 and LN2 normalise, which backward needs.
    if (!post)
      layernorm_forward<<<warp_grid(n), kThreads>>>(xin, w(p.ln1_g), w(p.ln1_b), L.ln1.get(),
                                                    L.ln1_mean.get(), L.ln1_rstd.get(), n, c);
    linear(post ? xin : L.ln1.get(), p.w_qkv, p.b_qkv, scratch_c3.get(), n, c, 3 * c);
    split_heads<<<grid(n * c), kThreads>>>(scratch_c3.get(), L.q.get(), L.k.get(), L.v.get(), batch,
                                           seq, h, hd);
    // raw = Q Kᵀ per head, P = causal softmax(raw / sqrt(hd)), O = P V.
    gemm_batched(false, true, seq, seq, hd, L.q.get(), int64_t(seq) * hd, L.k.get(),
                 int64_t(seq) * hd, scratch_tt.get(), int64_t(seq) * seq, bh);
    causal_softmax_forward<<<warp_grid(int64_t(bh) * seq), kThreads>>>(
        scratch_tt.get(), L.att.get(), scale_qk, int64_t(bh) * seq, seq);
    gemm_batched(false, false, seq, hd, seq, L.att.get(), int64_t(seq) * seq, L.v.get(),
                 int64_t(seq) * hd, scratch_c.get(), int64_t(seq) * hd, bh);
    heads_rows<<<grid(n * c), kThreads>>>(scratch_c.get(), L.atty.get(), batch, seq, h, hd, true);
    linear(L.atty.get(), p.w_proj, p.b_proj, scratch_c2.get(), n, c, c);
    if (post) {
      axpy<<<grid(n * c), kThreads>>>(L.ln1.get(), xin, scratch_c2.get(), 1.0f, n * c);
      layernorm_forward<<<warp_grid(n), kThreads>>>(L.ln1.get(), w(p.ln1_g), w(p.ln1_b),
                                                    L.x_mid.get(), L.ln1_mean.get(),
                                                    L.ln1_rstd.get(), n, c);
      linear(L.x_mid.get(), p.w_fc, p.b_fc, L.fc.get(), n, c, f);
      gelu_forward<<<grid(n * f), kThreads>>>(L.fc.get(), L.act.get(), n * f);
      linear(L.act.get(), p.w_fc2, p.b_fc2, scratch_c2.get(), n, f, c);
      axpy<<<grid(n * c), kThreads>>>(L.ln2.get(), L.x_mid.get(), scratch_c2.get(), 1.0f, n * c);
      layernorm_forward<<<warp_grid(n), kThreads>>>(L.ln2.get(), w(p.ln2_g), w(p.ln2_b), xout,
                                                    L.ln2_mean.get(), L.ln2_rstd.get(), n, c);
      continue;
    }
    axpy<<<grid(n * c), kThreads>>>(L.x_mid.get(), xin, scratch_c2.get(), L.scale, n * c);
    layernorm_forward<<<warp_grid(n), kThreads>>>(L.x_mid.get(), w(p.ln2_g), w(p.ln2_b),
                                                  L.ln2.get(), L.ln2_mean.get(), L.ln2_rstd.get(),
                                                  n, c);
    linear(L.ln2.get(), p.w_fc, p.b_fc, L.fc.get(), n, c, f);
    gelu_forward<<<grid(n * f), kThreads>>>(L.fc.get(), L.act.get(), n * f);
    linear(L.act.get(), p.w_fc2, p.b_fc2, scratch_c2.get(), n, f, c);
    axpy<<<grid(n * c), kThreads>>>(xout, L.x_mid.get(), scratch_c2.get(), L.scale, n * c);
  }
  const float* xl = x[size_t(cfg.layers)].get();
  layernorm_forward<<<warp_grid(n), kThreads>>>(xl, w(lnf_g), w(lnf_b), lnf.get(), lnf_mean.get(),
                                                lnf_rstd.get(), n, c);
  gemm(false, true, int(n), v, c, lnf.get(), w(wte), logits.get());
  const float gscale = counted ? loss_scale / static_cast<float>(counted) : 0.0f;
  cross_entropy<<<warp_grid(n), kThreads>>>(
      logits.get(), targets.get(), need_grad ? dlogits.get() : nullptr, losses.get(), gscale, n, v);
  check(cudaGetLastError(), "forward kernels");
  std::vector<float> host(static_cast<std::size_t>(n));
  losses.download(host.data(), host.size());
  double total = 0;
  for (float x_ : host) total += x_;
  return counted ? static_cast<float>(total / static_cast<double>(counted)) : 0.0f;
}

void GpuTransformer::backward() {
  const int64_t n = int64_t(batch) * seq;
  const int c = cfg.width, v = cfg.vocab_size;
  // LM head: logits = lnf wteᵀ.
  gemm(false, false, int(n), c, v, dlogits.get(), w(wte), dln.get());
  gemm(true, false, v, c, int(n), dlogits.get(), lnf.get(), gw(wte), 1, 1);
  layernorm_backward<<<warp_grid(n), kThreads>>>(dln.get(), x[size_t(cfg.layers)].get(), w(lnf_g),
                                                 lnf_mean.get(), lnf_rstd.get(), dres.get(),
                                                 gw(lnf_g), gw(lnf_b), n, c);
  if (offload) send_bucket(buckets.front());
  for (int l = cfg.layers - 1; l >= 0; --l) {
    backward_block(l);
    if (offload) send_bucket(buckets[size_t(cfg.layers - l)]);
  }
  embed_backward<<<grid(n * c), kThreads>>>(tokens.get(), dres.get(), gw(wte), gw(wpe), n, seq, c);
  if (offload) {
    check(cudaEventRecord(backward_end, 0), "backward timing");
    send_bucket(buckets.back());
    step_timed = true;
  }
  check(cudaGetLastError(), "backward kernels");
}

// Block l's backward: dres holds the gradient of its output and leaves with its input's.
void GpuTransformer::backward_block(int l) {
  const int64_t n = int64_t(batch) * seq;
  const int c = cfg.width, f = cfg.mlp_ratio * cfg.width, h = cfg.heads, hd = c / h;
  const int bh = batch * h;
  const bool post = cfg.norm == Norm::kPostLN;
  const float scale_qk = 1.0f / std::sqrt(static_cast<float>(hd));
  Layer& L = layers[size_t(l)];
  if (L.scale == 0) return;
  const Ids& p = ids[size_t(l)];
  if (post) {
    // out = LN2(sum2), sum2 = x_mid + fc2(gelu(fc(x_mid))) (L.ln2 holds sum2); then
    // x_mid = LN1(sum1), sum1 = x_in + proj(attn(qkv(x_in))) (L.ln1 holds sum1).
    layernorm_backward<<<warp_grid(n), kThreads>>>(dres.get(), L.ln2.get(), w(p.ln2_g),
                                                   L.ln2_mean.get(), L.ln2_rstd.get(), dtmp.get(),
                                                   gw(p.ln2_g), gw(p.ln2_b), n, c);
    linear_back(dtmp.get(), L.act.get(), p.w_fc2, p.b_fc2, dbig.get(), n, f, c);
    gelu_backward<<<grid(n * f), kThreads>>>(dbig.get(), L.fc.get(), dbig2.get(), n * f);
    linear_back(dbig2.get(), L.x_mid.get(), p.w_fc, p.b_fc, dln.get(), n, c, f);
    axpy<<<grid(n * c), kThreads>>>(dxm.get(), dln.get(), dtmp.get(), 1.0f, n * c);
    layernorm_backward<<<warp_grid(n), kThreads>>>(dxm.get(), L.ln1.get(), w(p.ln1_g),
                                                   L.ln1_mean.get(), L.ln1_rstd.get(), dtmp.get(),
                                                   gw(p.ln1_g), gw(p.ln1_b), n, c);
  } else {
    // x_out = x_mid + s · fc2(gelu(fc(ln2(x_mid))))
    scale<<<grid(n * c), kThreads>>>(dtmp.get(), dres.get(), L.scale, n * c);
    linear_back(dtmp.get(), L.act.get(), p.w_fc2, p.b_fc2, dbig.get(), n, f, c);
    gelu_backward<<<grid(n * f), kThreads>>>(dbig.get(), L.fc.get(), dbig2.get(), n * f);
    linear_back(dbig2.get(), L.ln2.get(), p.w_fc, p.b_fc, dln.get(), n, c, f);
    layernorm_backward<<<warp_grid(n), kThreads>>>(dln.get(), L.x_mid.get(), w(p.ln2_g),
                                                   L.ln2_mean.get(), L.ln2_rstd.get(), dxm.get(),
                                                   gw(p.ln2_g), gw(p.ln2_b), n, c);
    axpy<<<grid(n * c), kThreads>>>(dxm.get(), dxm.get(), dres.get(), 1.0f, n * c);
    // x_mid = x_in + s · proj(attn(qkv(ln1(x_in))))
    scale<<<grid(n * c), kThreads>>>(dtmp.get(), dxm.get(), L.scale, n * c);
  }
  // dtmp: the gradient of the attention branch's output (sum1's, for post-LN).
  // Post-LN's residual path around the attention carries dtmp too; pre-LN's carries dxm.
  linear_back(dtmp.get(), L.atty.get(), p.w_proj, p.b_proj, datty.get(), n, c, c);
  heads_rows<<<grid(n * c), kThreads>>>(dhead.get(), datty.get(), batch, seq, h, hd, false);
  // dV = Pᵀ dO; dP = dO Vᵀ; d raw = softmax backward; dQ = d raw K; dK = d rawᵀ Q.
  gemm_batched(true, false, seq, hd, seq, L.att.get(), int64_t(seq) * seq, dhead.get(),
               int64_t(seq) * hd, dv.get(), int64_t(seq) * hd, bh);
  gemm_batched(false, true, seq, seq, hd, dhead.get(), int64_t(seq) * hd, L.v.get(),
               int64_t(seq) * hd, dp.get(), int64_t(seq) * seq, bh);
  causal_softmax_backward<<<warp_grid(int64_t(bh) * seq), kThreads>>>(
      dp.get(), L.att.get(), scratch_tt.get(), scale_qk, int64_t(bh) * seq, seq);
  gemm_batched(false, false, seq, hd, seq, scratch_tt.get(), int64_t(seq) * seq, L.k.get(),
               int64_t(seq) * hd, dq.get(), int64_t(seq) * hd, bh);
  gemm_batched(true, false, seq, hd, seq, scratch_tt.get(), int64_t(seq) * seq, L.q.get(),
               int64_t(seq) * hd, dk.get(), int64_t(seq) * hd, bh);
  merge_heads_qkv<<<grid(n * c), kThreads>>>(dq.get(), dk.get(), dv.get(), dqkv.get(), batch, seq,
                                             h, hd);
  if (post) {
    linear_back(dqkv.get(), x[size_t(l)].get(), p.w_qkv, p.b_qkv, dln.get(), n, c, 3 * c);
    axpy<<<grid(n * c), kThreads>>>(dres.get(), dln.get(), dtmp.get(), 1.0f, n * c);
    return;
  }
  linear_back(dqkv.get(), L.ln1.get(), p.w_qkv, p.b_qkv, dln.get(), n, c, 3 * c);
  layernorm_backward<<<warp_grid(n), kThreads>>>(dln.get(), x[size_t(l)].get(), w(p.ln1_g),
                                                 L.ln1_mean.get(), L.ln1_rstd.get(), dres.get(),
                                                 gw(p.ln1_g), gw(p.ln1_b), n, c);
  axpy<<<grid(n * c), kThreads>>>(dres.get(), dres.get(), dxm.get(), 1.0f, n * c);
}

float GpuTransformer::forward_backward(const data::TokenBatch& batch, const StepOptions& o) {
  GpuTransformer& m = *this;
  if (m.offload) {
    // The buckets below overwrite grads16: the previous step's copies must have read it.
    m.wait_copies();
    // The timing anchor: the compute stream has only the last upload's widening left.
    check(cudaEventRecord(m.step_anchor, 0), "anchor");
    check(cudaEventSynchronize(m.step_anchor), "anchor");
    m.anchor_ns = steady_seconds() * 1e9;
    m.step_timed = m.upload_timed = false;
  }
  const bool scaled = m.precision == Precision::kFp16 && m.loss_scale != 1.0f;
  // Gradients accumulate across calls; with a loss scale the earlier part is scaled up
  // first so that one unscale at the end leaves every part unscaled.
  if (scaled)
    scale<<<grid(m.n_params), kThreads>>>(m.grads.get(), m.grads.get(), m.loss_scale, m.n_params);
  float loss = m.forward(batch, o, true);
  // Extra loss terms on the logits (distillation) rewrite dlogits before backward reads it.
  if (m.logit_loss) loss = m.logit_loss(batch, m.device_logits(), loss);
  m.backward();
  if (scaled)
    scale<<<grid(m.n_params), kThreads>>>(m.grads.get(), m.grads.get(), 1.0f / m.loss_scale,
                                          m.n_params);
  if (m.has_mask)
    multiply<<<grid(m.n_params), kThreads>>>(m.grads.get(), m.grads.get(), m.mask.get(),
                                             m.n_params);
  check(cudaGetLastError(), "forward_backward");
  return loss;
}

float GpuTransformer::loss(const data::TokenBatch& batch, const StepOptions& o) {
  return forward(batch, o, false);
}

Matrix<float> GpuTransformer::download_logits() const {
  const GpuTransformer& m = *this;
  Matrix<float> out(int64_t(m.batch) * m.seq, m.cfg.vocab_size);
  m.logits.download(out.data(), static_cast<std::size_t>(out.size()));
  return out;
}

double GpuTransformer::clip_and_adamw(const AdamWConfig& c, double lr, int64_t t, double max_norm,
                                      const std::function<void()>& before_update) {
  GpuTransformer& m = *this;
  if (m.offload) throw Error("nn cuda: with offload the optimizer runs on the host", kExitFailure);
  m.norm_sq.zero();
  sum_squares<<<256, kThreads>>>(m.grads.get(), m.n_params, m.norm_sq.get());
  double s = 0;
  m.norm_sq.download(&s, 1);
  const double norm = std::sqrt(s);
  if (!std::isfinite(norm)) {
    if (m.precision == Precision::kFp16) {
      m.loss_scale = std::max(1.0f, m.loss_scale / 2);
      m.clean_steps = 0;
      return norm;
    }
    throw Error("nn cuda: gradient norm is not finite", kExitFailure);
  }
  if (m.precision == Precision::kFp16 && ++m.clean_steps % 1000 == 0) m.loss_scale *= 2;
  float gscale = max_norm > 0 && norm > max_norm ? float(max_norm / (norm + 1e-6)) : 1.0f;
  if (before_update) {
    // The hook sees (and adds to) clipped gradients, as on the CPU: the clip factor is
    // applied to them first instead of being folded into AdamW (the same product g · s).
    if (gscale != 1.0f)
      scale<<<grid(m.n_params), kThreads>>>(m.grads.get(), m.grads.get(), gscale, m.n_params);
    before_update();
    gscale = 1.0f;
  }
  const float bc1 = float(1.0 - std::pow(c.beta1, double(t)));
  const float bc2 = float(1.0 - std::pow(c.beta2, double(t)));
  adamw<<<grid(m.n_params), kThreads>>>(m.values.get(), m.grads.get(), m.adam_m.get(),
                                        m.adam_v.get(), m.decay.get(), m.n_params, float(lr),
                                        float(c.beta1), float(c.beta2), bc1, bc2, float(c.eps),
                                        float(c.weight_decay), gscale);
  m.refresh_forward_values();
  check(cudaGetLastError(), "adamw");
  return norm;
}

CudaTransformer::DeviceParams GpuTransformer::device_params() {
  CudaTransformer::DeviceParams d;
  d.values = values.get();
  d.grads = grads.get();
  d.mask = has_mask ? mask.get() : nullptr;
  d.size = n_params;
  return d;
}

float* GpuTransformer::device_mask() {
  if (!has_mask) {
    mask.resize(static_cast<std::size_t>(n_params));
    fill<<<grid(n_params), kThreads>>>(mask.get(), 1.0f, n_params);
    check(cudaGetLastError(), "mask");
    has_mask = true;
  }
  return mask.get();
}

void GpuTransformer::values_changed() {
  refresh_forward_values();
  check(cudaGetLastError(), "values_changed");
}

CudaTransformer::DeviceLogits GpuTransformer::device_logits() {
  CudaTransformer::DeviceLogits d;
  d.logits = logits.get();
  d.dlogits = dlogits.get();
  d.targets = targets.get();
  d.rows = int64_t(batch) * seq;
  d.counted = counted;
  d.vocab = cfg.vocab_size;
  d.loss_scale = loss_scale;
  return d;
}

void GpuTransformer::download_adam(float* m_out, float* v_out) const {
  if (offload) throw Error("nn cuda: with offload the moments are on the host", kExitFailure);
  adam_m.download(m_out, static_cast<std::size_t>(n_params));
  adam_v.download(v_out, static_cast<std::size_t>(n_params));
}

void GpuTransformer::upload_adam(const float* m_in, const float* v_in) {
  if (offload) throw Error("nn cuda: with offload the moments are on the host", kExitFailure);
  adam_m.upload(m_in, static_cast<std::size_t>(n_params));
  adam_v.upload(v_in, static_cast<std::size_t>(n_params));
}

// Appends the bucket of these parameters, which must be contiguous in the layout.
void GpuTransformer::add_bucket(const std::vector<int>& bucket_ids) {
  Bucket b;
  b.begin = n_params;
  int64_t total = 0;
  for (int id : bucket_ids) {
    const ParamInfo& info = infos[size_t(id)];
    b.begin = std::min(b.begin, info.offset);
    b.end = std::max(b.end, info.offset + info.size());
    total += info.size();
  }
  if (total != b.end - b.begin)
    throw Error("nn cuda: offload bucket of parameter " + infos[size_t(bucket_ids[0])].name +
                    " is not contiguous in the layout",
                kExitFailure);
  b.converted = new_event(cudaEventDisableTiming);
  b.copy_begin = new_event(cudaEventDefault);
  b.copy_end = new_event(cudaEventDefault);
  buckets.push_back(b);
}

cudaEvent_t GpuTransformer::new_event(unsigned flags) {
  cudaEvent_t e = nullptr;
  check(cudaEventCreateWithFlags(&e, flags), "event");
  events.push_back(e);
  return e;
}

// Blocks until the copy stream's work so far is done. A blocking-sync event lets the host
// thread sleep instead of spinning on a core that the delayed update's CPU-Adam can use.
void GpuTransformer::wait_copies() {
  check(cudaEventRecord(copies_done, copy_stream), "copies event");
  check(cudaEventSynchronize(copies_done), "gradient copies");
}

double GpuTransformer::event_ns(cudaEvent_t e) const {
  check(cudaEventSynchronize(e), "event");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, step_anchor, e), "event time");
  return anchor_ns + double(ms) * 1e6;
}

CudaTransformer::OffloadTimes GpuTransformer::offload_times() const {
  CudaTransformer::OffloadTimes t;
  if (!offload) throw Error("nn cuda: offload is not enabled", kExitFailure);
  if (step_timed) {
    t.forward_begin_ns = anchor_ns;
    t.backward_end_ns = event_ns(backward_end);
    for (const Bucket& b : buckets) {
      t.copy_begin_ns.push_back(event_ns(b.copy_begin));
      t.copy_end_ns.push_back(event_ns(b.copy_end));
    }
  }
  if (upload_timed) {
    t.upload_begin_ns = event_ns(upload_begin);
    t.upload_end_ns = event_ns(params_copied);
  }
  return t;
}

CudaTransformer::OffloadBuffers GpuTransformer::enable_offload(bool bf16, float scale_) {
  if (precision == Precision::kFp16)
    throw Error(
        "nn cuda: offload needs fp32 or bf16 GEMMs (fp16's dynamic loss scale and the "
        "offload loss scale would both scale the gradients)",
        kExitConfig);
  if (offload) throw Error("nn cuda: offload is already enabled", kExitFailure);
  // The host waits for these three; the others order streams or time spans.
  params_copied = new_event(cudaEventBlockingSync);
  step_anchor = new_event(cudaEventBlockingSync);
  copies_done = new_event(cudaEventBlockingSync | cudaEventDisableTiming);
  upload_begin = new_event(cudaEventDefault);
  backward_end = new_event(cudaEventDefault);
  compute_done = new_event(cudaEventDisableTiming);
  // Buckets in the order backward completes them; together they cover every parameter.
  add_bucket({lnf_g, lnf_b});
  for (auto p = ids.rbegin(); p != ids.rend(); ++p)
    add_bucket({p->ln1_g, p->ln1_b, p->w_qkv, p->b_qkv, p->w_proj, p->b_proj, p->ln2_g, p->ln2_b,
                p->w_fc, p->b_fc, p->w_fc2, p->b_fc2});
  add_bucket({wte, wpe});
  int64_t covered = 0;
  for (const Bucket& b : buckets) covered += b.end - b.begin;
  if (covered != n_params)
    throw Error("nn cuda: the offload buckets do not cover the parameters", kExitFailure);
  const auto n = static_cast<std::size_t>(n_params);
  // The moments live on the host now (CPU-Adam); their 8 bytes per parameter are freed.
  adam_m.release();
  adam_v.release();
  grads16.resize(n);
  params16.resize(n);
  host_grads16.resize(n);
  host_params16.resize(n);
  // Last, so that a throw above leaves no stream behind (the events are in `events`).
  check(cudaStreamCreateWithFlags(&copy_stream, cudaStreamNonBlocking), "copy stream");
  offload = true;
  offload_bf16 = bf16;
  offload_scale = scale_;
  return {host_grads16.get(), host_params16.get(), n_params};
}

// Converts the bucket's gradients on the compute stream, then copies them to the host on
// the copy stream once the conversion is done; the compute stream goes on with backward.
void GpuTransformer::send_bucket(const Bucket& b) {
  const int64_t len = b.end - b.begin;
  to_sixteen_bits<<<grid(len), kThreads>>>(
      grads.get() + b.begin, has_mask ? mask.get() + b.begin : nullptr, grads16.get() + b.begin,
      offload_scale, len, offload_bf16);
  check(cudaEventRecord(b.converted, 0), "bucket event");
  check(cudaStreamWaitEvent(copy_stream, b.converted, 0), "bucket wait");
  check(cudaEventRecord(b.copy_begin, copy_stream), "bucket timing");
  check(cudaMemcpyAsync(host_grads16.get() + b.begin, grads16.get() + b.begin,
                        size_t(len) * sizeof(uint16_t), cudaMemcpyDeviceToHost, copy_stream),
        "bucket copy");
  check(cudaEventRecord(b.copy_end, copy_stream), "bucket timing");
}

void GpuTransformer::wait_offload_gradients() {
  if (!offload) throw Error("nn cuda: offload is not enabled", kExitFailure);
  wait_copies();
}

void GpuTransformer::upload_offload_params() {
  if (!offload) throw Error("nn cuda: offload is not enabled", kExitFailure);
  // A non-blocking stream does not wait for the default stream by itself: the copy must
  // follow the work queued there (params16's zeroing after enable_offload, the previous
  // upload's widening when two uploads follow each other).
  check(cudaEventRecord(compute_done, 0), "compute event");
  check(cudaStreamWaitEvent(copy_stream, compute_done, 0), "upload wait");
  check(cudaEventRecord(upload_begin, copy_stream), "upload timing");
  check(cudaMemcpyAsync(params16.get(), host_params16.get(), size_t(n_params) * sizeof(uint16_t),
                        cudaMemcpyHostToDevice, copy_stream),
        "parameter copy");
  check(cudaEventRecord(params_copied, copy_stream), "upload event");
  check(cudaStreamWaitEvent(0, params_copied, 0), "upload wait");
  from_sixteen_bits<<<grid(n_params), kThreads>>>(params16.get(), values.get(), n_params,
                                                  offload_bf16);
  refresh_forward_values();
  check(cudaGetLastError(), "widen parameters");
  // The host writes the next copy into the same pinned buffer.
  check(cudaEventSynchronize(params_copied), "parameter copy");
  upload_timed = step_timed;  // timed against this step's anchor (none before the first step)
}

std::unique_ptr<CudaTransformer::Impl> make_transformer(const TransformerConfig& config,
                                                        const ParamStore<float>& layout,
                                                        int64_t max_tokens, Precision precision) {
  auto model = std::make_unique<GpuTransformer>();
  model->init(config, layout, max_tokens, precision);
  return model;
}

}  // namespace
}  // namespace tessel::nn

TESSEL_CUDA_PLUGIN_EXPORT const tessel::nn::NnCudaApi* tessel_cuda_nn_api() {
  static const tessel::nn::NnCudaApi api{tessel::nn::device_count, tessel::nn::make_transformer};
  return &api;
}
