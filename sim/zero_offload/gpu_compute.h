// The GPU: forward and backward of every unit as timed work (FLOPs / sustained
// throughput), gradient buckets handed to the copy engine as backward fills them.
#pragma once

#include <systemc>

#include <cstdint>
#include <vector>

#include "sim/zero_offload/gpt_shape.h"
#include "sim/zero_offload/step_orchestrator.h"

namespace tessel::zero_offload {

struct Span {
  double start_ns, end_ns;
  int64_t step;
};

class GpuCompute : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(GpuCompute);
  GpuCompute(sc_core::sc_module_name name, const std::vector<Unit>& units, bool checkpointing,
             double flops_per_s, int64_t steps, uint64_t bucket_bytes, StepOrchestrator& orch);

  // Time of one step's compute (forward, recompute, backward), seconds.
  double compute_s() const;
  const std::vector<double>& step_start_ns() const { return start_ns_; }
  const std::vector<Span>& forward_spans() const { return fwd_; }
  const std::vector<Span>& backward_spans() const { return bwd_; }
  double busy_s() const { return busy_s_; }

 private:
  void run();
  void busy(double seconds);

  std::vector<Unit> units_;
  bool checkpointing_;
  double flops_per_s_;
  int64_t steps_;
  uint64_t bucket_bytes_;
  StepOrchestrator& orch_;
  std::vector<double> start_ns_;
  std::vector<Span> fwd_, bwd_;
  double busy_s_ = 0;
};

}  // namespace tessel::zero_offload
