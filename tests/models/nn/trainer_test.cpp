// Optimizer and schedule formulas, golden 20-step loss trajectory, checkpoint/resume
// equivalence, config errors, tensor trace lifetimes, MNIST MLP (when the data is there).
#include "models/nn/trainer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "models/nn/checkpoint.h"
#include "runtime/core/error.h"
#include "tests/support/shared_data.h"

namespace tessel::nn {
namespace {

namespace fs = std::filesystem;

std::string temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("tessel_nn_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p.string();
}

// A tiny character model on the synthetic corpus, one thread so numbers repeat exactly.
const char* kTinyYaml = R"(name: tiny
seed: 3
task: lm
data:
  synthetic_chars: 20000
  val_fraction: 0.1
model:
  layers: 2
  width: 32
  heads: 4
train:
  batch_size: 8
  seq_len: 32
  steps: 20
  lr: 3.0e-3
  warmup: 5
  threads: 1
  log_every: 5
eval:
  every: 10
  batches: 2
)";

TrainConfig tiny_config(const std::string& extra = "") {
  return TrainConfig::from_config(Config::parse(std::string(kTinyYaml) + extra, "tiny.yaml"));
}

TEST(Optimizer, AdamWMatchesTheFormulaInDouble) {
  ParamStore<float> p;
  p.add("w", 1, 2, 0, true);
  p.add("b", 1, 1, 0, false);
  p.finalize();
  p.values() = {0.5f, -1.0f, 0.25f};
  AdamWConfig c;
  c.weight_decay = 0.1;
  AdamW opt(c, 3);
  const std::vector<std::vector<float>> grads = {{0.1f, -0.2f, 0.3f}, {-0.4f, 0.05f, 0.3f}};
  std::vector<double> ref = {0.5, -1.0, 0.25}, m(3, 0.0), v(3, 0.0);
  for (int t = 1; t <= 2; ++t) {
    p.grads() = grads[t - 1];
    opt.step(p, 0.01);
    for (int i = 0; i < 3; ++i) {
      const double g = grads[t - 1][i];
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.95 * v[i] + 0.05 * g * g;
      const double mh = m[i] / (1 - std::pow(0.9, t)), vh = v[i] / (1 - std::pow(0.95, t));
      ref[i] -= 0.01 * (mh / (std::sqrt(vh) + 1e-8) + (i < 2 ? 0.1 : 0.0) * ref[i]);
    }
  }
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(p.values()[i], ref[i], 1e-6);
  EXPECT_EQ(opt.steps(), 2);
}

TEST(Optimizer, ClippingAndSchedule) {
  std::vector<float> g = {3.0f, 4.0f};
  EXPECT_NEAR(clip_grad_norm(g, 1.0), 5.0, 1e-6);
  EXPECT_NEAR(std::hypot(g[0], g[1]), 1.0, 1e-5);
  LrSchedule s;
  s.lr = 1.0;
  s.min_lr = 0.1;
  s.warmup = 4;
  s.total = 14;
  EXPECT_DOUBLE_EQ(s.at(0), 0.25);
  EXPECT_DOUBLE_EQ(s.at(3), 1.0);
  EXPECT_DOUBLE_EQ(s.at(4), 1.0);
  EXPECT_NEAR(s.at(9), 0.55, 1e-12);  // cosine midpoint
  EXPECT_NEAR(s.at(14), 0.1, 1e-12);
  EXPECT_NEAR(s.at(100), 0.1, 1e-12);
  s.decay = LrSchedule::Decay::kLinear;
  EXPECT_NEAR(s.at(9), 0.55, 1e-12);
  EXPECT_NEAR(s.at(6), 1.0 - 0.9 * 0.2, 1e-12);
}

// time_schedule: the warm-up counts steps whatever the clock says; the decay then follows
// the larger of its step fraction and the share of the time left after the warm-up.
// kTinyYaml with `train_keys` added to its train: section and its eval: section replaced.
TrainConfig tiny_with(const std::string& train_keys, const std::string& eval = "") {
  std::string yaml = kTinyYaml;
  yaml.replace(yaml.find("train:\n"), 7, "train:\n" + train_keys);
  if (!eval.empty()) yaml = yaml.substr(0, yaml.find("eval:\n")) + eval;
  return TrainConfig::from_config(Config::parse(yaml, "tiny.yaml"));
}

TEST(Optimizer, TimeScheduleWarmsUpBySteps) {
  LrSchedule s;
  s.lr = 1.0;
  s.min_lr = 0.1;
  s.warmup = 4;
  s.total = 14;
  // Most of the budget gone during warm-up (a slow machine): still the step warm-up.
  EXPECT_DOUBLE_EQ(time_schedule_lr(s, 0, 0.9, 0.0), 0.25);
  EXPECT_DOUBLE_EQ(time_schedule_lr(s, 3, 0.9, 0.0), 1.0);
  // Warm-up ended at half the budget: the decay starts at lr, halfway through the rest of
  // the time it is at the cosine midpoint, and at the end of the budget at min_lr.
  EXPECT_DOUBLE_EQ(time_schedule_lr(s, 4, 0.5, 0.5), 1.0);
  EXPECT_NEAR(time_schedule_lr(s, 5, 0.75, 0.5), 0.55, 1e-12);
  EXPECT_NEAR(time_schedule_lr(s, 6, 1.0, 0.5), 0.1, 1e-12);
  EXPECT_NEAR(time_schedule_lr(s, 6, 3.0, 0.5), 0.1, 1e-12);
  // A fast machine: the steps run out before the time does.
  EXPECT_NEAR(time_schedule_lr(s, 9, 0.01, 0.0), s.at(9), 1e-12);
  EXPECT_NEAR(time_schedule_lr(s, 14, 0.02, 0.0), 0.1, 1e-12);
}

// The ETA is the step rate so far, capped by the time budget: a run with 3000 steps and
// max_seconds 270 showed "ETA 1h01m" though it stopped at 270 s.
TEST(Trainer, EtaIsTheStepRateCappedByTheTimeBudget) {
  EXPECT_DOUBLE_EQ(eta_seconds(100, 50, 950, 0), 1900);
  EXPECT_DOUBLE_EQ(eta_seconds(100, 50, 950, 270), 170);
  EXPECT_EQ(format_duration(eta_seconds(6, 5, 3075, 0)), "1h01m");
  EXPECT_EQ(format_duration(eta_seconds(6, 5, 3075, 270)), "4m24s");
  EXPECT_DOUBLE_EQ(eta_seconds(100, 50, 50, 270), 100);  // the steps run out first
  EXPECT_DOUBLE_EQ(eta_seconds(280, 50, 950, 270), 0);   // past the budget
  EXPECT_DOUBLE_EQ(eta_seconds(100, 50, 0, 270), 0);     // done
  EXPECT_DOUBLE_EQ(eta_seconds(0, 0, 10, 270), 270);     // no rate yet
  EXPECT_EQ(format_duration(eta_seconds(0, 0, 10, 0)), "?");
}

TEST(Trainer, ScheduleIsStatedInWords) {
  EXPECT_EQ(describe_schedule(tiny_config()),
            "schedule: lr 3.00e-03, linear warm-up over 5 steps, then cosine decay to 3.00e-04 "
            "by step 20");
  EXPECT_EQ(describe_schedule(tiny_with("  max_seconds: 590\n  time_schedule: true\n")),
            "schedule: lr 3.00e-03, linear warm-up over 5 steps, then cosine decay to 3.00e-04 "
            "by step 20 or at 590 s (time_schedule), whichever comes first; stops at 590 s "
            "(max_seconds)");
  std::string yaml = kTinyYaml;
  yaml.replace(yaml.find("  warmup: 5\n"), 12, "  decay: linear\n  min_lr: 0\n");
  EXPECT_EQ(describe_schedule(TrainConfig::from_config(Config::parse(yaml, "t.yaml"))),
            "schedule: lr 3.00e-03, linear decay to 0.00e+00 by step 20");
  yaml.replace(yaml.find("linear"), 6, "constant");
  EXPECT_EQ(describe_schedule(TrainConfig::from_config(Config::parse(yaml, "t.yaml"))),
            "schedule: lr 3.00e-03, constant");
}

// With an injected clock: every step takes 2 s and every evaluation 30 s. The rate counts
// the steps only; the ETA honours max_seconds; the run stops at the first step past it.
TEST(Trainer, ThroughputExcludesEvaluationAndEtaHonoursTheTimeBudget) {
  Trainer t(tiny_with("  max_seconds: 60\n", "eval:\n  every: 5\n  batches: 1\n"), "");
  double now = 1000;
  t.clock = [&] { return now; };
  t.on_step_end = [&](int64_t, ParamStore<float>&) { now += 2; };
  t.on_eval = [&](const EvalPoint&) { now += 30; };
  std::ostringstream log;
  const TrainResult r = t.run(&log);
  // Steps 1-5 end at 10 s, eval to 40 s; steps 6-10 end at 50 s, eval to 80 s; step 11
  // ends at 82 s, past the 60 s budget: last eval, stop.
  EXPECT_EQ(r.steps, 11);
  EXPECT_EQ(r.evals.size(), 3u);
  EXPECT_DOUBLE_EQ(r.step_seconds, 22);
  EXPECT_DOUBLE_EQ(r.train_seconds, 112);
  EXPECT_EQ(r.tokens, 11 * 8 * 32);
  EXPECT_DOUBLE_EQ(r.tokens_per_second(), 8 * 32 / 2.0);
  std::vector<std::string> lines;
  std::istringstream in(log.str());
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_GE(lines.size(), 2u) << log.str();
  EXPECT_EQ(lines[1],
            "schedule: lr 3.00e-03, linear warm-up over 5 steps, then cosine decay to 3.00e-04 "
            "by step 20; stops at 60 s (max_seconds)");
  std::vector<std::string> steps;
  for (const auto& line : lines)
    if (line.rfind("step ", 0) == 0)
      steps.push_back(line.substr(line.rfind("  ", line.find(" tok/s")) + 2));
  // Rate 256 tokens per 2 s step; ETA at step 5: 10 s / 5 steps x 15 = 30 s (budget left
  // 50 s); at step 10: 50 s / 10 x 10 = 50 s, but only 10 s of budget are left.
  EXPECT_EQ(steps, (std::vector<std::string>{"128 tok/s  ETA 30s", "128 tok/s  ETA 10s",
                                             "128 tok/s  ETA 0s"}))
      << log.str();
  EXPECT_NE(log.str().find("stopping: train.max_seconds 60 reached"), std::string::npos);
}

// The committed trajectory catches any change to initialisation, sampling, kernels or the
// optimizer. Rewrite it (after checking why it moved) with TESSEL_UPDATE_GOLDEN=1.
// Whether it is right is checked by trajectory_anchor_test.cpp, against float64 NumPy.
TEST(Trainer, GoldenTwentyStepTrajectory) {
  Trainer t(tiny_config(), "");
  const TrainResult r = t.run(nullptr);
  ASSERT_EQ(r.losses.size(), 20u);
  // Independent anchor: an initial model near uniform over the vocabulary.
  EXPECT_NEAR(r.losses[0], std::log(static_cast<double>(t.tokenizer()->vocab_size())), 0.1);
  EXPECT_LT(r.losses[19], r.losses[0] - 0.5);
  const std::string path =
      std::string(TESSEL_SOURCE_DIR) + "/tests/models/nn/golden/trajectory_20.txt";
  if (std::getenv("TESSEL_UPDATE_GOLDEN")) {
    std::ostringstream s;
    s << "# tiny synthetic char LM (tests/models/nn/trainer_test.cpp kTinyYaml): loss per step\n";
    s.precision(9);
    for (double l : r.losses) s << l << "\n";
    std::ofstream(path) << s.str();
  }
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::vector<double> golden;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] != '#') golden.push_back(std::stod(line));
  ASSERT_EQ(golden.size(), 20u);
  // Float32 with different SIMD widths or compilers reorders sums; 2e-4 nats is far below
  // any real change (one different batch moves the curve by > 1e-2).
  for (int i = 0; i < 20; ++i) EXPECT_NEAR(r.losses[i], golden[i], 2e-4) << "step " << i;
}

TEST(Trainer, ResumedRunEqualsUninterruptedRun) {
  const std::string a = temp_dir("straight"), b = temp_dir("resumed");
  Trainer straight(tiny_config(), a);
  straight.run(nullptr);
  {
    Trainer first(tiny_config(), b);
    first.run(nullptr, 7);
    ASSERT_TRUE(fs::exists(fs::path(b) / "checkpoint.bin"));
  }
  Trainer second(tiny_config(), b);
  ASSERT_TRUE(second.resume());
  EXPECT_EQ(second.step(), 7);
  const TrainResult r = second.run(nullptr);
  EXPECT_EQ(r.first_step, 7);
  // Bit for bit in the default build; a build with wider SIMD (-march=native, AVX-512)
  // lets Eigen's unaligned-head peeling depend on heap addresses, which moves the last bit.
  const auto& pa = straight.params().values();
  const auto& pb = second.params().values();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t k = 0; k < pa.size(); ++k) ASSERT_NEAR(pb[k], pa[k], 1e-5) << k;
  for (std::size_t k = 0; k < pa.size(); ++k)
    ASSERT_NEAR(second.optimizer().m()[k], straight.optimizer().m()[k], 1e-6) << k;
  EXPECT_EQ(second.optimizer().steps(), straight.optimizer().steps());
  // Same eval history (steps 10 and 20), in the file the resumed run rewrote.
  auto evals = [](const std::string& dir) {
    std::ifstream in(fs::path(dir) / "eval.jsonl");
    std::vector<std::pair<int64_t, double>> out;
    std::string line;
    while (std::getline(in, line)) {
      const auto j = nlohmann::json::parse(line);
      out.emplace_back(j.at("step").get<int64_t>(), j.at("val_loss").get<double>());
    }
    return out;
  };
  const auto ea = evals(a), eb = evals(b);
  ASSERT_EQ(ea.size(), 2u);
  ASSERT_EQ(eb.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(eb[i].first, ea[i].first);
    EXPECT_NEAR(eb[i].second, ea[i].second, 1e-5);
  }
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST(Trainer, CorruptCheckpointIsAnIoErrorNamingTheFile) {
  const std::string d = temp_dir("corrupt");
  Trainer t(tiny_config(), d);
  t.run(nullptr, 2);
  const std::string path = (fs::path(d) / "checkpoint.bin").string();
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    bytes = s.str();
  }
  bytes[bytes.size() / 2] ^= 0x5a;
  std::ofstream(path, std::ios::binary) << bytes;
  try {
    read_checkpoint(path);
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("hash mismatch"), std::string::npos);
  }
  // A checkpoint of another model shape is refused with both shapes named.
  std::ofstream(path, std::ios::binary) << "";
  Trainer t2(tiny_config(), d);
  t2.save_checkpoint(path);
  Trainer wide(
      TrainConfig::from_config(Config::parse(
          std::string(kTinyYaml).replace(std::string(kTinyYaml).find("width: 32"), 9, "width: 16"),
          "wide.yaml")),
      d);
  EXPECT_THROW(wide.load_checkpoint(path), IoError);
  fs::remove_all(d);
}

// The same parameter names in the other block layout are a different function: a pre-LN
// checkpoint is refused by a post-LN model and the other way round, naming both layouts.
TEST(Trainer, CheckpointOfTheOtherLayoutIsRefused) {
  const std::string d = temp_dir("layout");
  std::string post_yaml = kTinyYaml;
  post_yaml.replace(post_yaml.find("  width: 32\n"), 12, "  width: 32\n  layout: post_ln\n");
  const TrainConfig post = TrainConfig::from_config(Config::parse(post_yaml, "post.yaml"));
  ASSERT_EQ(post.model.norm, Norm::kPostLN);
  const std::string pre_path = (fs::path(d) / "pre.bin").string();
  const std::string post_path = (fs::path(d) / "post.bin").string();
  fs::create_directories(d);
  Trainer(tiny_config(), d).save_checkpoint(pre_path);
  Trainer(post, d).save_checkpoint(post_path);
  EXPECT_EQ(checkpoint_layout(read_checkpoint(pre_path)), "pre_ln");
  EXPECT_EQ(checkpoint_layout(read_checkpoint(post_path)), "post_ln");
  for (const auto& [config, path, want] :
       {std::tuple<TrainConfig, std::string, std::string>{tiny_config(), post_path, "post_ln"},
        {post, pre_path, "pre_ln"}}) {
    Trainer t(config, d);
    try {
      t.load_checkpoint(path);
      ADD_FAILURE() << "loaded " << path;
    } catch (const IoError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(path), std::string::npos) << m;
      EXPECT_NE(m.find("holds a " + want + " model"), std::string::npos) << m;
      EXPECT_NE(m.find("model.layout"), std::string::npos) << m;
    }
  }
  // Its own layout loads, and a file without the key (written before it existed) is pre-LN.
  Trainer(post, d).load_checkpoint(post_path);
  Checkpoint old = read_checkpoint(pre_path);
  old.meta.erase("layout");
  write_checkpoint(pre_path, old);
  EXPECT_EQ(checkpoint_layout(read_checkpoint(pre_path)), "pre_ln");
  Trainer(tiny_config(), d).load_checkpoint(pre_path);
  fs::remove_all(d);
}

TEST(Trainer, UnknownAndBadKeysAreConfigErrorsWithLocation) {
  try {
    tiny_config("optimiser: adam\n");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("tiny.yaml:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("optimiser"), std::string::npos) << e.what();
  }
  const std::string bad_heads =
      std::string(kTinyYaml).replace(std::string(kTinyYaml).find("heads: 4"), 8, "heads: 5");
  EXPECT_THROW(TrainConfig::from_config(Config::parse(bad_heads, "h.yaml")), ConfigError);
}

// Every field a training file sets, as text: two configs that read alike print alike.
std::string fingerprint(const TrainConfig& c) {
  std::ostringstream o;
  o << c.name << '|' << c.seed << '|' << c.task << '|' << c.classes << '|' << c.documents << '|'
    << c.archive << '|' << c.test_fraction << '|' << c.split_seed << '|' << c.corpus << '|'
    << c.synthetic_chars << '|' << c.tokenizer << '|' << c.word_vocab << '|' << c.val_fraction
    << '|' << c.mnist_images << '|' << c.mnist_labels << '|' << c.model.layers << '|'
    << c.model.width << '|' << c.model.heads << '|' << c.model.mlp_ratio << '|' << c.model.max_seq
    << '|' << int(c.model.norm) << '|' << c.mlp.hidden.size() << '|' << c.backend << '|'
    << int(c.precision) << '|' << c.optimizer_on_host << '|' << c.batch_size << '|' << c.seq_len
    << '|' << c.steps << '|' << c.lr.lr << '|' << c.lr.min_lr << '|' << c.lr.warmup << '|'
    << int(c.lr.decay) << '|' << c.adam.beta1 << '|' << c.adam.beta2 << '|' << c.adam.weight_decay
    << '|' << c.grad_clip << '|' << c.max_seconds << '|' << c.time_schedule << '|' << c.threads
    << '|' << c.log_every << '|' << c.eval_every << '|' << c.eval_batches << '|'
    << c.checkpoint_every << '|' << c.curriculum.start << '|' << c.curriculum.steps << '|'
    << c.curriculum.schedule << '|' << c.curriculum.root_degree << '|'
    << c.curriculum.difficulty_step << '|' << c.curriculum.token_warmup << '|' << c.layer_drop.on
    << '|' << c.layer_drop.theta_bar << '|' << c.layer_drop.gamma << '|' << c.layer_drop.fixed
    << '|' << c.layer_drop.rescale << '|' << c.target_loss << '|' << c.stability.spike_factor << '|'
    << c.stability.spike_warmup << '|' << c.stability.divergence_loss << '|'
    << c.stability.stop_on_divergence << '|' << c.trace_step << '|' << c.offload.precision << '|'
    << c.offload.dpu_warmup << '|' << c.offload.loss_scale;
  return o.str();
}

// A misspelt key names the nearest declared one; a key of another task is an error too.
TEST(TrainingKeys, TyposAndKeysOfOtherTasksAreErrors) {
  const auto message = [](const std::string& yaml) {
    try {
      TrainConfig::from_config(Config::parse(yaml, "k.yaml"));
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string yaml = kTinyYaml;
  EXPECT_EQ(message(std::string(yaml).replace(yaml.find("  steps: 20"), 11, "  stpes: 20")),
            "k.yaml:14:3: train.stpes: unknown key (did you mean 'steps'?)");
  EXPECT_EQ(message(std::string(yaml).replace(yaml.find("  val_fraction"), 2, "  classes: 3\n  ")),
            "k.yaml:6:12: data.classes: is not read by task lm");
  EXPECT_EQ(message(yaml + "curriculum:\n  start_seq_len: 8\n  steps: 4\n  lr_warmpu: steps\n"),
            "k.yaml:25:3: curriculum.lr_warmpu: unknown key (did you mean 'lr_warmup'?)");
}

// Removes the key at a dotted path (nothing when absent).
void erase_path(Config root, const std::string& path) {
  Config node = root;
  std::string rest = path;
  for (size_t dot; (dot = rest.find('.')) != std::string::npos; rest = rest.substr(dot + 1)) {
    if (!node.has(rest.substr(0, dot))) return;
    node = node.child(rest.substr(0, dot));
  }
  node.erase(rest);
}

// The declared defaults are what the reader uses when a key is absent: every key with a
// default, written out at that default, reads as the file without it (in a context where
// the key is read: its section present, the task or data source that reads it).
TEST(TrainingKeys, DeclaredDefaultsAreWhatAnAbsentKeyReads) {
  const std::map<std::string, std::string> context = {
      {"curriculum", "curriculum:\n  start_seq_len: 8\n  steps: 4\n"},
      {"layer_drop", "layer_drop:\n  rescale: true\n"},
      {"stability", "stability:\n  on_divergence: fail\n"},
      {"trace", "trace:\n  step: 0\n"},
      {"checkpoint", "checkpoint:\n  every: 0\n"}};
  int compared = 0;
  for (const Key& key : training_keys().keys()) {
    if (!key.fallback) continue;
    std::string base = kTinyYaml;
    const std::string section = key.path.substr(0, key.path.rfind('.'));
    if (key.path == "data.classes") base.replace(base.find("task: lm"), 8, "task: classify");
    if (key.path == "data.test_fraction" || key.path == "data.split_seed")
      base.replace(base.find("  synthetic_chars: 20000"), 24,
                   "  documents: spamassassin\n  archive: mail.tar.gz");
    if (section == "train.offload")
      base.replace(base.find("train:\n"), 7, "train:\n  offload:\n    precision: fp16\n");
    if (context.count(section)) base += context.at(section);
    if (key.path == "curriculum.root_degree") base += "  schedule: fixed_root\n";
    Config without = Config::parse(base, "d.yaml");
    erase_path(without, key.path);
    Config with = Config::parse(base, "d.yaml");
    with.set(key.path, Config::parse(*key.fallback, "--set"));
    EXPECT_EQ(fingerprint(TrainConfig::from_config(with)),
              fingerprint(TrainConfig::from_config(without)))
        << key.path << " = " << *key.fallback;
    ++compared;
  }
  EXPECT_GE(compared, 35);
  // And those defaults are TrainConfig's own, the values the reader had before the keys
  // were declared.
  const TrainConfig initial;
  const TrainConfig plain = tiny_config();
  EXPECT_EQ(plain.adam.beta1, initial.adam.beta1);
  EXPECT_EQ(plain.adam.beta2, initial.adam.beta2);
  EXPECT_EQ(plain.adam.weight_decay, initial.adam.weight_decay);
  EXPECT_EQ(plain.grad_clip, initial.grad_clip);
  EXPECT_EQ(plain.word_vocab, initial.word_vocab);
  EXPECT_EQ(plain.backend, initial.backend);
  EXPECT_EQ(plain.model.mlp_ratio, TransformerConfig().mlp_ratio);
  const TrainConfig drop = tiny_config("layer_drop:\n  rescale: true\n");
  EXPECT_EQ(drop.layer_drop.theta_bar, initial.layer_drop.theta_bar);
  EXPECT_EQ(drop.layer_drop.gamma, initial.layer_drop.gamma);
  const TrainConfig st = tiny_config("stability:\n  on_divergence: fail\n");
  EXPECT_EQ(st.stability.spike_factor, initial.stability.spike_factor);
  EXPECT_EQ(st.stability.spike_warmup, initial.stability.spike_warmup);
  const TrainConfig cur = tiny_config("curriculum:\n  start_seq_len: 8\n  steps: 4\n");
  EXPECT_EQ(cur.curriculum.difficulty_step, initial.curriculum.difficulty_step);
  EXPECT_EQ(cur.curriculum.schedule, initial.curriculum.schedule);
  EXPECT_EQ(cur.curriculum.token_warmup, initial.curriculum.token_warmup);
}

TEST(Trainer, TensorTraceHasMatchedLifetimesAndFullSizes) {
  TrainConfig c = tiny_config("trace:\n  step: 3\n");
  c.steps = 4;
  const std::string d = temp_dir("trace");
  Trainer t(c, d);
  t.run(nullptr);
  const TensorTrace& tr = t.tensor_trace();
  ASSERT_FALSE(tr.events().empty());
  std::map<std::string, int> live;
  int allocs = 0;
  for (const auto& e : tr.events()) {
    EXPECT_EQ(e.step, 3);
    if (e.op == TensorOp::kAlloc) ++live[e.tensor], ++allocs;
    if (e.op == TensorOp::kFree) --live[e.tensor];
  }
  for (const auto& [name, n] : live) EXPECT_EQ(n, 0) << name << " never freed";
  EXPECT_EQ(allocs, 8 * 2 + 3);  // 8 activations per block, plus x0, lnf, logits
  // The qkv activation of a block is [B*T, 3C] floats; the attention probabilities
  // [B*H, T*T] floats.
  for (const auto& e : tr.events()) {
    if (e.op != TensorOp::kAlloc) continue;
    if (e.tensor == "h1.qkv") {
      EXPECT_EQ(e.bytes, 8 * 32 * 96 * 4);
    }
    if (e.tensor == "h0.att") {
      EXPECT_EQ(e.bytes, 8 * 4 * 32 * 32 * 4);
    }
  }
  EXPECT_GT(tr.peak_bytes(), 8 * 4 * 32 * 32 * 4);
  const MemoryTrace mt = read_memory_trace((fs::path(d) / "tensor_trace.mtrace").string());
  EXPECT_EQ(mt.requests.size(), tr.to_memory_trace().requests.size());
  EXPECT_GT(mt.total_bytes(), static_cast<uint64_t>(t.params().size()) * 4 * 3);
  fs::remove_all(d);
}

TEST(Trainer, SeamsCurriculumAndLayerDropChangeTheSteps) {
  TrainConfig c = tiny_config(
      "curriculum:\n  start_seq_len: 8\n  steps: 10\nlayer_drop:\n  theta_bar: 0.5\n  gamma: "
      "0.1\n");
  c.steps = 6;
  Trainer t(c, "");
  std::vector<int> seen;
  int dropped = 0;
  t.layer_scale_schedule = [&](int64_t, Rng& rng) {
    std::vector<double> s = {1.0, rng.uniform() < 0.5 ? 0.0 : 2.0};
    dropped += s[1] == 0;
    return s;
  };
  int64_t grads_seen = 0, ends_seen = 0;
  t.on_gradients = [&](int64_t, ParamStore<float>&) { ++grads_seen; };
  t.on_step_end = [&](int64_t, ParamStore<float>&) { ++ends_seen; };
  t.seq_len_schedule = [&](int64_t step) {
    seen.push_back(static_cast<int>(8 + 4 * step));
    return seen.back();
  };
  const TrainResult r = t.run(nullptr);
  EXPECT_EQ(seen, (std::vector<int>{8, 12, 16, 20, 24, 28}));
  EXPECT_EQ(grads_seen, 6);
  EXPECT_EQ(ends_seen, 6);
  for (double l : r.losses) EXPECT_TRUE(std::isfinite(l));
}

// The classifier head end to end: two synthetic corpora (different Markov chains over the
// same 48 words) told apart from 32-character windows. The classes differ only in word
// order, so a one-layer model plateaus near 70% here; the check is that the plumbing
// (labels, pooling, evaluation) learns well above the 50% of guessing (256 windows: 62% is
// more than 3 standard deviations above chance).
TEST(Trainer, SequenceClassifierSeparatesTwoCorpora) {
  const std::string yaml =
      "task: classify\nseed: 4\ndata:\n  synthetic_chars: 20000\n  classes: 2\nmodel:\n"
      "  layers: 1\n  width: 32\n  heads: 4\ntrain:\n  batch_size: 16\n  seq_len: 32\n"
      "  steps: 150\n  lr: 3.0e-3\n  warmup: 10\n  threads: 1\neval:\n  every: 150\n"
      "  batches: 16\n";
  Trainer t(TrainConfig::from_config(Config::parse(yaml, "cls.yaml")), "");
  const TrainResult r = t.run(nullptr);
  EXPECT_NEAR(r.losses[0], std::log(2.0), 0.1);
  EXPECT_GT(r.evals.back().val_accuracy, 0.62);
}

// Every shipped configs/train file reads cleanly (no unknown keys, valid values).
TEST(Trainer, ShippedConfigsParse) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(std::string(TESSEL_SOURCE_DIR) + "/configs/train")) {
    if (e.path().extension() != ".yaml") continue;
    EXPECT_NO_THROW(TrainConfig::from_config(Config::load(e.path().string()))) << e.path();
    ++n;
  }
  EXPECT_GE(n, 4);
}

// Without a GPU, asking for the CUDA backend is a one-line error, not a crash.
TEST(Trainer, CudaBackendWithoutDeviceIsAClearError) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  std::string yaml = kTinyYaml;
  yaml.replace(yaml.find("train:\n"), 7, "train:\n  backend: cuda\n");
  try {
    Trainer t(TrainConfig::from_config(Config::parse(yaml, "tiny.yaml")), "");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos) << e.what();
  }
}

TEST(Trainer, MnistMlpLearnsWhenDataPresent) {
  const std::string dir = std::string(TESSEL_SOURCE_DIR) + "/../shared/data/mnist/";
  TESSEL_REQUIRE_SHARED_DATA(dir + "t10k-images-idx3-ubyte.gz");
  const std::string yaml = "task: mnist\nseed: 2\ndata:\n  images: " + dir +
                           "t10k-images-idx3-ubyte.gz\n  labels: " + dir +
                           "t10k-labels-idx1-ubyte.gz\n  val_fraction: 0.2\nmodel:\n  hidden: "
                           "[64]\ntrain:\n  batch_size: 64\n  steps: 300\n  lr: 2.0e-3\n  "
                           "weight_decay: 0\n  threads: 1\neval:\n  every: 300\n";
  Trainer t(TrainConfig::from_config(Config::parse(yaml, "mnist.yaml")), "");
  const TrainResult r = t.run(nullptr);
  // 300 steps of 64 images: a one-hidden-layer MLP gets well past 85% on held-out digits.
  EXPECT_GT(r.evals.back().val_accuracy, 0.85);
}

}  // namespace
}  // namespace tessel::nn
