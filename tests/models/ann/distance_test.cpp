// Every float L2 kernel this CPU runs (AVX-512F, AVX2 + FMA, portable) against the double-
// precision reference, at every dimension from 1 to 300 (full vectors and every tail length).
#include "models/ann/distance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "models/common/rng.h"

namespace tessel::ann {
namespace {

TEST(L2Kernel, MatchesTheDoubleReferenceAndIsSymmetric) {
  Rng rng(5);
  for (int dim = 1; dim <= 300; ++dim) {
    std::vector<float> a(dim), b(dim);
    for (int k = 0; k < dim; ++k) {
      a[k] = static_cast<float>(rng.uniform() * 2 - 1);
      b[k] = static_cast<float>(rng.uniform() * 2 - 1);
    }
    const double exact = l2_sq_exact(a.data(), b.data(), dim);
    for (const detail::L2Kernel& k : detail::l2_sq_kernels()) {
      const float d = k.fn(a.data(), b.data(), dim);
      // float rounding of at most `dim` terms of size <= 4: relative error well under 1e-5.
      EXPECT_NEAR(d, exact, 1e-5 * exact + 1e-7) << k.name << " dim " << dim;
      // NN-descent relies on d(a, b) == d(b, a) bit for bit.
      EXPECT_EQ(d, k.fn(b.data(), a.data(), dim)) << k.name << " dim " << dim;
    }
    EXPECT_EQ(l2_sq(a.data(), b.data(), dim),
              detail::l2_sq_kernels().front().fn(a.data(), b.data(), dim));
  }
}

}  // namespace
}  // namespace tessel::ann
