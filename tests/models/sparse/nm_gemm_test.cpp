// CPU GEMMs on compressed weights against dense Eigen products (int8 exact, floats within
// tolerance).
#include <gtest/gtest.h>

#include "models/linalg/gemm_reference.h"
#include "models/sparse/nm_gemm.h"
#include "models/sparse/nm_gemm_cuda.h"
#include "runtime/core/error.h"

namespace tessel::sparse {
namespace {

struct Shape {
  int64_t out, k, t;
  Pattern p;
};

// Shapes cover: token counts that are and are not multiples of 16 and 64 (SIMD tails),
// odd kept-per-row counts (1:4 with K=4, pairs padded), every pattern the unit supports,
// and K long enough for several of the SIMD kernels' K chunks.
const Shape kShapes[] = {{8, 4, 3, {1, 4}},
                         {5, 64, 16, {2, 4}},
                         {17, 128, 67, {2, 4}},
                         {32, 256, 128, {2, 4}},
                         {9, 96, 200, {1, 4}},
                         {12, 64, 80, {2, 8}},
                         {7, 128, 33, {4, 8}},
                         {3, 48, 64, {3, 16}},
                         {6, 30, 21, {2, 3}},
                         // Many K chunks of the SIMD kernels, odd N (pairs padded per row).
                         {5, 1040, 70, {3, 16}},
                         {4, 600, 64, {1, 4}},
                         {3, 1000, 80, {2, 5}}};

TEST(NmGemm, Int8EqualsDenseEigenExactly) {
  uint64_t seed = 100;
  for (const Shape& s : kShapes) {
    MatrixI8 w = random_nm_int8(s.out, s.k, s.p, seed++);
    MatrixI8 x = random_int8(s.k, s.t, seed++);
    MatrixI32 dense = linalg::gemm_int8(w, x);
    auto c = compress(w, s.p);
    EXPECT_TRUE(nm_gemm_reference(c, x) == dense) << s.p.str() << " " << s.out << "x" << s.k;
    EXPECT_TRUE(nm_gemm(c, x) == dense) << s.p.str() << " " << s.out << "x" << s.k << "x" << s.t;
  }
}

TEST(NmGemm, Int8ExtremesDoNotOverflow) {
  // -128 * -128 twice per vpmaddwd pair is 32768: must land exactly in int32.
  MatrixI8 w = MatrixI8::Constant(4, 64, -128);
  w = project(w, {2, 4});
  MatrixI8 x = MatrixI8::Constant(64, 32, -128);
  EXPECT_TRUE(nm_gemm(compress(w, {2, 4}), x) == linalg::gemm_int8(w, x));
}

TEST(NmGemm, Fp32MatchesDoublePrecisionProduct) {
  uint64_t seed = 300;
  for (const Shape& s : kShapes) {
    MatrixF w = random_nm_float(s.out, s.k, s.p, seed++);
    MatrixF x = random_float(s.k, s.t, seed++);
    Eigen::MatrixXd ref = w.cast<double>() * x.cast<double>();
    auto c = compress(w, s.p);
    // Each output sums K*N/M products of magnitude < 1 in fp32: error bound ~ kept * eps.
    const double tol = 4.0 * static_cast<double>(s.k) * s.p.n / s.p.m * 6e-8;
    EXPECT_LE((nm_gemm(c, x).cast<double>() - ref).cwiseAbs().maxCoeff(), tol) << s.p.str();
    EXPECT_LE((nm_gemm_reference(c, x).cast<double>() - ref).cwiseAbs().maxCoeff(), tol);
  }
}

TEST(NmGemm, Fp16OperandsAccumulateInFp32) {
  MatrixF wf = random_nm_float(24, 128, {2, 4}, 7);
  MatrixF xf = random_float(128, 40, 8);
  MatrixH w = wf.cast<Eigen::half>(), x = xf.cast<Eigen::half>();
  // The reference rounds the operands to fp16 exactly as the kernel sees them.
  Eigen::MatrixXd ref = w.cast<float>().cast<double>() * x.cast<float>().cast<double>();
  MatrixF y = nm_gemm(compress(w, {2, 4}), x);
  EXPECT_LE((y.cast<double>() - ref).cwiseAbs().maxCoeff(), 64 * 6e-8 * 4);
}

TEST(NmGemm, ShapeMismatchAndBackendNames) {
  auto c = compress(random_nm_int8(4, 16, {2, 4}, 1), {2, 4});
  EXPECT_THROW(nm_gemm(c, random_int8(12, 4, 2)), ConfigError);
  EXPECT_EQ(parse_backend("cuda"), Backend::kCuda);
  EXPECT_STREQ(backend_name(Backend::kCpu), "cpu");
  EXPECT_THROW(parse_backend("gpu"), ConfigError);
  // Without a GPU (or without CUDA in the build) the CUDA backend is a clear error.
  if (cuda_device_count() == 0) {
    EXPECT_THROW(nm_gemm(c, random_int8(16, 4, 2), Backend::kCuda), Error);
  }
}

}  // namespace
}  // namespace tessel::sparse
