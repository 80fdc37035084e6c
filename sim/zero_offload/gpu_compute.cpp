// GPU compute: per-unit forward, recompute and backward times; gradient bucketing.
#include "sim/zero_offload/gpu_compute.h"

namespace tessel::zero_offload {

namespace {
double now_ns() {
  return sc_core::sc_time_stamp().to_seconds() * 1e9;
}
}  // namespace

GpuCompute::GpuCompute(sc_core::sc_module_name name, const std::vector<Unit>& units,
                       bool checkpointing, double flops_per_s, int64_t steps, uint64_t bucket_bytes,
                       StepOrchestrator& orch)
    : sc_module(name),
      units_(units),
      checkpointing_(checkpointing),
      flops_per_s_(flops_per_s),
      steps_(steps),
      bucket_bytes_(bucket_bytes),
      orch_(orch) {
  SC_THREAD(run);
}

double GpuCompute::compute_s() const {
  double f = 0;
  for (const Unit& u : units_)
    f += u.fwd_flops * ((u.kind == Unit::Kind::kBlock && checkpointing_) ? 4 : 3);
  return f / flops_per_s_;
}

void GpuCompute::busy(double seconds) {
  if (seconds <= 0) return;
  busy_s_ += seconds;
  wait(sc_core::sc_time(seconds, sc_core::SC_SEC));
}

void GpuCompute::run() {
  for (int64_t s = 0; s < steps_; ++s) {
    orch_.wait_params(s);
    start_ns_.push_back(now_ns());
    for (const Unit& u : units_) busy(u.fwd_flops / flops_per_s_);
    fwd_.push_back({start_ns_.back(), now_ns(), s});
    const double bwd_start = now_ns();
    // Backward in reverse order; a unit's fp16 gradients go into the open bucket when its
    // backward ends, and a full bucket is copied to the host while backward goes on.
    uint64_t pending = 0, sent = 0;
    for (size_t i = units_.size(); i-- > 0;) {
      const Unit& u = units_[i];
      if (u.kind == Unit::Kind::kBlock && checkpointing_) busy(u.fwd_flops / flops_per_s_);
      busy(2 * u.fwd_flops / flops_per_s_);
      orch_.released(s, i);
      pending += 2 * static_cast<uint64_t>(u.params);
      while (pending >= bucket_bytes_) {
        orch_.send_gradients(s, sent, bucket_bytes_);
        sent += bucket_bytes_;
        pending -= bucket_bytes_;
      }
    }
    if (pending) orch_.send_gradients(s, sent, pending);
    bwd_.push_back({bwd_start, now_ns(), s});
  }
}

}  // namespace tessel::zero_offload
