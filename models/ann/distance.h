// Squared Euclidean distances: the fast float kernel used by search and the exact double form.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

namespace tessel::ann {

// Squared L2 in float, the portable kernel. Eight independent partial sums let the compiler
// keep the loop in vector registers without -ffast-math (a single accumulator is a serial
// dependency it may not reorder).
inline float l2_sq_portable(const float* a, const float* b, int dim) {
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

namespace detail {
// The widest kernel this CPU runs (AVX-512F, AVX2 + FMA, else the portable one), chosen on the
// first call (distance.cpp). The library is compiled for any x86-64, so without this the
// build's and the float searches' distances ran in 128-bit SSE2.
using L2Fn = float (*)(const float*, const float*, int);
extern std::atomic<L2Fn> l2_sq_kernel;
// Every kernel this CPU can run, widest first (for tests).
struct L2Kernel {
  const char* name;
  L2Fn fn;
};
std::vector<L2Kernel> l2_sq_kernels();
}  // namespace detail

// Squared L2 in float by the widest kernel. Every kernel computes (a - b)^2 lane by lane, so
// l2_sq(a, b) == l2_sq(b, a) exactly (NN-descent's thread-count independence relies on it); the
// kernels differ from one another in the last bits (summation order, FMA).
inline float l2_sq(const float* a, const float* b, int dim) {
  return detail::l2_sq_kernel.load(std::memory_order_relaxed)(a, b, dim);
}

// Bases whose values are all integers 0..255 (MNIST's pixels): the rows as one byte per value,
// a quarter of the float rows' bytes, for the builds' distances (l2_sq_bytes). Empty when some
// value is not such an integer, or `dim` is too large for 32-bit integer sums.
std::vector<uint8_t> exact_byte_rows(const float* data, int64_t n, int dim);

// l2_sq(fa, fb, dim) bit for bit, from the byte rows a, b of the same two vectors: the sum of
// squared differences in exact integers. Every float kernel adds integers exactly while they stay
// <= 2^24, so below that the float result is this exact sum, in any summation order; the
// rare larger sums are computed by l2_sq on the float rows.
float l2_sq_bytes(const uint8_t* a, const uint8_t* b, const float* fa, const float* fb, int dim);

namespace detail {
// The exact integer kernels, widest first (for tests).
using L2BytesFn = uint32_t (*)(const uint8_t*, const uint8_t*, int);
struct L2BytesKernel {
  const char* name;
  L2BytesFn fn;
};
std::vector<L2BytesKernel> l2_sq_bytes_kernels();
}  // namespace detail

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
