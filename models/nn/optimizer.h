// AdamW with placeable state, global-norm gradient clipping, warm-up + linear/cosine LR.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/nn/params.h"

namespace tessel::nn {

struct AdamWConfig {
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;  // decoupled; only on parameters with ParamInfo::decay
};

// One AdamW update of n contiguous values (bias-corrected, decoupled decay), step t >= 1:
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²
//   p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + lr wd p
// A free function so that wherever the state lives (CPU next to a GPU model, a worker
// thread overlapping the next step) the same arithmetic runs.
void adamw_update(const AdamWConfig& c, double lr, int64_t t, bool decay, float* p, const float* g,
                  float* m, float* v, std::size_t n);

// Where the optimizer keeps its moments. The default is plain host memory; an offload
// engine passes its own (pinned host memory for ZeRO-Offload-style copies, another
// memory tier in a Carousel/Sentinel experiment).
class StateAllocator {
 public:
  virtual ~StateAllocator() = default;
  virtual float* allocate(std::size_t n) = 0;  // zero-filled
  virtual void release(float* p, std::size_t n) = 0;
  virtual std::string name() const = 0;
};
std::shared_ptr<StateAllocator> host_state_allocator();

// AdamW over a ParamStore<float>: the optimizer half of the gradient/optimizer split.
// It reads params.grads() and writes params.values(); it never runs the model.
class AdamW {
 public:
  AdamW(const AdamWConfig& config, std::size_t size,
        std::shared_ptr<StateAllocator> allocator = host_state_allocator());
  ~AdamW();
  AdamW(const AdamW&) = delete;
  AdamW& operator=(const AdamW&) = delete;

  // One step at learning rate lr (increments steps()).
  void step(ParamStore<float>& params, double lr);

  const AdamWConfig& config() const { return config_; }
  int64_t steps() const { return t_; }
  void set_steps(int64_t t) { t_ = t; }  // when restoring a checkpoint
  std::size_t size() const { return n_; }
  float* m() { return m_; }
  float* v() { return v_; }
  const float* m() const { return m_; }
  const float* v() const { return v_; }
  const StateAllocator& allocator() const { return *alloc_; }

 private:
  AdamWConfig config_;
  std::size_t n_;
  std::shared_ptr<StateAllocator> alloc_;
  float* m_ = nullptr;
  float* v_ = nullptr;
  int64_t t_ = 0;
};

// Scales grads so their global L2 norm is at most max_norm (no-op when max_norm <= 0).
// Returns the norm before clipping.
double clip_grad_norm(std::vector<float>& grads, double max_norm);

// Learning rate per step: linear warm-up from lr/warmup to lr over `warmup` steps, then
// decay to min_lr at step `total` (constant, linear or cosine), min_lr afterwards.
struct LrSchedule {
  enum class Decay { kConstant, kLinear, kCosine };
  double lr = 1e-3;
  double min_lr = 0;
  int64_t warmup = 0;
  int64_t total = 1;
  Decay decay = Decay::kCosine;
  double at(int64_t step) const;  // step counts from 0
  // The decay part alone: lr at x = 0, min_lr at x >= 1 (lr throughout for kConstant).
  double decayed(double x) const;
};

}  // namespace tessel::nn
