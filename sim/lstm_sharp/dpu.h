// Dot-product unit: K int16 × int16 products per cycle into an exact int64 accumulator.
#pragma once

#include <cstdint>

#include "models/common/fixed.h"

namespace tessel::lstm_sharp {

// A K-wide DPU is a multiplier row, a log2(K)-deep adder tree and an accumulator. A row
// needs ceil(n / K) passes; its sum leaves the accumulator `latency(K)` cycles after the
// last pass. The arithmetic is models/common/fixed.h's exact dot product, so splitting a
// row into passes (or W·x and U·h parts run at different times) cannot change a bit.
struct Dpu {
  static int64_t latency(int64_t k) {
    int64_t depth = 0;
    while ((int64_t{1} << depth) < k) ++depth;
    return depth + 1;
  }
  static int64_t accumulate(int64_t acc, const int16_t* w, const int16_t* a, int64_t n) {
    return acc + fixed::dot(w, a, static_cast<std::size_t>(n));
  }
};

}  // namespace tessel::lstm_sharp
