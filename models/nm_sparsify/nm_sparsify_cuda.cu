// NxMTransformer's device kernels (nm_sparsify_cuda.h): the N:M projection, ADMM's penalty
// gradient and Z/U update with the residual norms reduced on the device, the hard prune,
// mask enforcement and distillation on the logits. Read beside nm_sparsify.cpp: each kernel
// is the loop there, one thread per group of M (projection) or per element, one warp per
// row (distillation).
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/common/cuda_plugin.h"
#include "models/common/cuda_util.cuh"
#include "models/nm_sparsify/nm_sparsify_cuda.h"
#include "runtime/core/error.h"

namespace tessel::nm_sparsify::cuda {
namespace {

using gpu::check;
template <typename T>
using Buffer = gpu::DeviceBuffer<T>;

constexpr int kThreads = 256;
constexpr int kMaxM = 16;  // models/sparse's kMaxGroup
inline unsigned grid(int64_t n) {
  return static_cast<unsigned>((n + kThreads - 1) / kThreads);
}

// ---------------------------------------------------------------- projection

// Group i of a target: its M entries are base + e · stride, e = 0..M-1 along K. Linear
// weights ([k, out]) number the groups column-fastest, so neighbouring threads read
// neighbouring columns (coalesced); the embedding ([out, k]) holds each group contiguous.
struct Group {
  int64_t base, stride;
};
__device__ inline Group group_of(const DeviceTarget& t, int m, int64_t i) {
  if (t.k_is_rows) return {(i / t.out) * m * t.out + i % t.out, t.out};
  const int64_t per_row = t.k / m;
  return {(i / per_row) * t.k + (i % per_row) * m, 1};
}

// Bit e set when entry e of the group is kept: fewer than N entries beat it, where a beats
// b when |a| > |b|, or |a| == |b| and a comes first along K; NaN counts as +inf. That is
// the strict total order models/sparse's project_mask partially sorts by (magnitudes in
// double there: the order of two floats' magnitudes is the order of their doubles), so
// both keep the same entries.
__device__ inline unsigned keep_bits(const float* v, int n, int m) {
  float mag[kMaxM];
  for (int e = 0; e < m; ++e) {
    const float a = fabsf(v[e]);
    mag[e] = isnan(a) ? INFINITY : a;
  }
  unsigned bits = 0;
  for (int i = 0; i < m; ++i) {
    int beaten = 0;
    for (int j = 0; j < m; ++j) beaten += mag[j] > mag[i] || (mag[j] == mag[i] && j < i);
    if (beaten < n) bits |= 1u << i;
  }
  return bits;
}

// keep = Π(w), one byte per entry in the target's layout.
__global__ void project_keep(const float* w, uint8_t* keep, DeviceTarget t, int n, int m,
                             int64_t groups) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= groups) return;
  const Group g = group_of(t, m, i);
  float v[kMaxM];
  for (int e = 0; e < m; ++e) v[e] = w[g.base + e * g.stride];
  const unsigned bits = keep_bits(v, n, m);
  for (int e = 0; e < m; ++e) keep[g.base + e * g.stride] = (bits >> e) & 1u;
}

// ---------------------------------------------------------------- ADMM

// Z = Π(W), U = 0 (start_admm).
__global__ void admm_start(const float* w, float* z, float* u, DeviceTarget t, int n, int m,
                           int64_t groups) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= groups) return;
  const Group g = group_of(t, m, i);
  float v[kMaxM];
  for (int e = 0; e < m; ++e) v[e] = w[g.base + e * g.stride];
  const unsigned bits = keep_bits(v, n, m);
  for (int e = 0; e < m; ++e) {
    const int64_t x = g.base + e * g.stride;
    z[x] = (bits >> e) & 1u ? v[e] : 0.0f;
    u[x] = 0.0f;
  }
}

// g += ρ (W − Z + U) (add_penalty_gradient), rounded step by step like the CPU's
// expression: the intrinsics keep nvcc from fusing the multiply and add.
__global__ void admm_penalty(const float* w, const float* z, const float* u, float* g, float rho,
                             int64_t size) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= size) return;
  g[i] = __fadd_rn(g[i], __fmul_rn(rho, __fadd_rn(__fsub_rn(w[i], z[i]), u[i])));
}

// Block sums of three doubles into sums[0..2] (one atomic each per block).
__device__ void block_sum3(double a, double b, double c, double* sums) {
  __shared__ double part[3][kThreads];
  part[0][threadIdx.x] = a;
  part[1][threadIdx.x] = b;
  part[2][threadIdx.x] = c;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w >>= 1) {
    if (threadIdx.x < w)
      for (int k = 0; k < 3; ++k) part[k][threadIdx.x] += part[k][threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0)
    for (int k = 0; k < 3; ++k) atomicAdd(&sums[k], part[k][0]);
}

// Z = Π(W + U), U += W − Z (update), with ‖W − Z‖², ‖Z − Z_prev‖², ‖W‖² added to sums.
__global__ void admm_update(const float* w, float* z, float* u, DeviceTarget t, int n, int m,
                            int64_t groups, double* sums) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  double primal2 = 0, dual2 = 0, w2 = 0;
  if (i < groups) {  // every thread reaches the block sum
    const Group g = group_of(t, m, i);
    float wv[kMaxM], wu[kMaxM];
    for (int e = 0; e < m; ++e) {
      const int64_t x = g.base + e * g.stride;
      wv[e] = w[x];
      wu[e] = wv[e] + u[x];
    }
    const unsigned bits = keep_bits(wu, n, m);
    for (int e = 0; e < m; ++e) {
      const int64_t x = g.base + e * g.stride;
      const float z_new = (bits >> e) & 1u ? wu[e] : 0.0f;
      const float dz = z_new - z[x];
      dual2 += double(dz) * dz;
      z[x] = z_new;
      const float r = wv[e] - z_new;
      u[x] = u[x] + r;
      primal2 += double(r) * r;
      w2 += double(wv[e]) * wv[e];
    }
  }
  block_sum3(primal2, dual2, w2, sums);
}

__global__ void scale_values(float* u, float s, int64_t size) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i < size) u[i] = u[i] * s;
}

// After project_keep on W (prune): W = +0.0f and mask = 0 where dropped, mask = 1 where kept.
__global__ void apply_keep(const uint8_t* keep, float* w, float* mask, int64_t size) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= size) return;
  mask[i] = keep[i] ? 1.0f : 0.0f;
  if (!keep[i]) w[i] = 0.0f;
}

// W and its gradient +0.0f where dropped (enforce_masks): a product with the mask would
// leave −0.0f, and AdamW's momentum would move a pruned weight.
__global__ void enforce_keep(const uint8_t* keep, float* w, float* g, int64_t size) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i < size && !keep[i]) w[i] = g[i] = 0.0f;
}

// ---------------------------------------------------------------- distillation

__device__ inline double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline double warp_max(double v) {
  for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// One warp per row: distill_loss's loop (log-softmax of x/τ shifted by the row maximum,
// in double), the KL of the row added to *kl_sum.
__global__ void distill_rows(DistillArgs a, double* kl_sum) {
  const int64_t row = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= a.rows) return;
  const int v = a.vocab;
  const float* s = a.student + row * v;
  const float* t = a.teacher + row * v;
  float* d = a.dlogits + row * v;
  if (a.targets[row] < 0) {
    for (int j = lane; j < v; j += 32) d[j] = __fmul_rn(d[j], a.ce_factor);
    return;
  }
  const double tau = a.temperature;
  double ms = -INFINITY, mt = -INFINITY;
  for (int j = lane; j < v; j += 32) {
    ms = fmax(ms, double(s[j]) / tau);
    mt = fmax(mt, double(t[j]) / tau);
  }
  ms = warp_max(ms);
  mt = warp_max(mt);
  double zs = 0, zt = 0;
  for (int j = lane; j < v; j += 32) {
    zs += exp(double(s[j]) / tau - ms);
    zt += exp(double(t[j]) / tau - mt);
  }
  const double lse_s = ms + log(warp_sum(zs)), lse_t = mt + log(warp_sum(zt));
  double kl = 0;
  for (int j = lane; j < v; j += 32) {
    const double log_q = double(s[j]) / tau - lse_s, log_p = double(t[j]) / tau - lse_t;
    const double p = exp(log_p), q = exp(log_q);
    kl += p * (log_p - log_q);
    // (1 − α) · dlogits, then + α τ (q − p) / n, each rounded to float as on the CPU.
    d[j] = __fadd_rn(__fmul_rn(d[j], a.ce_factor), static_cast<float>(a.kd_factor * (q - p)));
  }
  kl = warp_sum(kl);
  if (lane == 0) atomicAdd(kl_sum, kl);
}

double distill(const DistillArgs& a) {
  if (a.rows == 0) return 0;
  // One per thread, allocated once: a cudaFree every training step would stall the device.
  thread_local Buffer<double> sum(1);
  sum.zero();
  const unsigned blocks = static_cast<unsigned>((a.rows * 32 + kThreads - 1) / kThreads);
  distill_rows<<<blocks, kThreads>>>(a, sum.get());
  check(cudaGetLastError(), "distill");
  double s = 0;
  sum.download(&s, 1);
  return s;
}

double distill_host(const DistillArgs& h) {
  const auto n = static_cast<std::size_t>(h.rows) * static_cast<std::size_t>(h.vocab);
  Buffer<float> s(n), t(n), d(n);
  Buffer<int32_t> y(static_cast<std::size_t>(h.rows));
  s.upload(h.student, n);
  t.upload(h.teacher, n);
  d.upload(h.dlogits, n);
  y.upload(h.targets, static_cast<std::size_t>(h.rows));
  DistillArgs a = h;
  a.student = s.get();
  a.teacher = t.get();
  a.dlogits = d.get();
  a.targets = y.get();
  const double kl = distill(a);
  d.download(h.dlogits, n);
  return kl;
}

// ---------------------------------------------------------------- state

void validate(const DeviceTarget& t, int n, int m) {
  if (!(1 <= n && n < m && m <= kMaxM) || t.k <= 0 || t.out <= 0 || t.k % m != 0)
    throw Error("nm_sparsify cuda: pattern " + std::to_string(n) + ":" + std::to_string(m) +
                    " on a " + std::to_string(t.k) + " x " + std::to_string(t.out) + " target",
                kExitFailure);
}

int64_t groups_of(const DeviceTarget& t, int m) {
  return t.k / m * t.out;
}

class GpuAdmm final : public AdmmDevice {
 public:
  GpuAdmm(const std::vector<DeviceTarget>& targets, int n, int m)
      : targets_(targets), n_(n), m_(m) {
    for (const DeviceTarget& t : targets_) {
      validate(t, n, m);
      at_.push_back(total_);
      total_ += t.k * t.out;
    }
  }

  void start(const float* values) override {
    allocate_zu();
    for (std::size_t j = 0; j < targets_.size(); ++j) {
      const DeviceTarget& t = targets_[j];
      admm_start<<<grid(groups_of(t, m_)), kThreads>>>(
          values + t.offset, z_.get() + at_[j], u_.get() + at_[j], t, n_, m_, groups_of(t, m_));
    }
    check(cudaGetLastError(), "admm start");
  }

  void add_penalty(const float* values, float* grads, float rho) override {
    require_zu();
    for (std::size_t j = 0; j < targets_.size(); ++j) {
      const DeviceTarget& t = targets_[j];
      admm_penalty<<<grid(t.k * t.out), kThreads>>>(values + t.offset, z_.get() + at_[j],
                                                    u_.get() + at_[j], grads + t.offset, rho,
                                                    t.k * t.out);
    }
    check(cudaGetLastError(), "admm penalty");
  }

  Residuals update(const float* values) override {
    require_zu();
    if (sums_.size() != 3) sums_.resize(3);  // once: a cudaFree would stall the device
    sums_.zero();
    for (std::size_t j = 0; j < targets_.size(); ++j) {
      const DeviceTarget& t = targets_[j];
      admm_update<<<grid(groups_of(t, m_)), kThreads>>>(values + t.offset, z_.get() + at_[j],
                                                        u_.get() + at_[j], t, n_, m_,
                                                        groups_of(t, m_), sums_.get());
    }
    check(cudaGetLastError(), "admm update");
    double s[3] = {0, 0, 0};
    sums_.download(s, 3);  // the only transfer of an update: three scalars
    return {s[0], s[1], s[2]};
  }

  void scale_u(float s) override {
    require_zu();
    if (total_ == 0) return;
    scale_values<<<grid(total_), kThreads>>>(u_.get(), s, total_);
    check(cudaGetLastError(), "admm scale");
  }

  void prune(float* values, float* mask) override {
    allocate_keep();
    for (std::size_t j = 0; j < targets_.size(); ++j) {
      const DeviceTarget& t = targets_[j];
      uint8_t* keep = keep_.get() + at_[j];
      project_keep<<<grid(groups_of(t, m_)), kThreads>>>(values + t.offset, keep, t, n_, m_,
                                                         groups_of(t, m_));
      apply_keep<<<grid(t.k * t.out), kThreads>>>(keep, values + t.offset, mask + t.offset,
                                                  t.k * t.out);
    }
    check(cudaGetLastError(), "prune");
    z_.release();
    u_.release();
  }

  void enforce(float* values, float* grads) override {
    if (!keep_.size()) throw Error("nm_sparsify cuda: enforce before prune", kExitFailure);
    for (std::size_t j = 0; j < targets_.size(); ++j) {
      const DeviceTarget& t = targets_[j];
      enforce_keep<<<grid(t.k * t.out), kThreads>>>(keep_.get() + at_[j], values + t.offset,
                                                    grads + t.offset, t.k * t.out);
    }
    check(cudaGetLastError(), "enforce");
  }

  void download_zu(int target, float* z, float* u) const override {
    require_zu();
    const std::size_t j = index(target);
    z_.download(z, size(j), static_cast<std::size_t>(at_[j]));
    u_.download(u, size(j), static_cast<std::size_t>(at_[j]));
  }
  void upload_zu(int target, const float* z, const float* u) override {
    if (!z_.size()) allocate_zu();
    const std::size_t j = index(target);
    z_.upload(z, size(j), static_cast<std::size_t>(at_[j]));
    u_.upload(u, size(j), static_cast<std::size_t>(at_[j]));
  }
  void download_keep(int target, uint8_t* keep) const override {
    if (!keep_.size()) throw Error("nm_sparsify cuda: no masks before prune", kExitFailure);
    const std::size_t j = index(target);
    keep_.download(keep, size(j), static_cast<std::size_t>(at_[j]));
  }
  void upload_keep(int target, const uint8_t* keep) override {
    allocate_keep();
    const std::size_t j = index(target);
    keep_.upload(keep, size(j), static_cast<std::size_t>(at_[j]));
  }

 private:
  void allocate_zu() {
    if (z_.size() != static_cast<std::size_t>(total_)) {
      z_.resize(static_cast<std::size_t>(total_));
      u_.resize(static_cast<std::size_t>(total_));
    }
  }
  void allocate_keep() {
    if (keep_.size() != static_cast<std::size_t>(total_)) {
      keep_.resize(static_cast<std::size_t>(total_));
      keep_.zero();
    }
  }
  void require_zu() const {
    if (!z_.size()) throw Error("nm_sparsify cuda: ADMM is not running", kExitFailure);
  }
  std::size_t index(int target) const {
    if (target < 0 || static_cast<std::size_t>(target) >= targets_.size())
      throw Error("nm_sparsify cuda: no target " + std::to_string(target), kExitFailure);
    return static_cast<std::size_t>(target);
  }
  std::size_t size(std::size_t j) const {
    return static_cast<std::size_t>(targets_[j].k * targets_[j].out);
  }

  std::vector<DeviceTarget> targets_;
  std::vector<int64_t> at_;  // each target's offset into z_, u_, keep_
  int64_t total_ = 0;
  int n_, m_;
  Buffer<float> z_, u_;
  Buffer<uint8_t> keep_;
  Buffer<double> sums_;
};

std::unique_ptr<AdmmDevice> make_admm(const std::vector<DeviceTarget>& targets, int n, int m) {
  return std::make_unique<GpuAdmm>(targets, n, m);
}

void project_host(const float* w, const DeviceTarget& target, int n, int m, uint8_t* keep) {
  DeviceTarget t = target;
  t.offset = 0;
  validate(t, n, m);
  const auto size = static_cast<std::size_t>(t.k * t.out);
  Buffer<float> dw(size);
  Buffer<uint8_t> dk(size);
  dw.upload(w, size);
  project_keep<<<grid(groups_of(t, m)), kThreads>>>(dw.get(), dk.get(), t, n, m, groups_of(t, m));
  check(cudaGetLastError(), "project");
  dk.download(keep, size);
}

}  // namespace
}  // namespace tessel::nm_sparsify::cuda

TESSEL_CUDA_PLUGIN_EXPORT const tessel::nm_sparsify::cuda::Api* tessel_cuda_nm_sparsify_api() {
  namespace c = tessel::nm_sparsify::cuda;
  static const c::Api api{c::make_admm, c::project_host, c::distill, c::distill_host};
  return &api;
}
