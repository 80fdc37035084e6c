// ZeRO-Offload's optimizer side on the CPU backend: 16-bit device copy and gradients, fp32
// master with CPU-Adam, the delayed parameter update on a worker thread.
#include "models/nn/offload_optimizer.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "models/cpu_adam/half.h"
#include "models/nn/checkpoint.h"
#include "models/nn/transformer_cuda.h"
#include "runtime/core/cpu_time.h"
#include "runtime/core/error.h"
#include "runtime/core/trace_writer.h"

namespace tessel::nn {
namespace {

using cpu_adam::HalfFormat;

constexpr const char* kMainTrack = "host: main thread";
constexpr const char* kAdamTrack = "host: CPU-Adam";

double now_ns() {
  return steady_seconds() * 1e9;  // the clock of the trainer's spans and the CUDA anchor
}

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

// The CPU backend's link: host and "device" are the same memory.
class CpuLink final : public OffloadLink {
 public:
  CpuLink(std::size_t size, HalfFormat half, double loss_scale)
      : half_(half), scale_(static_cast<float>(loss_scale)), copy_(size), grads_(size) {}
  uint16_t* param_copy() override { return copy_.data(); }
  void upload(ParamStore<float>& params) override {
    std::vector<float>& values = params.values();
    for (std::size_t i = 0; i < copy_.size(); ++i) values[i] = from_half(copy_[i], half_);
  }
  const uint16_t* gradients(const ParamStore<float>& params) override {
    const std::vector<float>& g = params.grads();
    const auto n = static_cast<std::ptrdiff_t>(g.size());
#pragma omp parallel for schedule(static) if (n > 65536)
    for (std::ptrdiff_t i = 0; i < n; ++i) grads_[i] = to_half(g[i] * scale_, half_);
    return grads_.data();
  }

 private:
  HalfFormat half_;
  float scale_;
  std::vector<uint16_t> copy_, grads_;
};

// The CUDA backend's link: CudaTransformer's pinned buffers and copy stream.
class CudaLink final : public OffloadLink {
 public:
  CudaLink(CudaTransformer& model, HalfFormat half, double loss_scale)
      : model_(model),
        buffers_(model.enable_offload(half == HalfFormat::kBf16, static_cast<float>(loss_scale))) {}
  uint16_t* param_copy() override { return buffers_.params; }
  void upload(ParamStore<float>&) override { model_.upload_offload_params(); }
  const uint16_t* gradients(const ParamStore<float>&) override {
    model_.wait_offload_gradients();
    return buffers_.grads;
  }
  void gradient_spans(const std::string& label, std::vector<OffloadSpan>& out) override {
    const CudaTransformer::OffloadTimes t = model_.offload_times();
    if (t.backward_end_ns == 0) return;
    out.push_back({"GPU: compute stream", "forward/backward " + label, t.forward_begin_ns,
                   t.backward_end_ns});
    for (std::size_t b = 0; b < t.copy_begin_ns.size(); ++b)
      out.push_back({"GPU: copy stream", "gradients " + label + " bucket " + std::to_string(b),
                     t.copy_begin_ns[b], t.copy_end_ns[b]});
  }
  void upload_spans(const std::string& label, std::vector<OffloadSpan>& out) override {
    const CudaTransformer::OffloadTimes t = model_.offload_times();
    if (t.upload_end_ns == 0) return;
    out.push_back({"GPU: copy stream", label, t.upload_begin_ns, t.upload_end_ns});
  }

 private:
  CudaTransformer& model_;
  CudaTransformer::OffloadBuffers buffers_;
};

// The trainer's train.offload builds this engine (the factory lives here so that tessel_nn
// needs no CPU-Adam; the library is linked whole-archive into the tool).
const bool kRegistered = [] {
  register_offload_engine(
      [](const TrainConfig& c, ParamStore<float>& params, CudaTransformer* device) {
        OffloadOptimizer::Options o;
        o.half = c.offload.precision == "bf16" ? HalfFormat::kBf16 : HalfFormat::kFp16;
        o.dpu_warmup = c.offload.dpu_warmup;
        o.loss_scale = c.offload.loss_scale;
        o.max_norm = c.grad_clip;
        o.threads = c.threads;
        std::unique_ptr<OffloadLink> link;
        if (device) link = cuda_offload_link(*device, o.half, o.loss_scale);
        return std::make_unique<OffloadOptimizer>(c.adam, params, o, std::move(link));
      });
  return true;
}();

}  // namespace

std::unique_ptr<OffloadLink> cpu_offload_link(std::size_t size, HalfFormat half,
                                              double loss_scale) {
  return std::make_unique<CpuLink>(size, half, loss_scale);
}

std::unique_ptr<OffloadLink> cuda_offload_link(CudaTransformer& model, HalfFormat half,
                                               double loss_scale) {
  return std::make_unique<CudaLink>(model, half, loss_scale);
}

OffloadOptimizer::OffloadOptimizer(const AdamWConfig& adam, ParamStore<float>& params,
                                   Options options, std::unique_ptr<OffloadLink> link)
    : options_(options),
      link_(link ? std::move(link)
                 : cpu_offload_link(params.values().size(), options.half, options.loss_scale)),
      master_(params.values()),
      host_grad_(master_.size()),
      adam_(adam, cpu_adam::segments_of(params.infos()), adam_options(options)) {
  round_master();
  upload(params, -1);
}

OffloadOptimizer::~OffloadOptimizer() {
  wait();
}

void OffloadOptimizer::wait() {
  if (worker_.joinable()) worker_.join();
}

void OffloadOptimizer::round_master() {
  uint16_t* copy = link_->param_copy();
  for (std::size_t i = 0; i < master_.size(); ++i) copy[i] = to_half(master_[i], options_.half);
}

void OffloadOptimizer::update(double lr, int64_t step) {
  const double start = now_ns();
  const double norm =
      adam_.step(master_.data(), host_grad_.data(), link_->param_copy(), lr, options_.max_norm);
  if (!std::isfinite(norm)) ++skipped_;
  if (std::this_thread::get_id() != owner_) ++async_updates_;
  if (timed(step)) record({kAdamTrack, "update " + std::to_string(step), start, now_ns()});
}

void OffloadOptimizer::upload(ParamStore<float>& params, int64_t version) {
  const double start = now_ns();
  link_->upload(params);
  if (!timed(version)) return;
  const std::string label = "upload " + std::to_string(version);
  record({kMainTrack, label, start, now_ns()});
  std::vector<OffloadSpan> device;
  link_->upload_spans(label, device);
  for (OffloadSpan& d : device) record(std::move(d));
}

void OffloadOptimizer::record(OffloadSpan span) {
  const std::lock_guard<std::mutex> lock(timeline_mutex_);
  timeline_.push_back(std::move(span));
}

void OffloadOptimizer::start_timeline(int64_t steps) {
  timeline_steps_ = steps;
}

void OffloadOptimizer::add_span(const std::string& track, const std::string& name, double start_s,
                                double end_s) {
  record({track, name, start_s * 1e9, end_s * 1e9});
}

std::vector<OffloadSpan> OffloadOptimizer::timeline() const {
  const std::lock_guard<std::mutex> lock(timeline_mutex_);
  return timeline_;
}

void OffloadOptimizer::write_timeline(const std::string& path) {
  std::vector<OffloadSpan> spans = timeline();
  std::sort(spans.begin(), spans.end(),
            [](const OffloadSpan& a, const OffloadSpan& b) { return a.start_ns < b.start_ns; });
  const double origin = spans.empty() ? 0 : spans.front().start_ns;
  TraceWriter trace(path, "tessel offload training");
  // Host tracks first, then the device's, whatever order the spans came in.
  for (const char* t : {kMainTrack, kAdamTrack})
    for (const OffloadSpan& s : spans)
      if (s.track == t) {
        trace.track(t);
        break;
      }
  for (const OffloadSpan& s : spans)
    trace.span(trace.track(s.track), s.name, s.start_ns - origin, s.end_ns - s.start_ns);
  trace.close();
}

void OffloadOptimizer::step(int64_t step, ParamStore<float>& params, double lr) {
  if (params.grads().size() != host_grad_.size())
    throw Error("offload: parameter count changed", kExitFailure);
  // DPU: the previous step's update has overlapped this step's forward and backward; its
  // copy reaches the device only now.
  const double waiting = now_ns();
  const bool in_flight = worker_.joinable();
  wait();
  if (in_flight && timed(pending_version_))
    record({kMainTrack, "wait for update " + std::to_string(pending_version_), waiting, now_ns()});
  if (stale_) upload(params, pending_version_);
  stale_ = false;
  // Gradients leave the device in 16 bits. Scaling by a power of two and back is exact in
  // fp32, so only the 16-bit rounding (and its overflow to infinity) changes them.
  const double fetching = now_ns();
  const uint16_t* g16 = link_->gradients(params);
  const float inv = static_cast<float>(1.0 / options_.loss_scale);
  const auto n = static_cast<std::ptrdiff_t>(host_grad_.size());
#pragma omp parallel for schedule(static) if (n > 65536)
  for (std::ptrdiff_t i = 0; i < n; ++i) host_grad_[i] = from_half(g16[i], options_.half) * inv;
  if (timed(step)) {
    const std::string label = "gradients " + std::to_string(step);
    record({kMainTrack, label, fetching, now_ns()});
    std::vector<OffloadSpan> device;
    link_->gradient_spans(std::to_string(step), device);
    for (OffloadSpan& d : device) record(std::move(d));
  }
  if (options_.dpu_warmup >= 0 && step >= options_.dpu_warmup) {
    pending_version_ = step;
    worker_ = std::thread([this, lr, step] { update(lr, step); });
    stale_ = true;
  } else {
    update(lr, step);
    upload(params, step);
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
  round_master();
  stale_ = false;
  upload(params, -1);
}

}  // namespace tessel::nn
