// The host CPUs running CPU-Adam: once a step's gradients are all in host memory, the
// update runs tile by tile at the measured CPU-Adam throughput, and each finished tile's
// fp16 parameters are handed to the copy engine while the next tile is updated.
#pragma once

#include <systemc>

#include <cstdint>
#include <vector>

#include "sim/zero_offload/gpt_shape.h"
#include "sim/zero_offload/gpu_compute.h"
#include "sim/zero_offload/step_orchestrator.h"

namespace tessel::zero_offload {

class CpuAdamHost : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(CpuAdamHost);
  CpuAdamHost(sc_core::sc_module_name name, const std::vector<Unit>& units, int64_t tile_params,
              double params_per_s, int64_t steps, StepOrchestrator& orch);

  const std::vector<Span>& updates() const { return updates_; }
  double busy_s() const { return busy_s_; }

 private:
  void run();

  std::vector<Unit> units_;
  int64_t tile_params_;
  double params_per_s_;
  int64_t steps_;
  StepOrchestrator& orch_;
  std::vector<Span> updates_;
  double busy_s_ = 0;
};

}  // namespace tessel::zero_offload
