// Float LSTM against an independent double-precision scalar LSTM (PyTorch nn.LSTM semantics).
#include "models/lstm/lstm.h"

#include <gtest/gtest.h>

#include "runtime/core/error.h"
#include "tests/models/lstm/reference.h"

namespace tessel::lstm {
namespace {

struct Case {
  LstmShape shape;
  int batch;
  int steps;
  bool with_initial;
};

// Names the case in test output and ctest names (gtest_discover_tests appends it).
void PrintTo(const Case& k, std::ostream* os) {
  *os << "i" << k.shape.input_size << "_h" << k.shape.hidden_size << "_l" << k.shape.num_layers
      << (k.shape.bidirectional ? "_bi" : "_uni") << "_b" << k.batch
      << (k.with_initial ? "_init" : "");
}

class LstmFloat : public ::testing::TestWithParam<Case> {};

TEST_P(LstmFloat, MatchesDoubleScalarReference) {
  const Case& k = GetParam();
  const LstmWeights w = LstmWeights::random(k.shape, 42);
  const Sequence x = random_sequence(k.steps, k.shape.input_size, k.batch, 43);
  LstmState init;
  ref::Seq3 h0, c0;
  const int states = k.shape.num_layers * k.shape.directions();
  if (k.with_initial) {
    for (int s = 0; s < states; ++s) {
      init.h.push_back(random_sequence(1, k.shape.hidden_size, k.batch, 100 + s, 0.9)[0]);
      init.c.push_back(random_sequence(1, k.shape.hidden_size, k.batch, 200 + s, 3.0)[0]);
      h0.push_back(ref::to_seq3({init.h.back()})[0]);
      c0.push_back(ref::to_seq3({init.c.back()})[0]);
    }
  }
  const LstmOutput out = lstm_forward(w, x, k.with_initial ? &init : nullptr);
  ref::Seq3 hn, cn;
  const ref::Seq3 y = ref::scalar_lstm(w, ref::to_seq3(x), k.with_initial ? &h0 : nullptr,
                                       k.with_initial ? &c0 : nullptr, hn, cn);
  ASSERT_EQ(out.y.size(), y.size());
  const int width = k.shape.directions() * k.shape.hidden_size;
  double max_err = 0;
  for (std::size_t t = 0; t < y.size(); ++t) {
    ASSERT_EQ(out.y[t].rows(), width);
    ASSERT_EQ(out.y[t].cols(), k.batch);
    for (int b = 0; b < k.batch; ++b)
      for (int j = 0; j < width; ++j)
        max_err = std::max(max_err, std::fabs(out.y[t](j, b) - y[t][b][j]));
  }
  for (int s = 0; s < states; ++s)
    for (int b = 0; b < k.batch; ++b)
      for (int j = 0; j < k.shape.hidden_size; ++j) {
        max_err = std::max(max_err, std::fabs(out.final.h[s](j, b) - hn[s][b][j]));
        max_err = std::max(max_err, std::fabs(out.final.c[s](j, b) - cn[s][b][j]));
      }
  EXPECT_LT(max_err, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Shapes, LstmFloat,
                         ::testing::Values(Case{{5, 7, 1, false}, 1, 9, false},
                                           Case{{3, 8, 1, false}, 4, 6, true},
                                           Case{{4, 6, 2, true}, 3, 7, true},
                                           Case{{16, 32, 3, false}, 2, 12, false},
                                           Case{{6, 5, 2, true}, 1, 10, false}));

// The final h of each direction equals the matching slice of y (PyTorch's h_n layout):
// forward at the last step, reverse at the first.
TEST(LstmFloatLayout, FinalStateMatchesOutputSlices) {
  const LstmShape shape{3, 4, 1, true};
  const LstmWeights w = LstmWeights::random(shape, 5);
  const Sequence x = random_sequence(6, 3, 2, 6);
  const LstmOutput out = lstm_forward(w, x);
  EXPECT_TRUE(out.final.h[0].isApprox(out.y.back().topRows(4)));
  EXPECT_TRUE(out.final.h[1].isApprox(out.y.front().bottomRows(4)));
}

TEST(LstmFloatLayout, StackedSequenceIsTheSameInput) {
  // The stacked view ([features, steps * batch], what a NumPy (steps, batch, features)
  // buffer is) gives exactly the per-step sequence's result, two layers, both directions.
  const LstmWeights w = LstmWeights::random({3, 4, 2, true}, 5);
  const Sequence x = random_sequence(5, 3, 2, 6);
  Eigen::MatrixXf xs(3, 10);
  for (int t = 0; t < 5; ++t) xs.middleCols(2 * t, 2) = x[t];
  const LstmOutput a = lstm_forward(w, x);
  const LstmOutput b = lstm_forward(w, Eigen::Map<const Eigen::MatrixXf>(xs.data(), 3, 10), 5);
  ASSERT_EQ(b.y.size(), 5u);
  for (int t = 0; t < 5; ++t) EXPECT_TRUE(a.y[t] == b.y[t]) << t;
  for (int k = 0; k < 4; ++k) EXPECT_TRUE(a.final.c[k] == b.final.c[k]) << k;
  EXPECT_THROW(lstm_forward(w, xs, 3), ConfigError);  // 10 columns are not 3 steps
}

TEST(LstmFloatLayout, RejectsWrongInputShape) {
  const LstmWeights w = LstmWeights::random({3, 4, 1, false}, 5);
  const Sequence x = random_sequence(2, 5, 1, 6);
  try {
    lstm_forward(w, x);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "lstm: input at step 0: expected shape [3, 1], got [5, 1]");
  }
}

}  // namespace
}  // namespace tessel::lstm
