// ZeRO-Offload's optimizer side (arXiv 2101.06840): a 16-bit parameter copy on the device,
// 16-bit gradients sent to the host, an fp32 master and CPU-Adam there, and the delayed
// parameter update (DPU) on a worker thread. The device is the CUDA backend (pinned host
// buffers and a copy stream) or, as a reference of the semantics, the CPU backend itself.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "models/cpu_adam/cpu_adam.h"
#include "models/nn/trainer.h"

namespace tessel::nn {

class CudaTransformer;

// One interval of the offload timeline: steady_clock nanoseconds.
struct OffloadSpan {
  std::string track;  // e.g. "host: CPU-Adam", "GPU: copy stream"
  std::string name;   // e.g. "update 12"
  double start_ns = 0, end_ns = 0;
};

// How the 16-bit parameters reach the device and the gradients leave it.
class OffloadLink {
 public:
  virtual ~OffloadLink() = default;
  // Host memory for the 16-bit parameters CPU-Adam writes (one value per parameter).
  virtual uint16_t* param_copy() = 0;
  // The device's parameters become param_copy(); it may be written again on return.
  virtual void upload(ParamStore<float>& params) = 0;
  // The last backward's gradients × loss_scale rounded to 16 bits, in host memory; valid
  // until the next forward_backward.
  virtual const uint16_t* gradients(const ParamStore<float>& params) = 0;
  // The device's own spans for the timeline, where it has work of its own (the CUDA link:
  // the last forward/backward and bucket copies after gradients(), the copy after
  // upload()); `label` names the step. The CPU link has none: its device is the host.
  virtual void gradient_spans(const std::string& label, std::vector<OffloadSpan>& out) {
    (void)label, (void)out;
  }
  virtual void upload_spans(const std::string& label, std::vector<OffloadSpan>& out) {
    (void)label, (void)out;
  }
};

// The CPU backend as its own "device" (host and device are the same memory): the copy is a
// vector, upload writes its float values into params.values(), and the gradients are
// rounded from params.grads().
std::unique_ptr<OffloadLink> cpu_offload_link(std::size_t size, cpu_adam::HalfFormat half,
                                              double loss_scale);
// The CUDA backend (CudaTransformer::enable_offload): pinned host buffers, gradients sent
// block by block during backward on a copy stream, parameters widened on the device.
std::unique_ptr<OffloadLink> cuda_offload_link(CudaTransformer& model, cpu_adam::HalfFormat half,
                                               double loss_scale);

// On the CPU link, the reference of ZeRO-Offload's semantics, not of its speed: the
// forward/backward still computes in fp32 on the CPU — it reads the float values of the
// 16-bit copy (params.values() always holds decode(copy)), so only the rounding of
// parameters and gradients is that of mixed precision, not the arithmetic of 16-bit GEMMs.
// On the CUDA link the same steps run with the real transfers; the device widens the
// 16-bit copy into the fp32 weights its kernels read.
//
// Per step k, after backward:
//   1. with DPU, wait for the update of step k-1 and upload its 16-bit copy;
//   2. gradients to 16 bit: g16 = round(g · loss_scale) on the device, host gradient =
//      float(g16) / loss_scale (exact: the scale is a power of two);
//   3. CPU-Adam on the fp32 master (bitwise nn::AdamW) with the gradient clip folded in (the
//      norm is that of the host gradient, as DeepSpeed clips the offloaded gradients on the
//      CPU), writing the new 16-bit copy in the same pass; a non-finite gradient (16-bit
//      overflow) skips the step, as the engine does;
//   4. without DPU (or k < dpu_warmup) the update runs now and its copy is uploaded before
//      step k+1's forward; with DPU it runs on a worker thread while step k+1's forward and
//      backward run on the old copy, so step k+1's gradient is one update stale.
// The worker touches only the master, the moments, the host gradient and the 16-bit copy;
// the model touches only the device parameters and gradients: nothing is shared while both
// run, and the result does not depend on timing.
class OffloadOptimizer : public OffloadEngine {
 public:
  struct Options {
    cpu_adam::HalfFormat half = cpu_adam::HalfFormat::kFp16;  // kFp16 or kBf16
    int64_t dpu_warmup = -1;  // first step whose update is delayed (-1: never)
    double loss_scale = 1;    // a power of two
    double max_norm = 0;      // gradient clip on the host gradient (<= 0: none)
    int threads = 0;          // CPU-Adam's OpenMP threads (0: omp_get_max_threads())
  };

  // Takes params.values() as the fp32 master and uploads its 16-bit rounding through
  // `link` (null: the CPU link, which replaces params.values() by the copy's values).
  OffloadOptimizer(const AdamWConfig& adam, ParamStore<float>& params, Options options,
                   std::unique_ptr<OffloadLink> link = nullptr);
  ~OffloadOptimizer() override;  // waits for an update in flight
  OffloadOptimizer(const OffloadOptimizer&) = delete;
  OffloadOptimizer& operator=(const OffloadOptimizer&) = delete;

  void step(int64_t step, ParamStore<float>& params, double lr) override;
  void save(Checkpoint& c) override;
  void load(const Checkpoint& c, ParamStore<float>& params) override;

  // Waits for the update in flight (DPU); the device copy is left as it is.
  void wait() override;
  void start_timeline(int64_t steps) override;
  void add_span(const std::string& track, const std::string& name, double start_s,
                double end_s) override;
  // Perfetto JSON of the spans so far, times from the first span; does not wait.
  void write_timeline(const std::string& path) override;
  std::vector<OffloadSpan> timeline() const;
  // The fp32 master after wait(): the parameters with every update so far applied.
  const std::vector<float>& master() const { return master_; }
  const cpu_adam::CpuAdam& adam() const { return adam_; }
  const Options& options() const { return options_; }
  int64_t skipped_steps() const { return skipped_; }  // after wait()
  // Updates that ran on a thread other than the constructing one (DPU's), after wait().
  int64_t async_updates() const { return async_updates_; }

 private:
  void update(double lr, int64_t step);  // CPU-Adam on master_, host_grad_ -> param_copy()
  void round_master();                   // param_copy = round(master_)
  void upload(ParamStore<float>& params, int64_t version);  // link_->upload, timed
  bool timed(int64_t step) const { return step >= 0 && step < timeline_steps_; }
  void record(OffloadSpan span);

  Options options_;
  std::unique_ptr<OffloadLink> link_;
  std::vector<float> master_, host_grad_;
  cpu_adam::CpuAdam adam_;
  std::thread worker_;
  bool stale_ = false;  // param_copy() has an update the device has not received yet
  int64_t skipped_ = 0;
  std::thread::id owner_ = std::this_thread::get_id();
  int64_t async_updates_ = 0;
  int64_t pending_version_ = -1;  // the step whose update the worker runs
  int64_t timeline_steps_ = 0;
  mutable std::mutex timeline_mutex_;  // the worker records its update span
  std::vector<OffloadSpan> timeline_;
};

}  // namespace tessel::nn
