// CPU-Adam (ZeRO-Offload, arXiv 2101.06840): AdamW over fp32 master parameters with the
// fp16/bf16 copy-out fused into the same pass; AVX-512 and AVX2 paths picked at run time,
// a scalar reference beside them, OpenMP across tiles.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "models/nn/optimizer.h"
#include "models/nn/params.h"

namespace tessel::cpu_adam {

// Instruction-set paths. The project is built for the x86-64 baseline; the SIMD paths are
// compiled with per-function target attributes and only called where the CPU has them.
enum class Isa { kScalar, kAvx2, kAvx512 };
const char* isa_name(Isa isa);
bool isa_supported(Isa isa);  // kAvx2: AVX2 + F16C; kAvx512: AVX-512 F/BW/VL + F16C
Isa best_isa();

// The 16-bit copy written beside the fp32 master (kNone: no copy).
enum class HalfFormat { kNone, kFp16, kBf16 };

// The float constants of one update, computed exactly as nn::adamw_update computes them,
// so that every path runs that function's arithmetic, operation for operation.
struct StepConstants {
  float b1, b2, one_minus_b1, one_minus_b2, bc1, bc2, eps, lr, wd;
  float gscale;  // gradient clipping factor folded into the pass (1: none)
};
StepConstants step_constants(const nn::AdamWConfig& c, double lr, int64_t t, bool decay,
                             float gscale = 1.0f);

// --- Kernels on one contiguous range, one thread, one path (tests and the bench call
// these directly; CpuAdam tiles and threads them). Every path gives the same bits. ---

// m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g' g';  g' = g * gscale
// p -= lr ((m / bc1) / (sqrt(v / bc2) + eps) + wd p);  half[i] = round(p[i]) in `format`.
// `half` may be null when format is kNone.
void update_range(Isa isa, const StepConstants& k, float* p, const float* g, float* m, float* v,
                  uint16_t* half, HalfFormat format, std::size_t n);
// Σ g² in double. Products of floats are exact in double; the sum runs in 32 lanes
// (element i into lane i mod 32, in order) and the lanes are then added 0..31, so every
// path returns the same bits. Not finite exactly when some g is not finite.
double sum_squares_range(Isa isa, const float* g, std::size_t n);
// out[i] = x[i] in `format` (kFp16 or kBf16).
void convert_range(Isa isa, const float* x, uint16_t* out, HalfFormat format, std::size_t n);

// A run of the flat parameter buffer with its weight-decay flag (nn::ParamInfo's offset,
// size and decay). The segments of a CpuAdam cover [0, size) in order.
struct Segment {
  std::size_t offset = 0;
  std::size_t size = 0;
  bool decay = true;
};
std::vector<Segment> segments_of(const std::vector<nn::ParamInfo>& infos);

// Elements per tile: the unit of OpenMP work and of the norm's fixed summation order
// (docs/cpu_adam.md, "Tiles", says how it was chosen).
constexpr std::size_t kDefaultTile = std::size_t{1} << 18;

struct CpuAdamOptions {
  Isa isa = best_isa();
  int threads = 0;  // OpenMP threads; 0: omp_get_max_threads()
  std::size_t tile = kDefaultTile;
  HalfFormat half = HalfFormat::kFp16;
};

// AdamW over fp32 master parameters p (the caller's), with its moments (allocated here,
// zero) and the step count. The same update as nn::AdamW, bit for bit.
class CpuAdam {
 public:
  CpuAdam(const nn::AdamWConfig& config, std::vector<Segment> segments, CpuAdamOptions options = {},
          std::shared_ptr<nn::StateAllocator> allocator = nn::host_state_allocator());
  ~CpuAdam();
  CpuAdam(const CpuAdam&) = delete;
  CpuAdam& operator=(const CpuAdam&) = delete;

  // One step at learning rate lr. A first pass computes the gradient norm (sqrt Σ g², in
  // double); if it is not finite the step is skipped, as the engine skips it (p, m, v and
  // half untouched, steps() unchanged) and the norm is returned. Otherwise the clip factor
  // for max_norm (<= 0: none; nn::clip_grad_norm's formula) is folded into one fused pass
  // that updates p, m, v and writes half (null when options.half is kNone). Returns the
  // norm before clipping.
  double step(float* p, const float* g, uint16_t* half, double lr, double max_norm = 0);
  // The same, for a caller that already has the norm (computed while the gradients were
  // copied in): the fused pass alone.
  double step_with_norm(float* p, const float* g, uint16_t* half, double lr, double norm,
                        double max_norm = 0);
  // sqrt Σ g² over all elements: per tile sum_squares_range, tiles added in order, so the
  // result depends on the tile size but not on the thread count or path.
  double grad_norm(const float* g) const;

  const nn::AdamWConfig& config() const { return config_; }
  const CpuAdamOptions& options() const { return options_; }
  std::size_t size() const { return n_; }
  int64_t steps() const { return t_; }
  void set_steps(int64_t t) { t_ = t; }
  float* m() { return m_; }
  float* v() { return v_; }
  const float* m() const { return m_; }
  const float* v() const { return v_; }

 private:
  int threads() const;
  nn::AdamWConfig config_;
  std::vector<Segment> segments_;
  CpuAdamOptions options_;
  std::shared_ptr<nn::StateAllocator> alloc_;
  std::size_t n_ = 0;
  float* m_ = nullptr;
  float* v_ = nullptr;
  int64_t t_ = 0;
};

}  // namespace tessel::cpu_adam
