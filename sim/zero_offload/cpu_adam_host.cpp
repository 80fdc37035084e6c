// CPU-Adam on the host: timed tiles in gradient-arrival order.
#include "sim/zero_offload/cpu_adam_host.h"

#include <algorithm>

namespace tessel::zero_offload {

CpuAdamHost::CpuAdamHost(sc_core::sc_module_name name, const std::vector<Unit>& units,
                         int64_t tile_params, double params_per_s, int64_t steps,
                         StepOrchestrator& orch)
    : sc_module(name),
      units_(units),
      tile_params_(tile_params),
      params_per_s_(params_per_s),
      steps_(steps),
      orch_(orch) {
  SC_THREAD(run);
}

void CpuAdamHost::run() {
  for (int64_t s = 0; s < steps_; ++s) {
    // The update starts only when the whole gradient is in: the fp16 overflow check and
    // the gradient-norm clipping need all of it.
    orch_.wait_gradients(s);
    const double start = sc_core::sc_time_stamp().to_seconds() * 1e9;
    // Units in the order their gradients arrived (backward order): with DPU the GPU
    // frees the old values of those units first.
    for (size_t i = units_.size(); i-- > 0;) {
      for (int64_t first = 0; first < units_[i].params; first += tile_params_) {
        const int64_t n = std::min(tile_params_, units_[i].params - first);
        const double seconds = static_cast<double>(n) / params_per_s_;
        busy_s_ += seconds;
        wait(sc_core::sc_time(seconds, sc_core::SC_SEC));
        orch_.tile_updated(s, i, first, n);
      }
    }
    updates_.push_back({start, sc_core::sc_time_stamp().to_seconds() * 1e9, s});
  }
}

}  // namespace tessel::zero_offload
