// Real operands for the N:M unit without SystemC: the int8 quantisation against an
// independent one, the operands the unit is fed, the twin's timing with real weights, and
// every error of the weights/activations keys with its exact message.
#include <gtest/gtest.h>

#include "models/sparse/compressed.h"
#include "runtime/core/error.h"
#include "runtime/core/runner.h"
#include "sim/nm_unit/nm_unit_operands.h"
#include "sim/nm_unit/nm_unit_weights.h"
#include "tests/sim/nm_unit/nm_unit_operand_files.h"
#include "tests/sim/nm_unit/nm_unit_yaml.h"
#include "tests/support/tool.h"

namespace tessel::nm_unit {
namespace {

using tessel::testing::TempDir;
using tessel::testing::write_text;
using testing::config_error;
using testing::Gemm;
using testing::layer_weights;
using testing::Machine;
using testing::twin;
using testing::write_matrix;

// experiment_yaml's extra workload lines start at line 23; a value after "  weights: " at
// column 12, after "  activations: " at column 16.
const char* kAt = "exp.yaml:23:12: workload.weights: ";

TEST(NmUnitWeights, QuantisationRoundsHalfToEvenPerRowAndPerTensor) {
  sparse::MatrixF w(3, 6);
  w << 127, 2.5f, -2.5f, 3.5f, -0.5f, 1.5f,  // scale 1: ties go to the even neighbour
      -254, 5, 3, -1, 0.9f, 7,               // scale 2: 2.5 -> 2, 1.5 -> 2, -0.5 -> -0
      0, 0, 0, 0, 0, 0;                      // all zero: scale 1
  Int8Quantized q = quantize_int8_per_row(w);
  sparse::MatrixI8 expect(3, 6);
  expect << 127, 2, -2, 4, 0, 2, -127, 2, 2, 0, 0, 4, 0, 0, 0, 0, 0, 0;
  EXPECT_EQ(q.q, expect);
  EXPECT_EQ(q.scales, (std::vector<float>{1.0f, 2.0f, 1.0f}));
  Int8Quantized t = quantize_int8_per_tensor(w);  // one scale: 254 / 127 = 2
  EXPECT_EQ(t.scales, std::vector<float>{2.0f});
  EXPECT_EQ(t.q(0, 0), 64);  // 63.5 -> 64
  EXPECT_EQ(t.q(0, 1), 1);   // 1.25 -> 1
  EXPECT_EQ(t.q(1, 0), -127);
  EXPECT_EQ(t.q(1, 5), 4);  // 3.5 -> 4
}

// The operands the unit is fed (make_operands, as both experiments call it) are exactly an
// independent quantisation of the files: per-row weights, per-tensor activations.
TEST(NmUnitWeights, UnitOperandsAreTheIndependentQuantisationOfTheFiles) {
  TempDir dir;
  const sparse::Pattern p{2, 4};
  const sparse::MatrixF w = layer_weights(40, 64, p, 11);
  const sparse::MatrixF x = sparse::random_float(64, 36, 12) * 3.0f;
  write_matrix(dir / "w.npy", w);
  write_matrix(dir / "x.npy", x);
  Gemm g{40,   36,
         64,   "2:4",
         true, "  weights: " + (dir / "w.npy") + "\n  activations: " + (dir / "x.npy") + "\n"};
  Config exp = Config::parse(experiment_yaml(Machine{}, g, "nm_unit"), "exp.yaml");
  NmUnitParams params = read_params(exp.child("hw"));
  NmUnitWorkload work = read_workload(exp.child("workload"));
  Mapping map = map_workload(params, work);
  Operands ops = make_operands(params, work, map, 5);

  std::vector<float> scales;
  const sparse::MatrixI8 wq = testing::ref_quantize_rows(w, &scales);
  float xs = 0;
  const sparse::MatrixI8 xq = testing::ref_quantize_tensor(x, &xs);
  EXPECT_EQ(sparse::decompress(ops.w8), wq);
  EXPECT_EQ(ops.x8, xq);
  EXPECT_EQ(ops.weight_scales, scales);
  EXPECT_EQ(ops.act_scale, xs);
  // Row 0's planted ties (scale 1): 2.5 -> 2, -3.5 -> -4, -0.5 -> 0, 1.5 -> 2, -2.5 -> -2.
  EXPECT_EQ(scales[0], 1.0f);
  std::vector<int> row0;
  for (int64_t c = 0; c < 64; ++c)
    if (w(0, c) != 0) row0.push_back(wq(0, c));
  ASSERT_GE(row0.size(), 6u);
  EXPECT_EQ(std::vector<int>(row0.begin(), row0.begin() + 6),
            (std::vector<int>{127, 2, -4, 0, 2, -2}));

  // fp16 datapath: the nearest fp16 of each value, no scale.
  Machine h;
  h.dtype = "fp16";
  Config exph = Config::parse(experiment_yaml(h, g, "nm_unit"), "exp.yaml");
  NmUnitParams ph = read_params(exph.child("hw"));
  Operands oh = make_operands(ph, work, map_workload(ph, work), 5);
  EXPECT_EQ(sparse::decompress(oh.wh), w.cast<Eigen::half>().eval());
  EXPECT_EQ(oh.xh, x.cast<Eigen::half>().eval());
  EXPECT_TRUE(oh.weight_scales.empty());
}

// An int8 .npy (dtype '|i1', bytes written here by hand as np.save lays them out) is taken as
// it is: the unit's operands are the file's values with scales of 1, even for a row whose
// largest magnitude is far below 127 (which quantising would have stretched).
TEST(NmUnitWeights, Int8FilesAreUsedAsTheyAre) {
  TempDir dir;
  const int64_t m = 4, k = 8, n = 4;
  std::vector<int8_t> wv(m * k, 0), xv(k * n, 0);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t g = 0; g < k / 4; ++g) {  // 2:4: positions 0 and 2 of every group
      wv[r * k + 4 * g] = static_cast<int8_t>(r + 1);
      wv[r * k + 4 * g + 2] = static_cast<int8_t>(-3 * (g + 1) - r);
    }
  for (int64_t i = 0; i < k * n; ++i) xv[i] = static_cast<int8_t>((i * 37) % 255 - 127);
  auto write_int8 = [](const std::string& path, int64_t rows, int64_t cols,
                       const std::vector<int8_t>& v) {
    std::string header = "{'descr': '|i1', 'fortran_order': False, 'shape': (" +
                         std::to_string(rows) + ", " + std::to_string(cols) + "), }";
    while ((10 + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
    bytes += static_cast<char>(header.size() & 0xff);
    bytes += static_cast<char>(header.size() >> 8);
    bytes += header;
    bytes.append(reinterpret_cast<const char*>(v.data()), v.size());
    write_text(path, bytes);
  };
  write_int8(dir / "w.npy", m, k, wv);
  write_int8(dir / "x.npy", k, n, xv);
  Gemm g{m,    n,
         k,    "2:4",
         true, "  weights: " + (dir / "w.npy") + "\n  activations: " + (dir / "x.npy") + "\n"};
  Config exp = Config::parse(experiment_yaml(Machine{}, g, "nm_unit"), "exp.yaml");
  NmUnitParams params = read_params(exp.child("hw"));
  NmUnitWorkload work = read_workload(exp.child("workload"));
  Operands ops = make_operands(params, work, map_workload(params, work), 5);
  const sparse::MatrixI8 w8 = sparse::decompress(ops.w8);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < k; ++c) EXPECT_EQ(w8(r, c), wv[r * k + c]) << r << "," << c;
  for (int64_t r = 0; r < k; ++r)
    for (int64_t c = 0; c < n; ++c) EXPECT_EQ(ops.x8(r, c), xv[r * n + c]) << r << "," << c;
  EXPECT_EQ(ops.weight_scales, std::vector<float>(m, 1.0f));
  EXPECT_EQ(ops.act_scale, 1.0f);
}

// Timing does not depend on the values: the 32x32x64 2:4 step derived by hand in
// nm_unit_twin_test.cpp takes 227 cycles with real weights too, with the same counters.
TEST(NmUnitWeights, TwinTimingWithRealWeightsIsTheClosedForm) {
  TempDir dir;
  write_matrix(dir / "w.npy", layer_weights(32, 64, sparse::Pattern{2, 4}, 3));
  SimResult seeded = twin(Machine{}, Gemm{32, 32, 64, "2:4", false, ""});
  SimResult real =
      twin(Machine{}, Gemm{32, 32, 64, "2:4", true, "  weights: " + (dir / "w.npy") + "\n"});
  EXPECT_EQ(real.cycles, 227u);
  EXPECT_EQ(real.counters, seeded.counters);
}

TEST(NmUnitWeights, ShapeMismatchNamesFileKeyAndBothShapes) {
  TempDir dir;
  write_matrix(dir / "w.npy", sparse::random_nm_float(16, 64, sparse::Pattern{2, 4}, 1));
  write_matrix(dir / "x.npy", sparse::random_float(32, 40, 1));
  EXPECT_EQ(
      config_error(Machine{},
                   Gemm{16, 40, 32, "2:4", false, "  weights: " + (dir / "w.npy") + "\n"}),
      std::string(kAt) + (dir / "w.npy") + " has shape [16, 64], the workload's m x k is [16, 32]");
  EXPECT_EQ(config_error(Machine{}, Gemm{16, 48, 32, "2:4", false,
                                         "  activations: " + (dir / "x.npy") + "\n"}),
            "exp.yaml:23:16: workload.activations: " + (dir / "x.npy") +
                " has shape [32, 40], the workload's k x n is [32, 48]");
}

TEST(NmUnitWeights, NonzeroOnAPrunedPositionIsNamedByRowAndColumn) {
  TempDir dir;
  const sparse::Pattern p{2, 4};
  sparse::MatrixF w = sparse::random_nm_float(8, 16, p, 4);
  const sparse::Mask mask = sparse::nonzero_mask(w);
  sparse::save_mask(dir / "mask.txt", mask, p);
  int64_t col = 0;
  while (mask(5, col)) ++col;  // first pruned position of row 5
  w(5, col) = 0.25f;
  write_matrix(dir / "w.npy", w);
  Gemm g{8,     8,     16,
         "2:4", false, "  mask: " + (dir / "mask.txt") + "\n  weights: " + (dir / "w.npy") + "\n"};
  EXPECT_EQ(config_error(Machine{}, g),
            "exp.yaml:24:12: workload.weights: " + (dir / "w.npy") + ": row 5 col " +
                std::to_string(col) + " is 0.25 but the mask " + (dir / "mask.txt") + " prunes it");
}

TEST(NmUnitWeights, WeightsThatAreNotNmNeedAMask) {
  TempDir dir;
  sparse::MatrixF w = sparse::random_nm_float(8, 16, sparse::Pattern{2, 4}, 4);
  w.block(3, 8, 1, 4).setConstant(0.5f);  // row 3 group 2 keeps all four
  write_matrix(dir / "w.npy", w);
  Gemm g{8, 8, 16, "2:4", false, "  weights: " + (dir / "w.npy") + "\n"};
  EXPECT_EQ(config_error(Machine{}, g),
            std::string(kAt) + (dir / "w.npy") +
                " is not 2:4: row 3 group 2 (columns 8-11) keeps 4 of 4, 2:4 allows 2 (prune it "
                "or give a mask)");
  // Dense weights are fine for "pattern: dense".
  g.pattern = "dense";
  EXPECT_EQ(twin(Machine{}, g).cycles, twin(Machine{}, Gemm{8, 8, 16, "dense", false, ""}).cycles);
}

TEST(NmUnitWeights, NonFiniteAndOutOfFp16RangeValuesAreRejected) {
  TempDir dir;
  sparse::MatrixF w = sparse::random_nm_float(8, 16, sparse::Pattern{2, 4}, 4);
  const sparse::Mask keep = sparse::nonzero_mask(w);
  int64_t col = 0;
  while (!keep(2, col)) ++col;
  sparse::MatrixF big = w;
  big(2, col) = 70000.0f;
  write_matrix(dir / "big.npy", big);
  Machine h;
  h.dtype = "fp16";
  EXPECT_EQ(config_error(h, Gemm{8, 8, 16, "2:4", false, "  weights: " + (dir / "big.npy") + "\n"}),
            std::string(kAt) + (dir / "big.npy") + ": row 2 col " + std::to_string(col) +
                " is 70000, beyond fp16 (largest 65504)");
  // int8 takes it: the row's scale absorbs the magnitude.
  EXPECT_EQ(config_error(Machine{},
                         Gemm{8, 8, 16, "2:4", false, "  weights: " + (dir / "big.npy") + "\n"}),
            "no error");
  w(2, col) = std::nanf("");
  write_matrix(dir / "nan.npy", w);
  EXPECT_EQ(config_error(Machine{},
                         Gemm{8, 8, 16, "2:4", false, "  weights: " + (dir / "nan.npy") + "\n"}),
            std::string(kAt) + (dir / "nan.npy") + ": row 2 col " + std::to_string(col) +
                " is nan, not a finite number");
}

TEST(NmUnitWeights, UnreadableFileIsAnIoErrorAtTheKey) {
  TempDir dir;
  tessel::testing::write_text(dir.path() / "bad.npy", "not numpy");
  try {
    twin(Machine{}, Gemm{8, 8, 16, "2:4", false, "  weights: " + (dir / "bad.npy") + "\n"});
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()), std::string(kAt) + (dir / "bad.npy") +
                                         ": not a .npy file (missing \\x93NUMPY magic)");
  }
  EXPECT_THROW(
      twin(Machine{}, Gemm{8, 8, 16, "2:4", false, "  weights: " + (dir / "missing.npy") + "\n"}),
      IoError);
}

}  // namespace
}  // namespace tessel::nm_unit
