// CUDA N:M kernels (generic and mma.sp 2:4) against the CPU reference; skipped without a GPU.
#include <gtest/gtest.h>

#include "models/linalg/gemm_reference.h"
#include "models/sparse/nm_gemm.h"
#include "models/sparse/nm_gemm_cuda.h"

namespace tessel::sparse {
namespace {

#define REQUIRE_GPU() \
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device"

TEST(NmGemmCuda, GenericInt8EqualsCpuForEveryPattern) {
  REQUIRE_GPU();
  const Pattern patterns[] = {{1, 4}, {2, 4}, {2, 8}, {4, 8}, {5, 16}};
  uint64_t seed = 1;
  for (const Pattern& p : patterns) {
    MatrixI8 w = random_nm_int8(37, 16 * p.m, p, seed++);
    MatrixI8 x = random_int8(16 * p.m, 75, seed++);
    auto c = compress(w, p);
    EXPECT_TRUE(nm_gemm(c, x, Backend::kCuda) == linalg::gemm_int8(w, x)) << p.str();
  }
}

TEST(NmGemmCuda, GenericFp32MatchesCpu) {
  REQUIRE_GPU();
  MatrixF w = random_nm_float(33, 256, {2, 8}, 4);
  MatrixF x = random_float(256, 50, 5);
  auto c = compress(w, {2, 8});
  EXPECT_LE((nm_gemm(c, x, Backend::kCuda) - nm_gemm_reference(c, x)).cwiseAbs().maxCoeff(), 1e-4);
}

TEST(NmGemmCuda, SparseTensorCoreInt8IsExact) {
  REQUIRE_GPU();
  // Shapes off the 16 x 32 x 8 mma tile exercise the padding.
  MatrixI8 w = random_nm_int8(40, 96, {2, 4}, 8);
  MatrixI8 x = random_int8(96, 20, 9);
  EXPECT_TRUE(cuda_sparse_tc_gemm(compress(w, {2, 4}), x) == linalg::gemm_int8(w, x));
}

// K not a multiple of the mma tile's 32 (int8) or 16 (fp16): the host pads K as well as the
// rows and tokens.
TEST(NmGemmCuda, SparseTensorCorePadsK) {
  REQUIRE_GPU();
  MatrixI8 w = random_nm_int8(40, 100, {2, 4}, 14);
  MatrixI8 x = random_int8(100, 20, 15);
  EXPECT_TRUE(cuda_sparse_tc_gemm(compress(w, {2, 4}), x) == linalg::gemm_int8(w, x));
  MatrixH wh = random_nm_float(37, 100, {2, 4}, 16).cast<Eigen::half>();
  MatrixH xh = random_float(100, 13, 17).cast<Eigen::half>();
  auto c = compress(wh, {2, 4});
  EXPECT_LE((nm_gemm(c, xh, Backend::kCuda) - nm_gemm(c, xh)).cwiseAbs().maxCoeff(), 1e-3);
}

TEST(NmGemmCuda, SparseTensorCoreFp16MatchesCpu) {
  REQUIRE_GPU();
  MatrixH w = random_nm_float(64, 256, {2, 4}, 10).cast<Eigen::half>();
  MatrixH x = random_float(256, 64, 11).cast<Eigen::half>();
  auto c = compress(w, {2, 4});
  MatrixF cpu = nm_gemm(c, x);  // fp16 operands, fp32 accumulation
  MatrixF gpu = nm_gemm(c, x, Backend::kCuda);
  EXPECT_LE((gpu - cpu).cwiseAbs().maxCoeff(), 1e-3);
  EXPECT_LE((cuda_dense_gemm(w, x) - cpu).cwiseAbs().maxCoeff(), 1e-3);
}

TEST(NmGemmCuda, Fp16OtherPatternsUseTheGenericKernel) {
  REQUIRE_GPU();
  MatrixH w = random_nm_float(20, 128, {2, 8}, 12).cast<Eigen::half>();
  MatrixH x = random_float(128, 24, 13).cast<Eigen::half>();
  auto c = compress(w, {2, 8});
  EXPECT_LE((nm_gemm(c, x, Backend::kCuda) - nm_gemm(c, x)).cwiseAbs().maxCoeff(), 1e-4);
}

}  // namespace
}  // namespace tessel::sparse
