// CPU-Adam: path selection, the step's constants, and the tiled, threaded step (norm pass,
// skip rule, fused update).
#include "models/cpu_adam/cpu_adam.h"

#include <omp.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <cmath>
#include <string>

#include "models/cpu_adam/kernels.h"
#include "runtime/core/error.h"

namespace tessel::cpu_adam {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "?";
}

bool isa_supported(Isa isa) {
#if defined(__x86_64__)
  // libgcc's check includes the OS's XSAVE support of the wider registers. F16C (same
  // registers as AVX) is read from CPUID leaf 1 because clang before 16 rejects
  // __builtin_cpu_supports("f16c") at compile time (the tsan preset builds with clang 14).
  static const bool f16c = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit_F16C) != 0;
  }();
  static const bool avx2 = __builtin_cpu_supports("avx2") && f16c;
  static const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                             __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512vl");
  if (isa == Isa::kAvx2) return avx2;
  if (isa == Isa::kAvx512) return avx512;
#else
  if (isa != Isa::kScalar) return false;
#endif
  return true;
}

Isa best_isa() {
  if (isa_supported(Isa::kAvx512)) return Isa::kAvx512;
  if (isa_supported(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kScalar;
}

StepConstants step_constants(const nn::AdamWConfig& c, double lr, int64_t t, bool decay,
                             float gscale) {
  // nn::adamw_update's constants, expression for expression.
  StepConstants k;
  k.b1 = static_cast<float>(c.beta1);
  k.b2 = static_cast<float>(c.beta2);
  k.one_minus_b1 = 1 - k.b1;
  k.one_minus_b2 = 1 - k.b2;
  k.bc1 = static_cast<float>(1.0 - std::pow(c.beta1, static_cast<double>(t)));
  k.bc2 = static_cast<float>(1.0 - std::pow(c.beta2, static_cast<double>(t)));
  k.eps = static_cast<float>(c.eps);
  k.lr = static_cast<float>(lr);
  k.wd = decay ? static_cast<float>(c.weight_decay) : 0.0f;
  k.gscale = gscale;
  return k;
}

static void require_supported(Isa isa) {
  if (!isa_supported(isa))
    throw Error(std::string("cpu_adam: this CPU has no ") + isa_name(isa) + " path", kExitFailure);
}

void update_range(Isa isa, const StepConstants& k, float* p, const float* g, float* m, float* v,
                  uint16_t* half, HalfFormat format, std::size_t n) {
  require_supported(isa);
  if (isa == Isa::kAvx512) return detail::update_avx512(k, p, g, m, v, half, format, n);
  if (isa == Isa::kAvx2) return detail::update_avx2(k, p, g, m, v, half, format, n);
  detail::update_scalar(k, p, g, m, v, half, format, n);
}

double sum_squares_range(Isa isa, const float* g, std::size_t n) {
  require_supported(isa);
  double lanes[detail::kLanes] = {};
  if (isa == Isa::kAvx512)
    detail::sum_squares_avx512(g, n, lanes);
  else if (isa == Isa::kAvx2)
    detail::sum_squares_avx2(g, n, lanes);
  else
    detail::sum_squares_scalar(g, n, lanes);
  double s = 0;
  for (double l : lanes) s += l;
  return s;
}

void convert_range(Isa isa, const float* x, uint16_t* out, HalfFormat format, std::size_t n) {
  require_supported(isa);
  if (format == HalfFormat::kNone) return;
  if (isa == Isa::kAvx512) return detail::convert_avx512(x, out, format, n);
  if (isa == Isa::kAvx2) return detail::convert_avx2(x, out, format, n);
  detail::convert_scalar(x, out, format, n);
}

std::vector<Segment> segments_of(const std::vector<nn::ParamInfo>& infos) {
  std::vector<Segment> s;
  for (const auto& p : infos)
    s.push_back({static_cast<std::size_t>(p.offset), static_cast<std::size_t>(p.size()), p.decay});
  return s;
}

CpuAdam::CpuAdam(const nn::AdamWConfig& config, std::vector<Segment> segments,
                 CpuAdamOptions options, std::shared_ptr<nn::StateAllocator> allocator)
    : config_(config),
      segments_(std::move(segments)),
      options_(options),
      alloc_(std::move(allocator)) {
  require_supported(options_.isa);
  if (options_.tile == 0) throw Error("cpu_adam: tile must be at least 1 element", kExitFailure);
  if (options_.threads < 0) throw Error("cpu_adam: threads must be >= 0", kExitFailure);
  for (const Segment& s : segments_) {
    if (s.offset != n_)
      throw Error("cpu_adam: segments must cover the parameters in order without gaps (offset " +
                      std::to_string(s.offset) + ", expected " + std::to_string(n_) + ")",
                  kExitFailure);
    n_ += s.size;
  }
  m_ = alloc_->allocate(n_);
  v_ = alloc_->allocate(n_);
}

CpuAdam::~CpuAdam() {
  alloc_->release(m_, n_);
  alloc_->release(v_, n_);
}

int CpuAdam::threads() const {
  return options_.threads > 0 ? options_.threads : omp_get_max_threads();
}

double CpuAdam::grad_norm(const float* g) const {
  const std::size_t tile = options_.tile, tiles = (n_ + tile - 1) / tile;
  std::vector<double> partial(tiles);
  const auto count = static_cast<std::ptrdiff_t>(tiles);
#pragma omp parallel for schedule(dynamic) num_threads(threads())
  for (std::ptrdiff_t k = 0; k < count; ++k) {
    const std::size_t b = static_cast<std::size_t>(k) * tile, e = std::min(n_, b + tile);
    partial[static_cast<std::size_t>(k)] = sum_squares_range(options_.isa, g + b, e - b);
  }
  double s = 0;
  for (double x : partial) s += x;  // in tile order: independent of the thread count
  return std::sqrt(s);
}

double CpuAdam::step(float* p, const float* g, uint16_t* half, double lr, double max_norm) {
  return step_with_norm(p, g, half, lr, grad_norm(g), max_norm);
}

double CpuAdam::step_with_norm(float* p, const float* g, uint16_t* half, double lr, double norm,
                               double max_norm) {
  // The engine's rule (GpuTransformer::clip_and_adamw; the trainer advances the step count
  // only on a finite norm): a non-finite gradient norm leaves everything as it was. Σ g² in
  // double of finite floats cannot overflow, so the norm is finite exactly when every
  // gradient is. Deciding before the update costs one read of g (4 of 34 bytes per
  // parameter), where updating first would need the old p, m and v kept to roll back.
  if (!std::isfinite(norm)) return norm;
  const HalfFormat format = options_.half;
  if (format != HalfFormat::kNone && !half)
    throw Error("cpu_adam: a 16-bit copy was asked for but no buffer was given", kExitFailure);
  ++t_;
  // nn::clip_grad_norm's factor, applied to each gradient as it is read (the same product).
  const float gscale =
      max_norm > 0 && norm > max_norm ? static_cast<float>(max_norm / (norm + 1e-6)) : 1.0f;
  const StepConstants k_decay = step_constants(config_, lr, t_, true, gscale);
  const StepConstants k_plain = step_constants(config_, lr, t_, false, gscale);
  const std::size_t tile = options_.tile, tiles = (n_ + tile - 1) / tile;
  const auto count = static_cast<std::ptrdiff_t>(tiles);
#pragma omp parallel for schedule(dynamic) num_threads(threads())
  for (std::ptrdiff_t k = 0; k < count; ++k) {
    const std::size_t b = static_cast<std::size_t>(k) * tile, e = std::min(n_, b + tile);
    // The segments this tile overlaps (the first one ending after b), each with its decay.
    auto s = std::upper_bound(
        segments_.begin(), segments_.end(), b,
        [](std::size_t x, const Segment& seg) { return x < seg.offset + seg.size; });
    for (std::size_t i = b; i < e; ++s) {
      const std::size_t j = std::min(e, s->offset + s->size);
      update_range(options_.isa, s->decay ? k_decay : k_plain, p + i, g + i, m_ + i, v_ + i,
                   format == HalfFormat::kNone ? nullptr : half + i, format, j - i);
      i = j;
    }
  }
  return norm;
}

}  // namespace tessel::cpu_adam
