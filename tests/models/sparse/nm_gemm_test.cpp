// CPU GEMMs on compressed weights against dense Eigen products (int8 exact, floats within
// tolerance).
#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

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

// Every int8 level the running CPU has, forced, against the plain reference (which itself
// equals the dense product above). Levels the CPU lacks are reported and must throw.
std::vector<CpuIsa> levels_here() {
  std::vector<CpuIsa> out;
  for (CpuIsa isa : kAllCpuIsas)
    if (cpu_supports(isa)) out.push_back(isa);
  return out;
}

TEST(NmGemmIsa, EveryLevelEqualsReferenceOnRandomShapes) {
  // The four patterns of the unit plus odd ones (odd N, M = 3, 5, 16); token counts around
  // the 32-token block; K of one group, one super group, and several L1 chunks.
  const Shape shapes[] = {{5, 4, 3, {2, 4}},      {6, 4, 33, {1, 4}},    {3, 8, 31, {2, 8}},
                          {4, 8, 32, {4, 8}},     {9, 12, 64, {1, 4}},   {7, 40, 65, {2, 4}},
                          {13, 1024, 70, {2, 4}}, {6, 1024, 40, {1, 4}}, {5, 1024, 33, {2, 8}},
                          {11, 1024, 96, {4, 8}}, {3, 48, 17, {3, 16}},  {5, 1040, 40, {3, 16}},
                          {6, 30, 21, {2, 3}},    {4, 1000, 50, {2, 5}}, {2, 16, 1, {8, 16}},
                          {1, 64, 100, {7, 8}},   {0, 16, 8, {2, 4}},    {4, 16, 0, {2, 4}}};
  const std::vector<CpuIsa> levels = levels_here();
  for (CpuIsa isa : kAllCpuIsas)
    if (!cpu_supports(isa))
      std::printf("[ info ] int8 level %s not on this CPU\n", cpu_isa_name(isa));
  ASSERT_FALSE(levels.empty());
  uint64_t seed = 700;
  for (const Shape& s : shapes) {
    MatrixI8 w = random_nm_int8(s.out, s.k, s.p, seed++);
    MatrixI8 x = random_int8(s.k, s.t, seed++);
    auto c = compress(w, s.p);
    const MatrixI32 ref = nm_gemm_reference(c, x);
    for (CpuIsa isa : levels) {
      const MatrixI32 y = nm_gemm_cpu(c, x, isa);
      ASSERT_EQ(y.rows(), ref.rows());
      ASSERT_EQ(y.cols(), ref.cols());
      EXPECT_TRUE(y == ref) << cpu_isa_name(isa) << " " << s.p.str() << " " << s.out << "x" << s.k
                            << "x" << s.t << " (" << NmGemmInt8Cpu(c, isa).describe() << ")";
    }
  }
}

TEST(NmGemmIsa, EveryLevelIsExactAtInt8Extremes) {
  // Constant extremes give the largest sums of each sign (the u8 offset of the VNNI levels
  // and the int16 pairs of AVX2 must neither saturate nor wrap), and a random mix of
  // -128 / 127 / -1 / 0 / 1 exercises every weight and activation byte pattern.
  const Pattern patterns[] = {{2, 4}, {1, 4}, {2, 8}, {4, 8}};
  const int8_t values[] = {-128, 127, -1, 0, 1};
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int>(state >> 33);
  };
  for (const Pattern& p : patterns) {
    const int64_t out = 6, k = 1024, t = 45;
    for (int mode = 0; mode < 4; ++mode) {
      MatrixI8 w(out, k), x(k, t);
      for (int64_t i = 0; i < w.size(); ++i)
        w.data()[i] = mode == 3 ? values[next() % 5] : static_cast<int8_t>(mode == 1 ? 127 : -128);
      for (int64_t i = 0; i < x.size(); ++i)
        x.data()[i] = mode == 3 ? values[next() % 5] : static_cast<int8_t>(mode == 2 ? 127 : -128);
      // Keep N per group by magnitude: every kept weight stays at its extreme value.
      w = project(w, p);
      auto c = compress(w, p);
      const MatrixI32 ref = nm_gemm_reference(c, x);
      if (mode == 0) {
        ASSERT_EQ(ref(0, 0), 128 * 128 * k * p.n / p.m);  // the reference itself is sane
      }
      for (CpuIsa isa : levels_here())
        EXPECT_TRUE(nm_gemm_cpu(c, x, isa) == ref)
            << cpu_isa_name(isa) << " " << p.str() << " mode " << mode;
    }
  }
}

TEST(NmGemmIsa, PreparedWeightsServeManyActivationsAndCheckShapes) {
  auto c = compress(random_nm_int8(20, 256, {2, 4}, 5), {2, 4});
  for (CpuIsa isa : levels_here()) {
    NmGemmInt8Cpu kernel(c, isa);
    EXPECT_EQ(kernel.isa(), isa);
    for (int64_t t : {1, 32, 77}) {
      MatrixI8 x = random_int8(256, t, static_cast<uint64_t>(t));
      EXPECT_TRUE(kernel(x) == nm_gemm_reference(c, x)) << cpu_isa_name(isa) << " t=" << t;
    }
    EXPECT_THROW(kernel(random_int8(128, 8, 1)), ConfigError);
  }
  for (CpuIsa isa : kAllCpuIsas)
    if (!cpu_supports(isa)) {
      EXPECT_THROW(NmGemmInt8Cpu(c, isa), Error) << cpu_isa_name(isa);
    }
  EXPECT_TRUE(cpu_supports(CpuIsa::kPortable));
  EXPECT_TRUE(cpu_supports(cpu_best_isa()));
  EXPECT_STREQ(cpu_isa_name(CpuIsa::kAvx512Vnni), "avx512_vnni");
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
