// Faster pre-training (docs/pretraining.md): progressive layer dropping's θ(t) and p_l
// against the formulas, dropped blocks cost no work and get no gradient, executed blocks
// over many steps against Σ p_l, evaluation on the full model; sequence-length warm-up's
// lengths for both DeepSpeed schedules against hand values, the token-counted LR warm-up,
// truncated batches against the same tokens run at that length; token and time accounting
// in eval.jsonl, time and tokens to a target loss, loss spikes and divergence, the log
// line, the configuration errors; the word-level mail corpus on a small archive.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "models/nn/train_report.h"
#include "models/nn/trainer.h"
#include "runtime/core/cpu_time.h"
#include "runtime/core/error.h"
#include "tests/support/ustar.h"

namespace tessel::nn {
namespace {

namespace fs = std::filesystem;
using tessel::testing::ustar_file;

std::string temp_dir(const std::string& name) {
  fs::path p =
      fs::temp_directory_path() / ("tessel_pretraining_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p.string();
}

// A 4-block character model on the synthetic corpus, small enough for hundreds of steps.
const char* kYaml = R"(name: pre
seed: 5
task: lm
data:
  synthetic_chars: 20000
model:
  layers: 4
  width: 16
  heads: 2
  mlp_ratio: 2
train:
  batch_size: 4
  seq_len: 32
  steps: 40
  lr: 3.0e-3
  warmup: 4
  threads: 1
  log_every: 5
eval:
  every: 10
  batches: 2
)";

TrainConfig config_with(const std::string& extra, const std::string& name = "p.yaml") {
  return TrainConfig::from_config(Config::parse(std::string(kYaml) + extra, name));
}

std::vector<nlohmann::json> eval_lines(const std::string& dir) {
  std::ifstream in(fs::path(dir) / "eval.jsonl");
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// --- Progressive layer dropping ---

TEST(Pld, ThetaAndKeepProbabilitiesFollowThePaper) {
  TrainConfig::LayerDrop d;
  d.theta_bar = 0.5;
  d.gamma = 0.001;
  // θ(t) = (1 - θ̄) e^(-γ t) + θ̄: 1 at the start, 0.5 + 0.5/e after 1/γ steps, → θ̄.
  EXPECT_DOUBLE_EQ(pld_theta(d, 0), 1.0);
  EXPECT_NEAR(pld_theta(d, 1000), 0.5 + 0.5 * 0.36787944117144233, 1e-15);
  EXPECT_NEAR(pld_theta(d, 100000), 0.5, 1e-12);
  d.fixed = true;  // the fixed-rate ablation: θ̄ from the first step
  EXPECT_DOUBLE_EQ(pld_theta(d, 0), 0.5);
  EXPECT_DOUBLE_EQ(pld_theta(d, 1000), 0.5);
  // p_l = 1 - (l/L)(1 - θ), l = 1..L: with L = 4 and θ = 0.6, 0.9 0.8 0.7 0.6; the last
  // block's keep probability is θ itself, the first block is never certain to run.
  const double want[] = {0.9, 0.8, 0.7, 0.6};
  for (int l = 1; l <= 4; ++l) EXPECT_NEAR(pld_keep_probability(l, 4, 0.6), want[l - 1], 1e-15);
  EXPECT_DOUBLE_EQ(pld_keep_probability(3, 4, 1.0), 1.0);
}

data::TokenBatch random_batch(int batch, int seq, int vocab, uint64_t seed) {
  Rng rng(seed);
  data::TokenBatch b;
  b.batch = batch;
  b.seq = seq;
  for (int i = 0; i < batch * seq; ++i) {
    b.tokens.push_back(static_cast<int32_t>(rng.next_u64() % vocab));
    b.targets.push_back(static_cast<int32_t>(rng.next_u64() % vocab));
  }
  return b;
}

TransformerConfig small_model() {
  TransformerConfig c;
  c.vocab_size = 11;
  c.max_seq = 8;
  c.layers = 3;
  c.width = 8;
  c.heads = 2;
  c.mlp_ratio = 2;
  return c;
}

// A dropped block is the identity: no forward or backward work (the model's counters) and
// exactly zero gradient; a kept block's factor is used (a model with that block's branch
// weights scaled equals it).
TEST(Pld, DroppedBlockCostsNoWorkAndGetsNoGradient) {
  Transformer<float> m(small_model());
  m.init(2);
  const data::TokenBatch b = random_batch(2, 8, 11, 3);
  StepOptions o;
  o.layer_scale = {1.0, 0.0, 2.0};
  m.params().zero_grad();
  m.forward_backward(b, o);
  EXPECT_EQ(m.blocks_forward(), 2);
  EXPECT_EQ(m.blocks_backward(), 2);
  for (const auto& p : m.params().infos()) {
    double sum = 0;
    for (int64_t k = 0; k < p.size(); ++k)
      sum += std::fabs(m.params().grads()[static_cast<std::size_t>(p.offset + k)]);
    if (p.layer == 1)
      EXPECT_EQ(sum, 0.0) << p.name;
    else
      EXPECT_GT(sum, 0.0) << p.name;
  }
  // Block 1 dropped gives the same loss as a model whose block 1 adds nothing: a branch
  // factor of 0 cannot be expressed as a weight, but zero output projections can.
  Transformer<float> zeroed(small_model());
  zeroed.params().values() = m.params().values();
  for (const char* name : {"h1.w_proj", "h1.b_proj", "h1.w_fc2", "h1.b_fc2"}) {
    const auto& p = zeroed.params().info(zeroed.params().index(name));
    for (int64_t k = 0; k < p.size(); ++k)
      zeroed.params().values()[static_cast<std::size_t>(p.offset + k)] = 0;
  }
  // Block 2's factor 2 doubles its output projections.
  for (const char* name : {"h2.w_proj", "h2.b_proj", "h2.w_fc2", "h2.b_fc2"}) {
    const auto& p = zeroed.params().info(zeroed.params().index(name));
    for (int64_t k = 0; k < p.size(); ++k)
      zeroed.params().values()[static_cast<std::size_t>(p.offset + k)] *= 2;
  }
  zeroed.params().prepare_forward();
  EXPECT_NEAR(m.loss(b, o), zeroed.loss(b), 1e-5);
  EXPECT_EQ(m.blocks_forward(), 2 + 2);
  // Evaluation without options runs every block.
  m.loss(b);
  EXPECT_EQ(m.blocks_forward(), 4 + 3);
  EXPECT_EQ(m.blocks_backward(), 2);
}

// Over many steps the blocks that ran (counted by the model) match Σ_t Σ_l p_l(t) within a
// binomial bound: each block of each step is an independent Bernoulli(p_l(t)) draw, so the
// count has variance Σ p(1 - p); 4 standard deviations. The expected count is recomputed
// here from the formula, independently of the trainer's.
TEST(Pld, ExecutedBlocksMatchTheKeepProbabilities) {
  TrainConfig c = config_with("layer_drop:\n  theta_bar: 0.3\n  gamma: 0.02\n");
  c.steps = 400;
  c.eval_every = 1000;
  Trainer t(c, "");
  const TrainResult r = t.run(nullptr);
  double expected = 0, variance = 0;
  for (int64_t step = 0; step < 400; ++step) {
    const double theta = 0.7 * std::exp(-0.02 * static_cast<double>(step)) + 0.3;
    for (int l = 1; l <= 4; ++l) {
      const double p = 1.0 - l / 4.0 * (1.0 - theta);
      expected += p;
      variance += p * (1 - p);
    }
  }
  EXPECT_NEAR(r.blocks_expected, expected, 1e-9);
  EXPECT_EQ(r.block_slots, 1600);
  // The trainer's count is the model's own (training forward + backward, one each per
  // block run) — the final evaluation adds eval_batches × 4 full forward passes.
  EXPECT_EQ(r.blocks_executed, t.transformer()->blocks_backward());
  EXPECT_EQ(t.transformer()->blocks_forward(), r.blocks_executed + 2 * 4);
  EXPECT_NEAR(static_cast<double>(r.blocks_executed), expected, 4 * std::sqrt(variance))
      << "sigma " << std::sqrt(variance);
  EXPECT_LT(r.blocks_executed, 1600 * 0.75);  // the schedule did drop blocks
  std::printf("  executed %lld of %lld blocks, expected %.1f ± %.1f\n",
              static_cast<long long>(r.blocks_executed), static_cast<long long>(r.block_slots),
              expected, std::sqrt(variance));
}

// Evaluation always runs the full model: the validation loss is the full model's on the
// fixed batches, whatever the layer dropping did in training.
TEST(Pld, EvaluationRunsTheFullModel) {
  TrainConfig c = config_with("layer_drop:\n  theta_bar: 0.2\n  schedule: fixed\n");
  c.steps = 20;
  Trainer t(c, "");
  t.run(nullptr);
  const int64_t before = t.transformer()->blocks_forward();
  const EvalPoint e = t.evaluate();
  EXPECT_EQ(t.transformer()->blocks_forward() - before, 2 * 4);  // 2 batches × 4 blocks
  // Evaluation draws the same fixed windows each time: evaluate() twice agrees.
  EXPECT_DOUBLE_EQ(t.evaluate().val_loss, e.val_loss);
  // The same parameters in a trainer without layer dropping, on the same windows.
  TrainConfig plain = c;
  plain.layer_drop = {};
  Trainer reference(plain, "");
  reference.params().values() = t.params().values();
  EXPECT_NEAR(reference.evaluate().val_loss, e.val_loss, 1e-6);
}

// The ablations: no rescale keeps factor 1 for kept blocks, fixed keeps θ̄ from step 0.
TEST(Pld, AblationsAndMethodNames) {
  EXPECT_EQ(method_name(config_with("")), "baseline");
  EXPECT_EQ(method_name(config_with("layer_drop:\n  theta_bar: 0.5\n")), "pld");
  EXPECT_EQ(method_name(config_with("curriculum:\n  start_seq_len: 8\n  steps: 10\n")), "slw");
  EXPECT_EQ(method_name(config_with(
                "layer_drop:\n  theta_bar: 0.5\ncurriculum:\n  start_seq_len: 8\n  steps: 10\n")),
            "pld+slw");
  EXPECT_EQ(method_name(config_with("layer_drop:\n  schedule: fixed\n")), "pld(fixed)");
  EXPECT_EQ(method_name(config_with("layer_drop:\n  rescale: false\n")), "pld(no-rescale)");
  EXPECT_EQ(method_name(config_with("layer_drop:\n  schedule: fixed\n  rescale: false\n")),
            "pld(fixed,no-rescale)");
  EXPECT_EQ(method_name(config_with("layer_drop:\n  gamma: 0.005\n")), "pld(gamma=0.005)");
  EXPECT_EQ(method_name(config_with("layer_drop:\n  gamma: 0.005\n  rescale: false\n")),
            "pld(no-rescale,gamma=0.005)");
  // Factors seen by the model: 0 or 1 without rescale; 0 or 1/p_l with it.
  for (const bool rescale : {true, false}) {
    TrainConfig c = config_with(std::string("layer_drop:\n  theta_bar: 0.5\n  gamma: 0.5\n") +
                                "  rescale: " + (rescale ? "true" : "false") + "\n");
    c.steps = 12;
    Trainer t(c, "");
    std::vector<double> factors;
    // Wrap the config schedule: record what it draws (the hook replaces it, so draw the
    // same way from the same generator).
    t.layer_scale_schedule = [&](int64_t step, Rng& rng) {
      std::vector<double> s;
      const double theta = pld_theta(t.config().layer_drop, step);
      for (int l = 1; l <= 4; ++l) {
        const double p = pld_keep_probability(l, 4, theta);
        s.push_back(rng.uniform() < p ? (rescale ? 1 / p : 1.0) : 0.0);
        factors.push_back(s.back());
      }
      return s;
    };
    t.run(nullptr);
    bool above_one = false;
    for (double f : factors) {
      EXPECT_TRUE(f == 0 || f >= 1) << f;
      above_one |= f > 1;
    }
    EXPECT_EQ(above_one, rescale);
  }
}

// The hook and the config schedule draw identically: a run with the config schedule and a
// run with a hook that reproduces it by the formula give the same losses.
TEST(Pld, ConfigScheduleIsTheFormula) {
  TrainConfig c = config_with("layer_drop:\n  theta_bar: 0.4\n  gamma: 0.1\n");
  c.steps = 15;
  Trainer a(c, "");
  const TrainResult ra = a.run(nullptr);
  Trainer b(c, "");
  b.layer_scale_schedule = [&](int64_t step, Rng& rng) {
    const double theta = 0.6 * std::exp(-0.1 * static_cast<double>(step)) + 0.4;
    std::vector<double> s;
    for (int l = 1; l <= 4; ++l) {
      const double p = 1 - l / 4.0 * (1 - theta);
      s.push_back(rng.uniform() < p ? 1 / p : 0.0);
    }
    return s;
  };
  const TrainResult rb = b.run(nullptr);
  ASSERT_EQ(ra.losses.size(), rb.losses.size());
  for (std::size_t i = 0; i < ra.losses.size(); ++i) EXPECT_EQ(ra.losses[i], rb.losses[i]) << i;
}

// --- Sequence-length warm-up ---

// DeepSpeed's __fixed_root_get_difficulty at global step t + 1, by hand: start 8, full 64,
// T = 10, difficulty step 8.
TEST(Slw, ScheduleLengthsMatchHandValues) {
  TrainConfig::Curriculum lin;
  lin.start = 8;
  lin.steps = 10;
  // fixed_linear: floor(8 + 56 (t+1)/10), minus its remainder mod 8.
  //   t=0: 13.6 → 13 → 8; t=1: 19.2 → 16; t=2: 24.8 → 24; t=3: 30.4 → 24; t=4: 36 → 32;
  //   t=5: 41.6 → 40; t=8: 58.4 → 56; t=9: 64; later 64.
  const int linear[] = {8, 16, 24, 24, 32, 40, 40, 48, 56, 64, 64};
  for (int t = 0; t <= 10; ++t) EXPECT_EQ(slw_seq_len(lin, 64, t), linear[t]) << "t=" << t;
  EXPECT_EQ(slw_seq_len(lin, 64, 1000000), 64);
  TrainConfig::Curriculum root = lin;
  root.schedule = "fixed_root";
  root.root_degree = 2;
  // fixed_root, degree 2: floor(8 + 56 sqrt((t+1)/10)) minus its remainder mod 8.
  //   t=0: 8 + 17.71 = 25.7 → 24; t=1: 8 + 25.04 → 32; t=4: 8 + 39.60 = 47.6 → 40;
  //   t=8: 8 + 53.13 = 61.1 → 56; t=9: 64.
  EXPECT_EQ(slw_seq_len(root, 64, 0), 24);
  EXPECT_EQ(slw_seq_len(root, 64, 1), 32);
  EXPECT_EQ(slw_seq_len(root, 64, 4), 40);
  EXPECT_EQ(slw_seq_len(root, 64, 8), 56);
  EXPECT_EQ(slw_seq_len(root, 64, 9), 64);
  // The root schedule runs ahead of the linear one (longer sooner), never behind.
  for (int t = 0; t < 10; ++t) EXPECT_GE(slw_seq_len(root, 64, t), slw_seq_len(lin, 64, t));
  // Another difficulty step: 16.
  TrainConfig::Curriculum coarse = lin;
  coarse.start = 16;
  coarse.difficulty_step = 16;
  EXPECT_EQ(slw_seq_len(coarse, 64, 0), 16);  // 16 + 4.8 → 20 → 16
  EXPECT_EQ(slw_seq_len(coarse, 64, 4), 32);  // 16 + 24 = 40 → 32
}

// The LR warm-up of a curriculum run lasts warmup × batch × seq_len tokens: with batch 4,
// seq_len 32 and 4 warm-up steps, 512 tokens. Lengths from start 8 over 10 steps (32 is the
// full length; floor(8 + 24 (t+1)/10) down to a multiple of 8): 8, 8, 8, 16, 16, 16, 24,
// 24, 24, 32 → tokens 32, 64, 96, 160, 224, 288, 384, 480, 576: 9 warm-up steps.
TEST(Slw, LearningRateWarmUpCountsTokens) {
  const TrainConfig c = config_with("curriculum:\n  start_seq_len: 8\n  steps: 10\n");
  std::vector<int> lengths;
  for (int t = 0; t < 10; ++t) lengths.push_back(slw_seq_len(c.curriculum, 32, t));
  EXPECT_EQ(lengths, (std::vector<int>{8, 8, 8, 16, 16, 16, 24, 24, 24, 32}));
  EXPECT_EQ(slw_warmup_tokens(c), (std::vector<int64_t>{32, 64, 96, 160, 224, 288, 384, 480, 576}));
  EXPECT_EQ(describe_schedule(c),
            "schedule: lr 3.00e-03, linear warm-up over 512 tokens (4 full-length steps; 9 "
            "steps at the curriculum's lengths), then cosine decay to 3.00e-04 by step 40");
  // lr_warmup: steps keeps the step-counted warm-up.
  const TrainConfig s =
      config_with("curriculum:\n  start_seq_len: 8\n  steps: 10\n  lr_warmup: steps\n");
  EXPECT_TRUE(slw_warmup_tokens(s).empty());
  EXPECT_EQ(describe_schedule(s),
            "schedule: lr 3.00e-03, linear warm-up over 4 steps, then cosine decay to 3.00e-04 "
            "by step 40");
  // The learning rate of the log's step lines: during the warm-up lr × tokens / 512.
  TrainConfig run = c;
  run.steps = 10;
  run.log_every = 1;
  Trainer t(run, "");
  std::ostringstream log;
  t.run(&log);
  std::vector<double> lrs;
  const std::regex lr_re("  lr ([0-9.e+-]+)  ");
  std::istringstream in(log.str());
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (line.rfind("step ", 0) == 0 && std::regex_search(line, m, lr_re))
      lrs.push_back(std::stod(m[1]));
  }
  ASSERT_GE(lrs.size(), 10u) << log.str();
  // The log prints 3 significant digits.
  const double through[] = {32, 64, 96, 160, 224, 288, 384, 480};
  for (int i = 0; i < 8; ++i)
    EXPECT_NEAR(lrs[static_cast<std::size_t>(i)], 3e-3 * through[i] / 512,
                3e-3 * through[i] / 512 * 0.006)
        << i;
  EXPECT_NEAR(lrs[8], 3e-3, 1e-5);  // the last warm-up step reaches the peak
  EXPECT_NEAR(lrs[9], 3e-3, 1e-5);  // the decay starts after the 9 warm-up steps, at lr
}

// A truncated batch's loss is the loss of the same tokens run at that length directly: the
// first s inputs and targets of each window, in a model whose context is s (the same
// parameters, the position table cut to s rows).
TEST(Slw, TruncatedBatchEqualsTheSameTokensAtThatLength) {
  TransformerConfig full_cfg = small_model();
  full_cfg.max_seq = 8;
  Transformer<double> full(full_cfg);
  full.init(9);
  const data::TokenBatch b = random_batch(3, 8, 11, 10);
  const int s = 5;
  const data::TokenBatch cut = b.truncated(s);
  // The same tokens written out directly.
  data::TokenBatch direct;
  direct.batch = 3;
  direct.seq = s;
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < s; ++i) {
      direct.tokens.push_back(b.tokens[static_cast<std::size_t>(r * 8 + i)]);
      direct.targets.push_back(b.targets[static_cast<std::size_t>(r * 8 + i)]);
    }
  EXPECT_EQ(cut.tokens, direct.tokens);
  EXPECT_EQ(cut.targets, direct.targets);
  TransformerConfig short_cfg = full_cfg;
  short_cfg.max_seq = s;
  Transformer<double> shorter(short_cfg);
  // Copy every parameter; wpe keeps its first s rows.
  for (const auto& p : shorter.params().infos()) {
    const auto& q = full.params().info(full.params().index(p.name));
    for (int64_t k = 0; k < p.size(); ++k)
      shorter.params().values()[static_cast<std::size_t>(p.offset + k)] =
          full.params().values()[static_cast<std::size_t>(q.offset + k)];
  }
  shorter.params().prepare_forward();
  const double l_cut = full.loss(cut), l_direct = shorter.loss(direct);
  EXPECT_NEAR(l_cut, l_direct, 1e-12);
  // And the truncated loss is not the full-length loss (the check has teeth).
  EXPECT_GT(std::fabs(full.loss(b) - l_cut), 1e-4);
}

// Token accounting: a step at length s costs batch × s tokens; eval.jsonl carries the
// cumulative tokens, wall time and time in steps at each evaluation, and the sequence
// length of the last step.
TEST(Slw, TokensAndTimesInTheEvalLog) {
  TrainConfig c = config_with("curriculum:\n  start_seq_len: 8\n  steps: 10\n");
  c.steps = 20;
  c.eval_every = 5;
  const std::string dir = temp_dir("tokens");
  Trainer t(c, dir);
  double now = 0;
  t.clock = [&] { return now; };
  t.on_step_end = [&](int64_t, ParamStore<float>&) { now += 0.5; };
  t.on_eval = [&](const EvalPoint&) { now += 10; };
  const TrainResult r = t.run(nullptr);
  int64_t want = 0;
  std::vector<int64_t> at_eval;
  for (int step = 0; step < 20; ++step) {
    want += 4 * slw_seq_len(c.curriculum, 32, step);
    if ((step + 1) % 5 == 0) at_eval.push_back(want);
  }
  EXPECT_EQ(r.tokens, want);
  EXPECT_EQ(r.tokens_total, want);
  EXPECT_LT(want, 20 * 4 * 32);
  const auto lines = eval_lines(dir);
  ASSERT_EQ(lines.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(lines[i].at("step"), 5 * (i + 1));
    EXPECT_EQ(lines[i].at("tokens").get<int64_t>(), at_eval[static_cast<std::size_t>(i)]);
    // 0.5 s per step; each earlier evaluation took 10 s of wall time, none of step time.
    EXPECT_DOUBLE_EQ(lines[i].at("train_s").get<double>(), 2.5 * (i + 1));
    EXPECT_DOUBLE_EQ(lines[i].at("wall_s").get<double>(), 2.5 * (i + 1) + 10 * i);
    // The process's CPU time so far (a real clock, not the test's): it only grows.
    EXPECT_GT(lines[i].at("cpu_s").get<double>(), 0);
    if (i > 0) {
      EXPECT_GE(lines[i].at("cpu_s").get<double>(), lines[i - 1].at("cpu_s").get<double>());
    }
  }
  EXPECT_EQ(lines[3].at("seq_len"), 32);
  EXPECT_EQ(lines[0].at("seq_len"), slw_seq_len(c.curriculum, 32, 4));
  fs::remove_all(dir);
}

// --- Target, spikes, divergence, resumption, the log ---

TEST(PretrainTarget, FirstEvaluationAtOrBelowTheTarget) {
  TrainConfig c = config_with("curriculum:\n  start_seq_len: 8\n  steps: 10\n");
  c.steps = 20;
  c.eval_every = 5;
  c.target_loss = 100;  // the first evaluation reaches it
  Trainer t(c, "");
  const TrainResult r = t.run(nullptr);
  ASSERT_TRUE(r.reached_target);
  EXPECT_EQ(r.target.step, 5);
  int64_t tokens = 0;
  for (int step = 0; step < 5; ++step) tokens += 4 * slw_seq_len(c.curriculum, 32, step);
  EXPECT_EQ(r.target.tokens, tokens);
  EXPECT_DOUBLE_EQ(r.target.val_loss, r.evals[0].val_loss);
  EXPECT_DOUBLE_EQ(r.target.cpu_s, r.evals[0].cpu_s);
  EXPECT_GT(r.target.cpu_s, 0);
  // A target between the first and the last evaluation: the first one at or below it.
  c.target_loss = (r.evals[0].val_loss + r.evals.back().val_loss) / 2;
  Trainer t2(c, "");
  const TrainResult r2 = t2.run(nullptr);
  ASSERT_TRUE(r2.reached_target);
  std::size_t first = 0;
  while (r2.evals[first].val_loss > c.target_loss) ++first;
  EXPECT_EQ(r2.target.step, r2.evals[first].step);
  EXPECT_GT(r2.target.step, 5);
  // Never reached.
  c.target_loss = 1e-6;
  Trainer t3(c, "");
  EXPECT_FALSE(t3.run(nullptr).reached_target);
}

// Spikes through the logit_loss seam, which sets the loss the trainer sees: steps 30-32
// report 10× the loss (one spike of 3 steps), step 36 2× (another), step 5 10× but inside
// the warm-up of 20 steps (not counted).
TEST(PretrainStability, SpikesAreCountedAfterTheWarmUp) {
  TrainConfig c = config_with("stability:\n  spike_warmup: 20\n");
  Trainer t(c, "");
  int64_t call = 0;
  t.transformer()->logit_loss = [&](const data::TokenBatch&, const Matrix<float>&, float loss,
                                    Matrix<float>&) {
    const int64_t step = call++;
    if (step == 5 || (step >= 30 && step <= 32)) return loss * 10;
    if (step == 36) return loss * 2;
    return loss;
  };
  const TrainResult r = t.run(nullptr);
  EXPECT_EQ(r.loss_spikes, 2);
  EXPECT_EQ(r.spike_steps, 4);
  EXPECT_FALSE(r.diverged);
}

TEST(PretrainStability, DivergenceStopsOrFails) {
  for (const bool nan : {true, false}) {
    TrainConfig c = config_with("stability:\n  on_divergence: stop\n  divergence_loss: 50\n");
    const std::string dir = temp_dir("diverge");
    Trainer t(c, dir);
    int64_t call = 0;
    t.transformer()->logit_loss = [&](const data::TokenBatch&, const Matrix<float>&, float loss,
                                      Matrix<float>&) {
      return call++ == 13 ? (nan ? std::numeric_limits<float>::quiet_NaN() : 60.0f) : loss;
    };
    std::ostringstream log;
    const TrainResult r = t.run(&log);
    EXPECT_TRUE(r.diverged);
    EXPECT_EQ(r.diverged_step, 14);
    EXPECT_EQ(r.steps, 13);  // the diverging step's update was not applied
    EXPECT_NE(log.str().find("stopping: diverged at step 14"), std::string::npos) << log.str();
    const auto summary = nlohmann::json::parse(std::ifstream(fs::path(dir) / "summary.json"));
    EXPECT_EQ(summary.at("diverged"), true);
    EXPECT_EQ(eval_lines(dir).size(), 1u);  // the evaluation at step 10
    fs::remove_all(dir);
  }
  // The default: the run fails, naming the bound.
  TrainConfig c = config_with("stability:\n  divergence_loss: 50\n");
  Trainer t(c, "");
  t.transformer()->logit_loss = [](const data::TokenBatch&, const Matrix<float>&, float,
                                   Matrix<float>&) { return 60.0f; };
  try {
    t.run(nullptr);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("above stability.divergence_loss"), std::string::npos)
        << e.what();
  }
}

// A resumed run continues the totals: tokens, blocks, target and the eval log's tokens equal
// an uninterrupted run's.
TEST(PretrainTotals, ResumedRunContinuesTheCounts) {
  TrainConfig c = config_with(
      "curriculum:\n  start_seq_len: 8\n  steps: 10\nlayer_drop:\n  theta_bar: 0.5\n  gamma: "
      "0.05\n");
  c.steps = 20;
  c.target_loss = 100;
  const std::string a = temp_dir("straight"), b = temp_dir("resumed");
  Trainer straight(c, a);
  const TrainResult ra = straight.run(nullptr);
  double first_cpu = 0, first_wall = 0;
  {
    Trainer first(c, b);
    const TrainResult r1 = first.run(nullptr, 7);
    first_cpu = r1.cpu_total_s;
    first_wall = r1.wall_total_s;
  }
  Trainer second(c, b);
  ASSERT_TRUE(second.resume());
  const TrainResult rb = second.run(nullptr);
  EXPECT_EQ(rb.tokens_total, ra.tokens_total);
  EXPECT_LT(rb.tokens, ra.tokens);  // this session's part
  // Times continue too: the checkpoint carries the first session's CPU and wall time.
  EXPECT_GT(first_cpu, 0);
  EXPECT_GT(rb.cpu_total_s, first_cpu);
  // (Totals run to the last step; this session's train_seconds also holds the final
  // evaluation.)
  EXPECT_GT(rb.wall_total_s, first_wall);
  EXPECT_LE(rb.wall_total_s - first_wall, rb.train_seconds + 1e-9);
  // The result reports the whole training (what an uninterrupted run reports), and this
  // session's part beside it.
  SimResult report;
  report_training(second, rb, true, process_cpu_seconds(), "", report);
  EXPECT_EQ(report.metrics.at("tokens"), static_cast<double>(ra.tokens_total));
  EXPECT_EQ(report.metrics.at("session_tokens"), static_cast<double>(rb.tokens));
  EXPECT_EQ(report.metrics.at("cpu_s"), rb.cpu_total_s);
  EXPECT_EQ(rb.blocks_executed, ra.blocks_executed);
  EXPECT_NEAR(rb.blocks_expected, ra.blocks_expected, 1e-9);
  EXPECT_EQ(rb.reached_target, ra.reached_target);
  EXPECT_EQ(rb.target.tokens, ra.target.tokens);
  const auto la = eval_lines(a), lb = eval_lines(b);
  ASSERT_EQ(la.size(), lb.size());
  for (std::size_t i = 0; i < la.size(); ++i) EXPECT_EQ(la[i].at("tokens"), lb[i].at("tokens"));
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST(PretrainProgress, LogShowsSequenceLengthAndKeepProbability) {
  TrainConfig c = config_with(
      "curriculum:\n  start_seq_len: 8\n  steps: 10\nlayer_drop:\n  theta_bar: 0.5\n  gamma: "
      "0.1\n");
  c.steps = 10;
  Trainer t(c, "");
  std::ostringstream log;
  t.run(&log);
  const std::string s = log.str();
  EXPECT_NE(s.find("layer_drop: theta(t) = (1 - 0.5) exp(-0.1 t) + 0.5, block l kept with p_l = "
                   "1 - (l/4)(1 - theta(t)), l = 1..4, scaled 1/p_l"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("curriculum: fixed_linear, sequence length 8 -> 32 over 10 steps in "
                   "multiples of 8, batches truncated; LR warm-up counted in tokens"),
            std::string::npos)
      << s;
  // Step 5 ran at slw_seq_len(t = 4) = 16 with θ(4) = 0.5 + 0.5 e^-0.4 = 0.835.
  const std::regex line_re(
      "step 5/10  loss [0-9.]+  lr [0-9.e+-]+  [0-9]+ tok/s  ETA [0-9a-z]+  "
      "seq 16  keep 0\\.835");
  EXPECT_TRUE(std::regex_search(s, line_re)) << s;
}

// --- Configuration errors (file:line:col: key: message) ---

// kYaml with `extra` appended (or, for keys of its eval: section, inserted there).
void expect_config_error(const std::string& extra, const std::string& where,
                         const std::string& what) {
  try {
    if (extra.rfind("eval:\n", 0) == 0) {
      std::string yaml = kYaml;
      yaml.replace(yaml.find("eval:\n"), 6, extra);
      TrainConfig::from_config(Config::parse(yaml, "p.yaml"));
    } else {
      config_with(extra, "p.yaml");
    }
    ADD_FAILURE() << "no error for " << extra;
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_TRUE(std::regex_search(m, std::regex("p\\.yaml:[0-9]+:[0-9]+: " + where))) << m;
    EXPECT_NE(m.find(what), std::string::npos) << m;
  }
}

TEST(PretrainConfig, BadMethodKeysAreConfigErrorsWithLocation) {
  expect_config_error("layer_drop:\n  theta_bar: 0\n", "layer_drop\\.theta_bar", "(0, 1]");
  expect_config_error("layer_drop:\n  theta_bar: 1.5\n", "layer_drop\\.theta_bar", "(0, 1]");
  expect_config_error("layer_drop:\n  gamma: -0.001\n", "layer_drop\\.gamma", ">= 0");
  expect_config_error("layer_drop:\n  schedule: linear\n", "layer_drop\\.schedule", "progressive");
  expect_config_error("layer_drop:\n  schedule: fixed\n  gamma: 0.1\n", "layer_drop\\.gamma",
                      "not used");
  expect_config_error("curriculum:\n  start_seq_len: 40\n  steps: 10\n",
                      "curriculum\\.start_seq_len", "exceeds the model's context");
  expect_config_error("curriculum:\n  start_seq_len: 12\n  steps: 10\n",
                      "curriculum\\.start_seq_len", "not a multiple of difficulty_step 8");
  expect_config_error("curriculum:\n  start_seq_len: 8\n  steps: 0\n", "curriculum\\.steps",
                      "positive integer");
  expect_config_error("curriculum:\n  start_seq_len: 8\n  steps: 10\n  schedule: fixed_discrete\n",
                      "curriculum\\.schedule", "fixed_linear");
  expect_config_error("curriculum:\n  start_seq_len: 8\n  steps: 10\n  root_degree: 2\n",
                      "curriculum\\.root_degree", "only schedule fixed_root");
  expect_config_error(
      "curriculum:\n  start_seq_len: 8\n  steps: 10\n  schedule: fixed_root\n  root_degree: 0\n",
      "curriculum\\.root_degree", "from 1 to 100");
  expect_config_error("curriculum:\n  start_seq_len: 10\n  steps: 10\n  difficulty_step: 5\n",
                      "curriculum\\.difficulty_step", "train.seq_len 32 is not a multiple of 5");
  expect_config_error("curriculum:\n  start_seq_len: 8\n  steps: 10\n  lr_warmup: epochs\n",
                      "curriculum\\.lr_warmup", "tokens");
  expect_config_error("eval:\n  target_loss: -1\n", "eval\\.target_loss", "positive");
  expect_config_error("stability:\n  on_divergence: ignore\n", "stability\\.on_divergence", "fail");
  expect_config_error("stability:\n  spike_factor: 0.5\n", "stability\\.spike_factor", "from 1");
}

// The shipped pre-training workloads parse (and are workloads: no seed of their own).
// PLD's paper baseline: the post-LN layout, which cannot drop blocks.
TEST(PretrainConfig, PostLayerNormIsTheBaselineLayoutOnly) {
  // kYaml with `model.layout` set (and `train.backend` when given), then `extra`.
  auto parse = [](const std::string& layout, const std::string& extra,
                  const std::string& backend = "") {
    std::string yaml = kYaml;
    yaml.replace(yaml.find("  mlp_ratio: 2\n"), 14, "  mlp_ratio: 2\n  layout: " + layout + "\n");
    if (!backend.empty())
      yaml.replace(yaml.find("  threads: 1\n"), 13, "  threads: 1\n  backend: " + backend + "\n");
    return TrainConfig::from_config(Config::parse(yaml + extra, "p.yaml"));
  };
  EXPECT_EQ(config_with("").model.norm, Norm::kPreLN);
  EXPECT_EQ(parse("pre_ln", "").model.norm, Norm::kPreLN);
  EXPECT_EQ(parse("post_ln", "").model.norm, Norm::kPostLN);
  EXPECT_EQ(parse("post_ln", "", "cuda").backend, "cuda");  // both backends run it
  EXPECT_EQ(method_name(parse("post_ln", "")), "baseline(post-ln)");
  EXPECT_EQ(method_name(parse("post_ln", "curriculum:\n  start_seq_len: 8\n  steps: 10\n")),
            "slw(post-ln)");
  struct Case {
    std::string layout, extra, backend, where, what;
  };
  for (const Case& c :
       std::vector<Case>{{"post_ln", "layer_drop:\n  theta_bar: 0.5\n", "", "layer_drop",
                          "needs model.layout pre_ln"},
                         {"post_ln", "trace:\n  step: 3\n", "", "trace\\.step", "pre-LN"},
                         {"sandwich", "", "", "model\\.layout", "pre_ln"}}) {
    try {
      parse(c.layout, c.extra, c.backend);
      ADD_FAILURE() << "no error for layout " << c.layout << " with " << c.extra << c.backend;
    } catch (const ConfigError& e) {
      const std::string m = e.what();
      EXPECT_TRUE(std::regex_search(m, std::regex("p\\.yaml:[0-9]+:[0-9]+: " + c.where))) << m;
      EXPECT_NE(m.find(c.what), std::string::npos) << m;
    }
  }
}

TEST(PretrainConfig, ShippedPretrainingWorkloadsParse) {
  int n = 0;
  for (const auto& e :
       fs::directory_iterator(std::string(TESSEL_SOURCE_DIR) + "/configs/workloads/pretraining")) {
    if (e.path().extension() != ".yaml") continue;
    EXPECT_NO_THROW(TrainConfig::from_experiment_workload(Config::load(e.path().string())))
        << e.path();
    ++n;
  }
  EXPECT_GE(n, 4);
}

// --- The word-level mail corpus (data.documents with task lm) ---

TEST(MailCorpus, WordLevelLanguageModelOnASmallArchive) {
  // 30 ham and 30 spam messages: headers, a subject, mixed-case words, a base64 line.
  const char* ham_words[] = {"Meeting", "tomorrow", "at", "noon", "about", "the", "Project"};
  const char* spam_words[] = {"FREE", "money", "click", "here", "now", "WIN", "cash"};
  std::string tar;
  for (int i = 0; i < 60; ++i) {
    const bool spam = i % 2;
    std::string body;
    for (int w = 0; w < 40; ++w) {
      body += (spam ? spam_words : ham_words)[(i * 3 + w * 5) % 7];
      body += w % 8 == 7 ? "\n" : " ";
    }
    body += "ref" + std::to_string(i) + "\n";  // no two messages alike (no duplicate groups)
    body += std::string(76, 'Q') + "\n";       // a base64-like line: dropped
    char name[64];
    std::snprintf(name, sizeof name, "corpus/%s/%05d.%032d.txt", spam ? "spam-1" : "easy-ham-1", i,
                  i);
    tar += ustar_file(name, "From: someone@example.com\nSubject: Hello THERE\n\n" + body);
  }
  tar += std::string(1024, '\0');
  const std::string dir = temp_dir("mail");
  fs::create_directories(dir);
  const std::string archive = dir + "/mail.tar";
  std::ofstream(archive, std::ios::binary) << tar;
  const std::string yaml =
      "task: lm\nseed: 2\ndata:\n  documents: spamassassin\n  archive: " + archive +
      "\n  val_fraction: 0.2\n  test_fraction: 0.2\n  word_vocab: 12\n"
      "model:\n  layers: 2\n  width: 16\n  heads: 2\ntrain:\n"
      "  batch_size: 4\n  seq_len: 16\n  steps: 30\n  lr: 3.0e-3\n"
      "  threads: 1\neval:\n  every: 30\n  batches: 2\n";
  const TrainConfig c = TrainConfig::from_config(Config::parse(yaml, "m.yaml"));
  EXPECT_EQ(c.tokenizer, "word");  // the default for documents
  Trainer t(c, dir + "/out");
  ASSERT_NE(t.document_split(), nullptr);
  EXPECT_EQ(t.document_split()->test.size(), 12u);  // 20% of 30 per class
  // Vocabulary: <unk> and the 11 most frequent training tokens, all lower case; the
  // subject line and the base64 line are not text.
  ASSERT_EQ(t.tokenizer()->vocab_size(), 12);
  const auto* words = dynamic_cast<const data::WordTokenizer*>(t.tokenizer());
  ASSERT_NE(words, nullptr);
  EXPECT_EQ(words->word(0), "<unk>");
  for (int i = 1; i < 12; ++i) {
    const std::string& w = words->word(i);
    for (const char ch : w) EXPECT_FALSE(std::isupper(static_cast<unsigned char>(ch))) << w;
    EXPECT_NE(w, "hello");
    EXPECT_EQ(w.find("QQQQ"), std::string::npos);
  }
  const TrainResult r = t.run(nullptr);
  EXPECT_NEAR(r.losses[0], std::log(12.0), 0.3);
  EXPECT_LT(r.evals.back().val_loss, r.losses[0]);
  EXPECT_GT(r.test_loss, 0);
  EXPECT_TRUE(fs::exists(dir + "/out/split.txt"));
  const auto summary = nlohmann::json::parse(std::ifstream(dir + "/out/summary.json"));
  EXPECT_EQ(summary.at("split_hash"), t.split_hash());
  EXPECT_EQ(summary.at("split").at("test"), 12);
  EXPECT_DOUBLE_EQ(summary.at("test_loss").get<double>(), r.test_loss);
  // data.corpus with data.documents is an error.
  EXPECT_THROW(TrainConfig::from_config(Config::parse(
                   "task: lm\ndata:\n  documents: spamassassin\n  archive: a.tar\n  corpus: x\n"
                   "model:\n  layers: 1\n  width: 8\n  heads: 2\ntrain:\n  batch_size: 2\n"
                   "  seq_len: 8\n  steps: 1\n  lr: 1.0e-3\n",
                   "m.yaml")),
               ConfigError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tessel::nn
