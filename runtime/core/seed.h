// Seed derivation: SplitMix64, exactly specified so results repeat on every platform.
#pragma once

#include <cstdint>

namespace tessel {

// Advances `state` and returns the next 64-bit value (Steele, Lea & Flood, OOPSLA 2014).
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The seed of point `index` of a sweep run with `base`: independent streams per point,
// the same on every run.
inline uint64_t derive_seed(uint64_t base, uint64_t index) {
  uint64_t state = base ^ (index * 0xD1B54A32D192ED03ull);
  return splitmix64(state);
}

}  // namespace tessel
