// Step schedule bookkeeping: parameter versions, gradient arrival, in-place parameter upload.
#include "sim/zero_offload/step_orchestrator.h"

namespace tessel::zero_offload {

StepOrchestrator::StepOrchestrator(const std::vector<Unit>& units, int64_t steps, int64_t dpu_from,
                                   DmaEngine& dma, uint64_t grad_base, int64_t grad_buffers,
                                   uint64_t param_base)
    : units_(units),
      steps_(steps),
      dpu_from_(dpu_from),
      dma_(dma),
      grad_base_(grad_base),
      grad_buffers_(grad_buffers),
      param_base_(param_base),
      grad_bytes_(static_cast<size_t>(steps), 0),
      uploaded_(static_cast<size_t>(steps + 1), 0),
      grads_ready_ns_(static_cast<size_t>(steps), -1),
      params_ready_ns_(static_cast<size_t>(steps + 1), -1),
      released_(static_cast<size_t>(steps), std::vector<bool>(units.size(), false)) {
  for (const Unit& u : units_) {
    unit_offset_.push_back(total_params_);
    total_params_ += u.params;
  }
  uploaded_[0] = total_params_;  // the initial parameters start on the GPU
  params_ready_ns_[0] = 0;
}

int64_t StepOrchestrator::version_used(int64_t step) const {
  return (dpu_from_ >= 0 && step >= dpu_from_) ? step - 1 : step;
}

// The last step that computes with `version`: with DPU the version before the first
// stale step serves two steps, and every later one serves the step after its update.
int64_t StepOrchestrator::last_user(int64_t version) const {
  return (dpu_from_ >= 0 && version + 1 >= dpu_from_) ? version + 1 : version;
}

void StepOrchestrator::wait_params(int64_t step) {
  const size_t v = static_cast<size_t>(version_used(step));
  while (uploaded_[v] < total_params_) sc_core::wait(params_event_);
}

void StepOrchestrator::released(int64_t step, size_t unit) {
  released_[static_cast<size_t>(step)][unit] = true;
  auto it = waiting_.find({step, unit});
  if (it == waiting_.end()) return;
  for (const Tile& t : it->second) upload(t);
  waiting_.erase(it);
}

void StepOrchestrator::send_gradients(int64_t step, uint64_t offset, uint64_t bytes) {
  // Gradient buffers alternate between steps (two with DPU: the CPU still reads step i's
  // while step i+1's arrive).
  const uint64_t grad_bytes = 2 * static_cast<uint64_t>(total_params_);
  const uint64_t address =
      grad_base_ + static_cast<uint64_t>(step % grad_buffers_) * grad_bytes + offset;
  dma_.copy(Direction::kToHost, address, bytes, [this, step, bytes] {
    uint64_t& got = grad_bytes_[static_cast<size_t>(step)];
    got += bytes;
    if (got == 2 * static_cast<uint64_t>(total_params_)) {
      grads_ready_ns_[static_cast<size_t>(step)] = sc_core::sc_time_stamp().to_seconds() * 1e9;
      grads_event_.notify(sc_core::SC_ZERO_TIME);
    }
  });
}

void StepOrchestrator::wait_gradients(int64_t step) {
  while (grad_bytes_[static_cast<size_t>(step)] < 2 * static_cast<uint64_t>(total_params_))
    sc_core::wait(grads_event_);
}

void StepOrchestrator::tile_updated(int64_t step, size_t unit, int64_t first, int64_t params) {
  const Tile t{step + 1, unit, first, params};
  // The GPU holds one copy: the new values overwrite the old ones, which must wait until
  // the last step that computes with the old version has finished this unit's backward.
  const int64_t user = last_user(step);
  if (user >= steps_ || released_[static_cast<size_t>(user)][unit])
    upload(t);
  else
    waiting_[{user, unit}].push_back(t);
}

void StepOrchestrator::upload(const Tile& t) {
  const uint64_t address = param_base_ + 2 * static_cast<uint64_t>(unit_offset_[t.unit] + t.first);
  const int64_t version = t.version, params = t.params;
  dma_.copy(Direction::kToGpu, address, 2 * static_cast<uint64_t>(params), [this, version, params] {
    int64_t& on_gpu = uploaded_[static_cast<size_t>(version)];
    on_gpu += params;
    if (on_gpu == total_params_) {
      params_ready_ns_[static_cast<size_t>(version)] = sc_core::sc_time_stamp().to_seconds() * 1e9;
      params_event_.notify(sc_core::SC_ZERO_TIME);
    }
  });
}

}  // namespace tessel::zero_offload
