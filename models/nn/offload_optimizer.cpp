// ZeRO-Offload's optimizer side on the CPU backend: 16-bit device copy and gradients, fp32
// master with CPU-Adam, the delayed parameter update on a worker thread.
#include "models/nn/offload_optimizer.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "models/cpu_adam/half.h"
#include "models/nn/checkpoint.h"
#include "runtime/core/error.h"

namespace tessel::nn {
namespace {

using cpu_adam::HalfFormat;

uint16_t to_half(float x, HalfFormat f) {
  return f == HalfFormat::kBf16 ? cpu_adam::fp32_to_bf16(x) : cpu_adam::fp32_to_fp16(x);
}
float from_half(uint16_t h, HalfFormat f) {
  return f == HalfFormat::kBf16 ? cpu_adam::bf16_to_fp32(h) : cpu_adam::fp16_to_fp32(h);
}

cpu_adam::CpuAdamOptions adam_options(const OffloadOptimizer::Options& o) {
  if (o.half != HalfFormat::kFp16 && o.half != HalfFormat::kBf16)
    throw Error("offload: the device copy must be fp16 or bf16", kExitFailure);
  int exponent = 0;
  if (!(o.loss_scale > 0) || std::frexp(o.loss_scale, &exponent) != 0.5)
    throw Error("offload: loss_scale must be a positive power of two", kExitFailure);
  cpu_adam::CpuAdamOptions a;
  a.half = o.half;
  // A worker thread does not inherit the caller's omp_set_num_threads, so fix the count
  // here, on the caller's thread (the result does not depend on it).
  a.threads = o.threads > 0 ? o.threads : omp_get_max_threads();
  return a;
}

// The trainer's train.offload builds this engine (the factory lives here so that tessel_nn
// needs no CPU-Adam; the library is linked whole-archive into the tool).
const bool kRegistered = [] {
  register_offload_engine([](const TrainConfig& c, ParamStore<float>& params) {
    OffloadOptimizer::Options o;
    o.half = c.offload.precision == "bf16" ? HalfFormat::kBf16 : HalfFormat::kFp16;
    o.dpu_warmup = c.offload.dpu_warmup;
    o.loss_scale = c.offload.loss_scale;
    o.threads = c.threads;
    return std::make_unique<OffloadOptimizer>(c.adam, params, o);
  });
  return true;
}();

}  // namespace

OffloadOptimizer::OffloadOptimizer(const AdamWConfig& adam, ParamStore<float>& params,
                                   Options options)
    : options_(options),
      master_(params.values()),
      host_grad_(master_.size()),
      copy_(master_.size()),
      adam_(adam, cpu_adam::segments_of(params.infos()), adam_options(options)) {
  for (std::size_t i = 0; i < master_.size(); ++i) copy_[i] = to_half(master_[i], options_.half);
  upload(params);
}

OffloadOptimizer::~OffloadOptimizer() {
  wait();
}

void OffloadOptimizer::wait() {
  if (worker_.joinable()) worker_.join();
}

void OffloadOptimizer::upload(ParamStore<float>& params) const {
  std::vector<float>& values = params.values();
  for (std::size_t i = 0; i < copy_.size(); ++i) values[i] = from_half(copy_[i], options_.half);
}

void OffloadOptimizer::update(double lr) {
  const double norm = adam_.step(master_.data(), host_grad_.data(), copy_.data(), lr);
  if (!std::isfinite(norm)) ++skipped_;
  if (std::this_thread::get_id() != owner_) ++async_updates_;
}

void OffloadOptimizer::step(int64_t step, ParamStore<float>& params, double lr) {
  if (params.grads().size() != host_grad_.size())
    throw Error("offload: parameter count changed", kExitFailure);
  // DPU: the previous step's update has overlapped this step's forward and backward; its
  // copy reaches the device only now.
  wait();
  if (stale_) upload(params);
  stale_ = false;
  // Gradients leave the device in 16 bits. Scaling by a power of two and back is exact in
  // fp32, so only the 16-bit rounding (and its overflow to infinity) changes them.
  const auto scale = static_cast<float>(options_.loss_scale);
  const float inv = 1.0f / scale;
  const std::vector<float>& g = params.grads();
  const auto n = static_cast<std::ptrdiff_t>(g.size());
#pragma omp parallel for schedule(static) if (n > 65536)
  for (std::ptrdiff_t i = 0; i < n; ++i)
    host_grad_[i] = from_half(to_half(g[i] * scale, options_.half), options_.half) * inv;
  if (options_.dpu_warmup >= 0 && step >= options_.dpu_warmup) {
    worker_ = std::thread([this, lr] { update(lr); });
    stale_ = true;
  } else {
    update(lr);
    upload(params);
  }
}

void OffloadOptimizer::save(Checkpoint& c) {
  wait();
  c.values = master_;
  c.m.assign(adam_.m(), adam_.m() + adam_.size());
  c.v.assign(adam_.v(), adam_.v() + adam_.size());
  c.adam_steps = adam_.steps();
}

void OffloadOptimizer::load(const Checkpoint& c, ParamStore<float>& params) {
  wait();
  if (c.values.size() != master_.size() || c.m.size() != master_.size() ||
      c.v.size() != master_.size())
    throw Error("offload: checkpoint size differs from the model's", kExitFailure);
  master_ = c.values;
  std::copy(c.m.begin(), c.m.end(), adam_.m());
  std::copy(c.v.begin(), c.v.end(), adam_.v());
  adam_.set_steps(c.adam_steps);
  // The checkpoint holds the master only: the device copy restarts as its rounding, so a
  // run resumed in the middle of DPU loses the one-step lag at that step.
  for (std::size_t i = 0; i < master_.size(); ++i) copy_[i] = to_half(master_[i], options_.half);
  stale_ = false;
  upload(params);
}

}  // namespace tessel::nn
