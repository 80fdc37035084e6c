// Portable seeded random numbers: identical streams on every platform and compiler.
#pragma once

#include <cstdint>
#include <random>

namespace tessel {

// std::mt19937_64 is fully specified by the standard, but std::*_distribution are not
// (libstdc++ and libc++ produce different values), so golden vectors and error studies
// draw through these explicit conversions instead.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1) from the top 53 bits of one 64-bit draw.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  // Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  uint64_t next_u64() { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace tessel
