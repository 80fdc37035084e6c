// Error study: fixed-point vs float32 LSTM h over 100 steps, hidden 256..2048.
// Weights at PyTorch's init scale; the numbers are quoted in docs/lstm_kernels.md.
#include <cstdio>

#include <gtest/gtest.h>

#include "models/lstm/lstm_fixed.h"

namespace tessel::lstm {
namespace {

class ErrorStudy : public ::testing::TestWithParam<int> {};

TEST_P(ErrorStudy, FixedTracksFloatOver100Steps) {
  const int hid = GetParam();
  const int steps = 100;
  const LstmShape shape{hid, hid, 1, false};
  const LstmWeights w = LstmWeights::random(shape, 2024);
  const Sequence x = random_sequence(steps, hid, 1, 2025);
  const LstmOutput f = lstm_forward(w, x);
  const FixedLstmOutput q = fixed_lstm_forward(quantize_weights(w), quantize_sequence(x));
  double max_all = 0, sum_all = 0, max_last = 0, sum_last = 0, h_rms = 0;
  for (int t = 0; t < steps; ++t) {
    const Eigen::ArrayXXf err = (dequantize(q.y[t], fixed::kActFormat) - f.y[t]).array().abs();
    max_all = std::max(max_all, double(err.maxCoeff()));
    sum_all += err.sum();
    if (t == steps - 1) {
      max_last = err.maxCoeff();
      sum_last = err.sum();
      h_rms = std::sqrt(f.y[t].squaredNorm() / hid);
    }
  }
  const double mean_all = sum_all / (double(steps) * hid);
  const double c_err =
      (dequantize(q.final.c[0], fixed::kCellFormat) - f.final.c[0]).cwiseAbs().maxCoeff();
  std::printf("| %5d | %.2e | %.2e | %.2e | %.2e | %.2e | %.3f |\n", hid, max_all, mean_all,
              max_last, sum_last / hid, c_err, h_rms);
  // Bounds from docs/lstm_kernels.md: well under one percent of |h| <= 1.
  EXPECT_LT(max_all, 3e-3);
  EXPECT_LT(mean_all, 3e-4);
}

INSTANTIATE_TEST_SUITE_P(Hidden, ErrorStudy, ::testing::Values(256, 512, 1024, 1536, 2048));

}  // namespace
}  // namespace tessel::lstm
