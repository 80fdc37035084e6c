// ZeRO-Offload's optimizer side on the CPU backend (arXiv 2101.06840): a 16-bit "device"
// parameter copy, 16-bit gradients "sent to the host", an fp32 master and CPU-Adam there,
// and the delayed parameter update (DPU) on a worker thread.
#pragma once

#include <cstdint>
#include <thread>
#include <vector>

#include "models/cpu_adam/cpu_adam.h"
#include "models/nn/trainer.h"

namespace tessel::nn {

// The reference of ZeRO-Offload's semantics, not of its speed: host and "device" are the
// same memory, and the forward/backward still computes in fp32 on the CPU — it reads the
// float values of the 16-bit copy (params.values() always holds decode(copy)), so only the
// rounding of parameters and gradients is that of mixed precision, not the arithmetic of
// 16-bit GEMMs.
//
// Per step k, after backward:
//   1. with DPU, wait for the update of step k-1 and "upload" its 16-bit copy;
//   2. gradients to 16 bit: g16 = round(g · loss_scale), host gradient = float(g16) /
//      loss_scale (exact: the scale is a power of two);
//   3. CPU-Adam on the fp32 master (bitwise nn::AdamW), writing the new 16-bit copy in the
//      same pass; a non-finite gradient (16-bit overflow) skips the step, as the engine does;
//   4. without DPU (or k < dpu_warmup) the update runs now and its copy is uploaded before
//      step k+1's forward; with DPU it runs on a worker thread while step k+1's forward and
//      backward run on the old copy, so step k+1's gradient is one update stale.
// The worker touches only the master, the moments, the host gradient and the 16-bit copy;
// the model touches only params.values() and params.grads(): nothing is shared while both
// run, and the result does not depend on timing.
class OffloadOptimizer : public OffloadEngine {
 public:
  struct Options {
    cpu_adam::HalfFormat half = cpu_adam::HalfFormat::kFp16;  // kFp16 or kBf16
    int64_t dpu_warmup = -1;  // first step whose update is delayed (-1: never)
    double loss_scale = 1;    // a power of two
    int threads = 0;          // CPU-Adam's OpenMP threads (0: omp_get_max_threads())
  };

  // Takes params.values() as the fp32 master and replaces them by the 16-bit copy's values.
  OffloadOptimizer(const AdamWConfig& adam, ParamStore<float>& params, Options options);
  ~OffloadOptimizer() override;  // waits for an update in flight
  OffloadOptimizer(const OffloadOptimizer&) = delete;
  OffloadOptimizer& operator=(const OffloadOptimizer&) = delete;

  void step(int64_t step, ParamStore<float>& params, double lr) override;
  void save(Checkpoint& c) override;
  void load(const Checkpoint& c, ParamStore<float>& params) override;

  // Waits for the update in flight (DPU); the device copy is left as it is.
  void wait();
  // The fp32 master after wait(): the parameters with every update so far applied.
  const std::vector<float>& master() const { return master_; }
  const cpu_adam::CpuAdam& adam() const { return adam_; }
  const Options& options() const { return options_; }
  int64_t skipped_steps() const { return skipped_; }  // after wait()
  // Updates that ran on a thread other than the constructing one (DPU's), after wait().
  int64_t async_updates() const { return async_updates_; }

 private:
  void update(double lr);                        // CPU-Adam on master_, host_grad_ -> copy_
  void upload(ParamStore<float>& params) const;  // params.values() = decode(copy_)

  Options options_;
  std::vector<float> master_, host_grad_;
  std::vector<uint16_t> copy_;  // the 16-bit parameters the "device" holds
  cpu_adam::CpuAdam adam_;
  std::thread worker_;
  bool stale_ = false;  // copy_ has an update the device copy has not received yet
  int64_t skipped_ = 0;
  std::thread::id owner_ = std::this_thread::get_id();
  int64_t async_updates_ = 0;
};

}  // namespace tessel::nn
