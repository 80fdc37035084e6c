// AdamW update, state allocation, gradient clipping, learning-rate schedule.
#include "models/nn/optimizer.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

namespace tessel::nn {

void adamw_update(const AdamWConfig& c, double lr, int64_t t, bool decay, float* p, const float* g,
                  float* m, float* v, std::size_t n) {
  const float b1 = static_cast<float>(c.beta1), b2 = static_cast<float>(c.beta2);
  const float bc1 = static_cast<float>(1.0 - std::pow(c.beta1, static_cast<double>(t)));
  const float bc2 = static_cast<float>(1.0 - std::pow(c.beta2, static_cast<double>(t)));
  const float eps = static_cast<float>(c.eps), flr = static_cast<float>(lr);
  const float wd = decay ? static_cast<float>(c.weight_decay) : 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    const float mh = m[i] / bc1, vh = v[i] / bc2;
    p[i] -= flr * (mh / (std::sqrt(vh) + eps) + wd * p[i]);
  }
}

namespace {
class HostAllocator : public StateAllocator {
 public:
  float* allocate(std::size_t n) override {
    if (n == 0) return nullptr;
    auto* p = static_cast<float*>(std::calloc(n, sizeof(float)));
    if (!p) throw std::bad_alloc();
    return p;
  }
  void release(float* p, std::size_t) override { std::free(p); }
  std::string name() const override { return "host"; }
};
}  // namespace

std::shared_ptr<StateAllocator> host_state_allocator() {
  static auto a = std::make_shared<HostAllocator>();
  return a;
}

AdamW::AdamW(const AdamWConfig& config, std::size_t size, std::shared_ptr<StateAllocator> allocator)
    : config_(config), n_(size), alloc_(std::move(allocator)) {
  m_ = alloc_->allocate(n_);
  v_ = alloc_->allocate(n_);
}

AdamW::~AdamW() {
  alloc_->release(m_, n_);
  alloc_->release(v_, n_);
}

void AdamW::step(ParamStore<float>& params, double lr) {
  ++t_;
  const auto& infos = params.infos();
#pragma omp parallel for schedule(dynamic) if (params.size() > 65536)
  for (std::size_t i = 0; i < infos.size(); ++i) {
    const auto& p = infos[i];
    const auto off = static_cast<std::size_t>(p.offset);
    adamw_update(config_, lr, t_, p.decay, params.values().data() + off,
                 params.grads().data() + off, m_ + off, v_ + off,
                 static_cast<std::size_t>(p.size()));
  }
}

double clip_grad_norm(std::vector<float>& grads, double max_norm) {
  double sq = 0;
  for (float g : grads) sq += static_cast<double>(g) * g;
  const double norm = std::sqrt(sq);
  if (max_norm > 0 && norm > max_norm) {
    const float s = static_cast<float>(max_norm / (norm + 1e-6));
    for (float& g : grads) g *= s;
  }
  return norm;
}

double LrSchedule::at(int64_t step) const {
  if (step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double span = static_cast<double>(std::max<int64_t>(1, total - warmup));
  return decayed(static_cast<double>(step - warmup) / span);
}

double LrSchedule::decayed(double x) const {
  if (decay == Decay::kConstant) return lr;
  x = std::min(1.0, std::max(0.0, x));
  if (decay == Decay::kLinear) return lr - (lr - min_lr) * x;
  return min_lr + 0.5 * (lr - min_lr) * (1.0 + std::cos(3.141592653589793 * x));
}

}  // namespace tessel::nn
