// The step schedule of ZeRO-Offload: which parameter version each GPU step uses (one-step
// stale after the DPU warm-up), when gradients have all reached the host, and when an
// updated parameter tile may be copied over the GPU's copy (only once no running step
// still needs the old values of its unit: the copy is in place, there is no second one).
#pragma once

#include <systemc>

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "sim/zero_offload/dma_engine.h"
#include "sim/zero_offload/gpt_shape.h"

namespace tessel::zero_offload {

class StepOrchestrator {
 public:
  // `dpu_from`: the first step that runs without waiting for the previous update (steps
  // from it on use the parameters of two updates back); < 0: never.
  StepOrchestrator(const std::vector<Unit>& units, int64_t steps, int64_t dpu_from, DmaEngine& dma,
                   uint64_t grad_base, int64_t grad_buffers, uint64_t param_base);

  // Parameter version (number of updates applied) that GPU step `step` computes with.
  int64_t version_used(int64_t step) const;

  // GPU side (called from the GPU's thread).
  void wait_params(int64_t step);            // until every unit of version_used(step) is on the GPU
  void released(int64_t step, size_t unit);  // the step has finished the unit's backward
  // A full gradient bucket of `step` (fp16, `offset` bytes into the step's gradients).
  void send_gradients(int64_t step, uint64_t offset, uint64_t bytes);

  // Host side (called from CPU-Adam's thread).
  void wait_gradients(int64_t step);  // until every gradient byte of the step is in host memory
  // Update `step` has finished `params` parameters of `unit` starting at `first`: they
  // are version step + 1 and go to the GPU as soon as the old version is no longer used.
  void tile_updated(int64_t step, size_t unit, int64_t first, int64_t params);

  double gradients_ready_ns(int64_t step) const { return grads_ready_ns_[step]; }
  double params_ready_ns(int64_t version) const { return params_ready_ns_[version]; }

 private:
  struct Tile {
    int64_t version;
    size_t unit;
    int64_t first, params;
  };
  int64_t last_user(int64_t version) const;
  void upload(const Tile& t);

  std::vector<Unit> units_;
  std::vector<int64_t> unit_offset_;  // first parameter of each unit
  int64_t total_params_ = 0;
  int64_t steps_, dpu_from_;
  DmaEngine& dma_;
  uint64_t grad_base_;
  int64_t grad_buffers_;
  uint64_t param_base_;
  std::vector<uint64_t> grad_bytes_;  // arrived in host memory, per step
  std::vector<int64_t> uploaded_;     // parameters on the GPU, per version
  std::vector<double> grads_ready_ns_, params_ready_ns_;
  std::vector<std::vector<bool>> released_;                          // [step][unit]
  std::map<std::pair<int64_t, size_t>, std::vector<Tile>> waiting_;  // (step, unit) → tiles
  sc_core::sc_event grads_event_, params_event_;
};

}  // namespace tessel::zero_offload
