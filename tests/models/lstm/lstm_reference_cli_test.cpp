// `tessel lstm run` and the lstm.reference experiment end to end: outputs against the
// double-precision scalar LSTM and the spec-level integer cell of reference.h (neither calls
// the kernels under test), the reported error, the shipped experiment, and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "models/common/npy.h"
#include "models/lstm/weights_io.h"
#include "tests/models/lstm/reference.h"
#include "tests/support/tool.h"

namespace tessel::lstm {
namespace {

using testing::run_tool;
using testing::TempDir;

const std::string kTool = std::string(TESSEL_BINARY_DIR) + "/tessel_fault_tool";
const std::string kGolden = std::string(TESSEL_SOURCE_DIR) + "/tests/models/lstm/golden/";
const std::string kWeights = kGolden + "bilstm_i8_h8.npz";
const std::string kInput = kGolden + "bilstm_i8_h8_input.npy";

// x [T, B, I] as reference.h's x[t][b][f].
ref::Seq3 seq3(const NpyArray& a) {
  const int64_t steps = a.shape[0], batch = a.shape[1], features = a.shape[2];
  ref::Seq3 x(steps, std::vector<std::vector<double>>(batch, std::vector<double>(features)));
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t f = 0; f < features; ++f) x[t][b][f] = a.data[(t * batch + b) * features + f];
  return x;
}

// Largest |out - y| over an output array [T, B, W] and the reference y[t][b][j].
double max_diff(const NpyArray& out, const ref::Seq3& y) {
  const int64_t batch = out.shape[1], width = out.shape[2];
  double m = 0;
  for (std::size_t t = 0; t < y.size(); ++t)
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t j = 0; j < width; ++j)
        m = std::max(m, std::fabs(out.data[(t * batch + b) * width + j] - y[t][b][j]));
  return m;
}

// The number printed after `label` in `text`.
double number_after(const std::string& text, const std::string& label) {
  const auto at = text.find(label);
  return at == std::string::npos ? NAN : std::stod(text.substr(at + label.size()));
}

class LstmReferenceCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const LstmWeights w = load_lstm_weights(kWeights);
    ref::Seq3 hn, cn;
    y_ = ref::scalar_lstm(w, seq3(read_npy(kInput)), nullptr, nullptr, hn, cn);
  }
  TempDir dir_;
  ref::Seq3 y_;  // the double-precision reference outputs
};

TEST_F(LstmReferenceCli, FloatMatchesTheDoubleReference) {
  const auto run = run_tool(
      kTool,
      "lstm run --weights " + kWeights + " --input " + kInput + " --precision float -o y.npy",
      dir_.path().string());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_NE(run.out.find("lstm run: float32, 12 steps x batch 2, nn.LSTM(8, 8, num_layers=2, "
                         "bidirectional=True)"),
            std::string::npos)
      << run.out;
  EXPECT_EQ(run.out.find("error vs float32"), std::string::npos) << run.out;
  const NpyArray out = read_npy(dir_ / "y.npy");
  ASSERT_EQ(out.shape, (std::vector<int64_t>{12, 2, 16}));
  EXPECT_LT(max_diff(out, y_), 1e-5);
}

TEST_F(LstmReferenceCli, FixedPointErrorIsReportedAndWithinTheKernelBound) {
  const auto run =
      run_tool(kTool, "lstm run --weights " + kWeights + " --input " + kInput + " -o y.npy",
               dir_.path().string());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const NpyArray out = read_npy(dir_ / "y.npy");
  ASSERT_EQ(out.shape, (std::vector<int64_t>{12, 2, 16}));
  const double err = max_diff(out, y_);
  // The bound of LstmFixed.CloseToFloatAtPyTorchInitScale; fixed point is not float.
  EXPECT_LT(err, 2e-3);
  EXPECT_GT(err, 0.0);
  // The reported error is against float32, which is within 1e-5 of the double reference.
  const double reported = number_after(run.out, "error vs float32: max_abs ");
  EXPECT_NEAR(reported, err, 1e-5) << run.out;
  EXPECT_GT(number_after(run.out, ", rms "), 0.0) << run.out;
  EXPECT_LE(number_after(run.out, ", rms "), reported) << run.out;
  EXPECT_NE(run.out.find("wrote y.npy"), std::string::npos) << run.out;
}

// Q-format quantisation written from the spec: round half up, saturate to int16.
int16_t q(double v, int frac) {
  return ref::clamp16(static_cast<int64_t>(std::floor(v * std::ldexp(1.0, frac) + 0.5)));
}

TEST_F(LstmReferenceCli, FixedPointIsBitExactWithTheSpecCellAndHonoursThePrefix) {
  // One layer, one direction, batch 1 ([steps, input] input), saved under a module prefix.
  const LstmWeights w = LstmWeights::random(LstmShape{5, 6, 1, false}, 7, 0.6);
  const Sequence x = random_sequence(9, 5, 1, 8, 1.5);
  const LayerParams& p = w.at(0, 0);
  const auto matrix = [](const Eigen::MatrixXf& m) {
    NpyArray a;
    a.shape = {m.rows(), m.cols()};
    for (Eigen::Index r = 0; r < m.rows(); ++r)
      for (Eigen::Index c = 0; c < m.cols(); ++c) a.data.push_back(m(r, c));
    return a;
  };
  const auto vec = [](const Eigen::VectorXf& v) {
    return NpyArray{{v.size()}, std::vector<float>(v.data(), v.data() + v.size()), "<f4"};
  };
  write_npz(dir_ / "model.npz", {{"encoder.lstm.weight_ih_l0", matrix(p.w_ih)},
                                 {"encoder.lstm.weight_hh_l0", matrix(p.w_hh)},
                                 {"encoder.lstm.bias_ih_l0", vec(p.b_ih)},
                                 {"encoder.lstm.bias_hh_l0", vec(p.b_hh)},
                                 {"decoder.weight", matrix(p.w_hh)}});
  NpyArray in{{9, 5}, {}, "<f4"};
  for (const auto& m : x)
    for (int f = 0; f < 5; ++f) in.data.push_back(m(f, 0));
  write_npy(dir_ / "x.npy", in);

  auto run =
      run_tool(kTool, "lstm run --weights model.npz --input x.npy -o y.npy", dir_.path().string());
  EXPECT_EQ(run.exit_code, 4);
  EXPECT_NE(run.err.find("load it with prefix \"encoder.lstm.\""), std::string::npos) << run.err;
  run =
      run_tool(kTool, "lstm run --weights model.npz --input x.npy --prefix encoder.lstm. -o y.npy",
               dir_.path().string());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const NpyArray out = read_npy(dir_ / "y.npy");
  ASSERT_EQ(out.shape, (std::vector<int64_t>{9, 6}));

  std::vector<int16_t> wih, whh, bias;
  for (int r = 0; r < 24; ++r) {
    for (int c = 0; c < 5; ++c) wih.push_back(q(p.w_ih(r, c), 13));
    for (int c = 0; c < 6; ++c) whh.push_back(q(p.w_hh(r, c), 13));
    bias.push_back(q(static_cast<double>(p.b_ih(r) + p.b_hh(r)), 11));
  }
  std::vector<int16_t> h(6, 0), c(6, 0);
  for (int t = 0; t < 9; ++t) {
    std::vector<int16_t> xt;
    for (int f = 0; f < 5; ++f) xt.push_back(q(x[t](f, 0), 13));
    const ref::CellOut o = ref::int_cell(wih, whh, bias, xt, h, c);
    h = o.h;
    c = o.c;
    for (int j = 0; j < 6; ++j)
      ASSERT_EQ(out.data[t * 6 + j], static_cast<float>(std::ldexp(h[j], -13)))
          << "step " << t << " unit " << j;
  }
}

TEST_F(LstmReferenceCli, ShippedExperimentWritesItsArtifacts) {
  const auto run = run_tool(kTool,
                            "run " + std::string(TESSEL_SOURCE_DIR) +
                                "/configs/experiments/lstm_reference.yaml --json --out res",
                            dir_.path().string());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto j = nlohmann::json::parse(run.out);
  EXPECT_EQ(j["model"], "lstm.reference");
  EXPECT_EQ(j["labels"]["precision"], "fixed");
  EXPECT_EQ(j["metrics"]["steps"], 12);
  EXPECT_EQ(j["metrics"]["batch"], 2);
  EXPECT_EQ(j["metrics"]["hidden"], 8);
  EXPECT_LT(j["metrics"]["max_abs_error"].get<double>(), 2e-3);
  EXPECT_GT(j["metrics"]["rms_error"].get<double>(), 0.0);
  EXPECT_EQ(j["artifacts"]["output"], "output.npy");
  const NpyArray out = read_npy(dir_ / "res/output.npy");
  EXPECT_NEAR(max_diff(out, y_), j["metrics"]["max_abs_error"].get<double>(), 1e-5);
  EXPECT_EQ(read_npy(dir_ / "res/h_n.npy").shape, (std::vector<int64_t>{4, 2, 8}));
  EXPECT_EQ(read_npy(dir_ / "res/c_n.npy").shape, (std::vector<int64_t>{4, 2, 8}));
}

TEST_F(LstmReferenceCli, BadInputIsNamed) {
  const std::string d = dir_.path().string();
  auto run = run_tool(kTool, "lstm run --weights missing.npz --input " + kInput, d);
  EXPECT_EQ(run.exit_code, 4);
  EXPECT_EQ(run.err, "tessel: missing.npz: cannot open file\n");
  EXPECT_EQ(run.out, "");

  write_npy(dir_ / "bad.npy", NpyArray{{4, 2, 7}, std::vector<float>(56, 0.5f), "<f4"});
  run = run_tool(kTool, "lstm run --weights " + kWeights + " --input bad.npy", d);
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_EQ(run.err,
            "tessel: bad.npy: expected shape [steps, batch, 8] or [steps, 8] (input_size 8 "
            "of " +
                kWeights + "), got [4, 2, 7]\n");

  // The output path is checked before anything runs.
  run =
      run_tool(kTool, "lstm run --weights " + kWeights + " --input " + kInput + " -o no/y.npy", d);
  EXPECT_EQ(run.exit_code, 4);
  EXPECT_EQ(run.err, "tessel: lstm run: -o no/y.npy: folder no does not exist\n");
  EXPECT_EQ(run.out, "");
  run = run_tool(kTool, "lstm run --weights missing.npz --input " + kInput + " -o .", d);
  EXPECT_EQ(run.exit_code, 4);
  EXPECT_EQ(run.err, "tessel: lstm run: -o .: is a directory, expected a file\n");

  run = run_tool(kTool,
                 "lstm run --weights " + kWeights + " --input " + kInput + " --precision half", d);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--precision: half not in {fixed,float}"), std::string::npos) << run.err;
}

TEST_F(LstmReferenceCli, KeysAreDeclaredWithTheirDefaults) {
  const std::string d = dir_.path().string();
  auto write = [&](const std::string& name, const std::string& hw_extra) {
    std::ofstream(dir_ / name) << "name: t\nhw: {model: lstm.reference" << hw_extra
                               << "}\nworkload: {weights: " << kWeights << ", input: " << kInput
                               << "}\n";
  };
  write("typo.yaml", ", precison: float");
  auto run = run_tool(kTool, "run typo.yaml", d);
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_NE(run.err.find("hw.precison: unknown key (did you mean 'precision'?)"), std::string::npos)
      << run.err;
  // Without `precision` the run is the fixed-point one: the same error against float32.
  write("absent.yaml", "");
  write("fixed.yaml", ", precision: fixed");
  const auto absent = run_tool(kTool, "run absent.yaml --json", d);
  const auto fixed = run_tool(kTool, "run fixed.yaml --json", d);
  ASSERT_EQ(absent.exit_code, 0) << absent.err;
  ASSERT_EQ(fixed.exit_code, 0) << fixed.err;
  const auto a = nlohmann::json::parse(absent.out), f = nlohmann::json::parse(fixed.out);
  EXPECT_EQ(a["labels"]["precision"], "fixed");
  EXPECT_GT(f["metrics"]["max_abs_error"].get<double>(), 0.0);
  EXPECT_EQ(a["metrics"]["max_abs_error"], f["metrics"]["max_abs_error"]);
}

}  // namespace
}  // namespace tessel::lstm
