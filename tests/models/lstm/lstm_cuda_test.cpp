// The CUDA persistent kernel and the cuDNN path against the CPU float LSTM (skips without a GPU).
#include "models/lstm/lstm_cuda.h"

#include <gtest/gtest.h>

#include "runtime/core/error.h"

namespace tessel::lstm {
namespace {

struct GpuCase {
  LstmShape shape;
  int batch;
  int steps;
  bool with_initial;
};

// Names the case in test output and ctest names (gtest_discover_tests appends it).
void PrintTo(const GpuCase& k, std::ostream* os) {
  *os << "i" << k.shape.input_size << "_h" << k.shape.hidden_size << "_l" << k.shape.num_layers
      << (k.shape.bidirectional ? "_bi" : "_uni") << "_b" << k.batch
      << (k.with_initial ? "_init" : "");
}

double max_diff(const LstmOutput& a, const LstmOutput& b) {
  double m = 0;
  for (std::size_t t = 0; t < a.y.size(); ++t)
    m = std::max(m, double((a.y[t] - b.y[t]).cwiseAbs().maxCoeff()));
  for (std::size_t k = 0; k < a.final.h.size(); ++k) {
    m = std::max(m, double((a.final.h[k] - b.final.h[k]).cwiseAbs().maxCoeff()));
    m = std::max(m, double((a.final.c[k] - b.final.c[k]).cwiseAbs().maxCoeff()));
  }
  return m;
}

LstmState random_state(const GpuCase& k) {
  LstmState s;
  for (int i = 0; i < k.shape.num_layers * k.shape.directions(); ++i) {
    s.h.push_back(random_sequence(1, k.shape.hidden_size, k.batch, 70 + i, 0.9)[0]);
    s.c.push_back(random_sequence(1, k.shape.hidden_size, k.batch, 80 + i, 2.0)[0]);
  }
  return s;
}

class LstmGpu : public ::testing::TestWithParam<GpuCase> {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  }
};

TEST_P(LstmGpu, PersistentKernelFp32MatchesCpu) {
  const GpuCase& k = GetParam();
  const LstmWeights w = LstmWeights::random(k.shape, 11);
  const Sequence x = random_sequence(k.steps, k.shape.input_size, k.batch, 12);
  const LstmState init = random_state(k);
  const LstmState* ip = k.with_initial ? &init : nullptr;
  const LstmOutput cpu = lstm_forward(w, x, ip);
  CudaLstm gpu(w, k.batch, k.steps, CudaPrecision::kFp32);
  EXPECT_LT(max_diff(gpu.forward(x, ip), cpu), 1e-4);
  // Running again on the same object gives the same answer (state is reset per run).
  EXPECT_LT(max_diff(gpu.forward(x, ip), cpu), 1e-4);
}

TEST_P(LstmGpu, PersistentKernelFp16MatchesCpu) {
  const GpuCase& k = GetParam();
  const LstmWeights w = LstmWeights::random(k.shape, 11);
  const Sequence x = random_sequence(k.steps, k.shape.input_size, k.batch, 12);
  const LstmOutput cpu = lstm_forward(w, x);
  CudaLstm gpu(w, k.batch, k.steps, CudaPrecision::kFp16);
  // Only the weights and layer inputs are fp16 here (h, c and the sums stay fp32): a host
  // emulation of the kernel's rounding on these shapes gave at most 7e-5.
  EXPECT_LT(max_diff(gpu.forward(x), cpu), 1e-3);
}

TEST_P(LstmGpu, CudnnMatchesCpu) {
  if (!cudnn_compiled()) GTEST_SKIP() << "built without cuDNN";
  const GpuCase& k = GetParam();
  const LstmWeights w = LstmWeights::random(k.shape, 11);
  const Sequence x = random_sequence(k.steps, k.shape.input_size, k.batch, 12);
  const LstmState init = random_state(k);
  const LstmState* ip = k.with_initial ? &init : nullptr;
  const LstmOutput cpu = lstm_forward(w, x, ip);
  CudnnLstm gpu(w, k.batch, k.steps, CudaPrecision::kFp32);
  EXPECT_LT(max_diff(gpu.forward(x, ip), cpu), 1e-4);
  CudnnLstm half(w, k.batch, k.steps, CudaPrecision::kFp16);
  EXPECT_LT(max_diff(half.forward(x, ip), cpu), 2e-2);
}

TEST_P(LstmGpu, BackendEnumPicksImplementation) {
  const GpuCase& k = GetParam();
  const LstmWeights w = LstmWeights::random(k.shape, 11);
  const Sequence x = random_sequence(k.steps, k.shape.input_size, k.batch, 12);
  const LstmOutput cpu = lstm_forward(w, x, nullptr, Backend::kCpu);
  EXPECT_LT(max_diff(lstm_forward(w, x, nullptr, Backend::kCuda), cpu), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Shapes, LstmGpu,
                         ::testing::Values(GpuCase{{7, 5, 1, false}, 1, 9, false},
                                           GpuCase{{32, 64, 2, false}, 1, 20, true},
                                           GpuCase{{16, 48, 2, true}, 3, 12, true},
                                           GpuCase{{256, 256, 2, false}, 1, 30, false},
                                           GpuCase{{128, 1024, 1, false}, 1, 10, false},
                                           GpuCase{{64, 1536, 1, false}, 2, 5, true},
                                           // Several batch chunks of 8 per step, and a
                                           // last block with fewer units than the others
                                           // (266 and 1030 units on 132 SMs).
                                           GpuCase{{6, 266, 1, true}, 17, 3, true},
                                           GpuCase{{5, 1030, 1, false}, 9, 4, false}));

// Runs everywhere: without a device the GPU backends report a clear error.
TEST(LstmGpuNoDevice, BackendErrorsWithoutDevice) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  const LstmWeights w = LstmWeights::random({3, 4, 1, false}, 1);
  const Sequence x = random_sequence(2, 3, 1, 2);
  EXPECT_THROW(lstm_forward(w, x, nullptr, Backend::kCuda), Error);
}

}  // namespace
}  // namespace tessel::lstm
