// The trainer with OpenMP on: a model large enough that every parallel loop of the layers
// (their `if` thresholds), the loss and AdamW runs on two threads, checked against the same
// run on one thread (whose numbers trajectory_anchor_test.cpp checks against NumPy). The
// other trainer tests use `threads: 1`, so this is the test that gives ThreadSanitizer (the
// tsan preset, docs/hardening.md) the trainer's threaded paths.
#include <gtest/gtest.h>

#include <string>

#include "models/nn/trainer.h"

namespace tessel::nn {
namespace {

// 16 x 64 tokens = 1024 rows: rows x width 64 = 65536 > 32768 (layer norm), 1024 x 256 MLP
// values > 65536 (GELU), 16 x 4 heads x 64² = 262144 > 16384 (attention), about 10^5
// parameters > 65536 (AdamW); the cross-entropy's 1024 x vocabulary passes 32768 for a
// vocabulary over 32 characters.
std::string yaml(int threads) {
  return R"(name: threads
seed: 5
task: lm
data:
  synthetic_chars: 40000
  val_fraction: 0.1
model:
  layers: 2
  width: 64
  heads: 4
train:
  batch_size: 16
  seq_len: 64
  steps: 3
  lr: 3.0e-3
  warmup: 1
  threads: )" +
         std::to_string(threads) + R"(
eval:
  every: 3
  batches: 1
)";
}

TEST(TrainerThreads, TwoThreadsTrainLikeOne) {
  auto run = [](int threads) {
    Trainer t(TrainConfig::from_config(Config::parse(yaml(threads), "threads.yaml")), "");
    return t.run(nullptr);
  };
  const TrainResult two = run(2), one = run(1);
  ASSERT_EQ(two.losses.size(), 3u);
  ASSERT_EQ(one.losses.size(), 3u);
  // The parallel reductions (loss, gradient norm) sum in another order: float32 rounding
  // only, far below what one wrong row or a lost update moves (> 1e-3).
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(two.losses[i], one.losses[i], 1e-4) << "step " << i;
  ASSERT_EQ(two.evals.size(), 1u);
  ASSERT_EQ(one.evals.size(), 1u);
  EXPECT_NEAR(two.evals[0].val_loss, one.evals[0].val_loss, 1e-4);
}

}  // namespace
}  // namespace tessel::nn
