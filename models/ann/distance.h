// Squared Euclidean distances: the fast float kernel used by search and the exact double form.
#pragma once

#include <cstdint>

namespace tessel::ann {

// Squared L2 in float. Eight independent partial sums let the compiler keep the loop in vector
// registers without -ffast-math (a single accumulator is a serial dependency it may not reorder).
inline float l2_sq(const float* a, const float* b, int dim) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int k = 0;
  for (; k + 8 <= dim; k += 8)
    for (int j = 0; j < 8; ++j) {
      const float d = a[k + j] - b[k + j];
      acc[j] += d * d;
    }
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; k < dim; ++k) {
    const float d = a[k] - b[k];
    s += d * d;
  }
  return s;
}

// Squared L2 accumulated in double in index order. Every product and sum is exact-to-double and
// done in the same order on the CPU and in the CUDA refinement kernel, so both backends rank
// candidates by bit-identical values (ISO C++ mode compiles without FMA contraction).
inline double l2_sq_exact(const float* a, const float* b, int dim) {
  double s = 0;
  for (int k = 0; k < dim; ++k) {
    const double d = static_cast<double>(a[k]) - static_cast<double>(b[k]);
    s += d * d;
  }
  return s;
}

}  // namespace tessel::ann
