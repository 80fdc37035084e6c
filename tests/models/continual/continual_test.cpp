// The continual-learning loop and its configuration: the replay-ready MLP matches the
// engine's, known class-incremental behaviour (fine-tuning forgets, replay remembers, joint
// learns all), Carousel runs and the workload's bad-input errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "models/common/rng.h"
#include "models/continual/continual_io.h"
#include "models/continual/cpu_pin.h"
#include "models/continual/learner.h"
#include "models/continual/net.h"
#include "models/nn/mlp.h"
#include "runtime/core/error.h"

namespace tessel::continual {
namespace {

TEST(Net, GradientMatchesTheEngineMlp) {
  nn::MlpConfig m;
  m.inputs = 12;
  m.hidden = {8, 6};
  m.classes = 4;
  Net net(m, 1e-3, 42);
  nn::MlpClassifier<float> ref(m);
  ref.init(42);
  ref.params().zero_grad();
  nn::Matrix<float> x(5, 12);
  Rng rng(1);
  for (int i = 0; i < x.size(); ++i) x.data()[i] = float(rng.uniform(-1, 1));
  const std::vector<int32_t> y = {0, 3, 1, 2, 3};
  ref.forward_backward(x, y);
  const auto& z = net.forward(x);
  nn::Matrix<float> dz = nn::Matrix<float>::Zero(5, 4);
  add_cross_entropy(z, y, 0, 5, 1.0 / 5, dz);
  net.backward(dz);
  ASSERT_EQ(net.params().grads().size(), ref.params().grads().size());
  for (size_t i = 0; i < ref.params().grads().size(); ++i)
    EXPECT_NEAR(net.params().grads()[i], ref.params().grads()[i], 1e-6) << i;
}

// Four classes, each a random 16-pixel prototype plus noise: separable, with features
// shared between classes (as MNIST digits share strokes), so a head trained on the new
// classes alone overrides the old ones.
TaskStream synthetic_stream() {
  TaskStream s;
  s.sample_bytes = 16;
  s.classes = 4;
  Rng rng(3);
  std::vector<double> proto(64);
  for (double& p : proto) p = rng.uniform(40, 215);
  auto add = [&](int n) {
    for (int i = 0; i < n; ++i) {
      const int32_t y = i % 4;
      for (int p = 0; p < 16; ++p)
        s.pixels.push_back(uint8_t(proto[size_t(y * 16 + p)] + rng.uniform(-30, 30)));
      s.labels.push_back(y);
    }
  };
  add(800);
  s.train_count = 800;
  add(200);
  s.tasks = {{0, 1}, {2, 3}};
  return s;
}

ContinualConfig config(const std::string& method) {
  ContinualConfig c;
  c.method = method;
  c.hidden = {16};
  c.lr = 3e-3;
  c.em_size = 40;
  c.epochs_per_task = 2;
  return c;
}

TEST(Learner, FineTuningForgetsReplayRemembersJointLearnsAll) {
  const TaskStream s = synthetic_stream();
  const ContinualResult ft = run_continual(s, config("finetune"), 1, nullptr);
  ASSERT_EQ(ft.acc.size(), 2u);
  EXPECT_GT(ft.acc[0][0], 0.95);  // task 0 learnt...
  EXPECT_LT(ft.acc[1][0], 0.2);   // ...and forgotten: the head predicts only classes 2, 3
  EXPECT_NEAR(ft.forgetting, ft.acc[0][0] - ft.acc[1][0], 1e-12);
  const ContinualResult er = run_continual(s, config("er"), 1, nullptr);
  EXPECT_GT(er.acc[1][0], 0.6);
  const ContinualResult der = run_continual(s, config("derpp"), 1, nullptr);
  EXPECT_GT(der.acc[1][0], 0.6);
  ContinualConfig g = config("gdumb");
  g.gdumb_epochs = 20;
  const ContinualResult gd = run_continual(s, g, 1, nullptr);
  EXPECT_GT(gd.final_average, 0.9);
  const ContinualResult joint = run_continual(s, config("joint"), 1, nullptr);
  ASSERT_EQ(joint.acc.size(), 1u);
  EXPECT_GT(joint.final_average, 0.95);
}

// ER with Carousel Memory, random gate at tau 0.5, its store named `store` in the build tree.
ContinualConfig carm_config(bool async, const std::string& store) {
  ContinualConfig c = config("er");
  c.carm.enabled = true;
  c.carm.async = async;
  c.carm.policy = "random";
  c.carm.tau = 0.5;
  c.carm.store_path =
      std::string(TESSEL_BINARY_DIR) + "/carm_" + store + "_" + std::to_string(::getpid()) + ".bin";
  return c;
}

TEST(Learner, CarouselAsyncAndSyncSwapAndCleanUp) {
  const TaskStream s = synthetic_stream();
  for (bool async : {true, false}) {
    const ContinualConfig c = carm_config(async, "learner");
    const ContinualResult r = run_continual(s, c, 2, nullptr);
    // Every gate chooses a swap (with tau 0.5 and 10 candidates it chooses none with
    // p = 2^-10; ~156 gates). Async skips one while its I/O threads lag (the steps here are
    // tiny) or while the store's writer has nothing on disk yet; sync waits, never skips.
    EXPECT_GT(r.swaps + r.swaps_skipped + r.swaps_unwritten, 140u);
    EXPECT_GT(r.swaps, async ? 0u : 140u);
    EXPECT_GT(r.samples_swapped_in, async ? 0u : 100u);
    EXPECT_EQ(r.store_bytes_written, 1600u * 4096u);  // each sample streamed twice (2 epochs)
    // Sync is deterministic; async depends on when the reads land, so only the last task.
    EXPECT_GT(async ? r.acc[1][1] : r.final_average, 0.7);
    if (!async) {
      EXPECT_EQ(r.swaps_skipped, 0u);
      EXPECT_EQ(r.swaps_unwritten, 0u);
    }
    // The trace: one write per streamed sample, one read per sample read, batches = swaps.
    uint64_t writes = 0, reads = 0;
    for (const auto& q : r.trace.requests) (q.write ? writes : reads) += 1;
    EXPECT_EQ(writes, 1600u);
    EXPECT_EQ(reads, r.samples_read);
    EXPECT_NE(::access(c.carm.store_path.c_str(), F_OK), 0);  // removed after the run
  }
}

TEST(Learner, CarouselSyncDoesNotDependOnThreadTiming) {
  // Sync waits for the store's writer and the swap's reads, so two runs agree exactly
  // whatever the host's load did to the threads.
  const TaskStream s = synthetic_stream();
  const ContinualConfig c = carm_config(false, "sync");
  const ContinualResult a = run_continual(s, c, 5, nullptr);
  const ContinualResult b = run_continual(s, c, 5, nullptr);
  EXPECT_EQ(a.swaps, b.swaps);
  EXPECT_EQ(a.samples_swapped_in, b.samples_swapped_in);
  EXPECT_EQ(a.final_average, b.final_average);
}

TEST(Learner, EmLargerThanStoreIsAnError) {
  const TaskStream s = synthetic_stream();
  ContinualConfig c = config("er");
  c.carm.enabled = true;
  c.carm.store_path = std::string(TESSEL_BINARY_DIR) + "/carm_small.bin";
  c.carm.store_capacity = 20;  // em_size 40
  EXPECT_THROW(run_continual(s, c, 1, nullptr), Error);
}

std::string workload_error(const std::string& yaml) {
  try {
    read_continual_workload(Config::parse(yaml, "w.yaml"));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ContinualConfig, BadInputNamesFileLineAndKey) {
  const std::string base =
      "dataset: {images: a.gz, labels: b.gz}\nmethod: er\nmemory: {em_size: 500}\n";
  std::string e = workload_error(base + "carm: {enabled: true, tau: 1.5}\n");
  EXPECT_NE(e.find("w.yaml:4"), std::string::npos) << e;
  EXPECT_NE(e.find("carm.tau"), std::string::npos) << e;
  e = workload_error(base + "carm: {enabled: true, tau: -0.1}\n");
  EXPECT_NE(e.find("carm.tau"), std::string::npos) << e;
  e = workload_error(base + "carm: {enabled: true, store_capacity: 100}\n");
  EXPECT_NE(e.find("carm.store_capacity"), std::string::npos) << e;
  EXPECT_NE(e.find("larger than the sample store"), std::string::npos) << e;
  e = workload_error(
      "dataset: {images: a.gz, labels: b.gz}\nmethod: finetune\ncarm: {enabled: true}\n");
  EXPECT_NE(e.find("carm.enabled"), std::string::npos) << e;
  e = workload_error(base + "carm: {enabled: true, policy: oldest}\n");
  EXPECT_NE(e.find("carm.policy"), std::string::npos) << e;
  e = workload_error(base + "carm: {enabled: true, on_crash: ignore}\n");
  EXPECT_NE(e.find("carm.on_crash"), std::string::npos) << e;
  EXPECT_EQ(workload_error(base + "carm: {enabled: true, tau: 0.7, policy: random}\n"), "");
  // A CPU the host does not have.
  const std::string cpu = std::to_string(cpu_count());
  e = workload_error(base + "carm: {enabled: true, train_cpu: " + cpu + "}\n");
  EXPECT_NE(e.find("carm.train_cpu"), std::string::npos) << e;
  EXPECT_NE(e.find("does not exist here"), std::string::npos) << e;
  e = workload_error(base + "carm: {enabled: true, io_cpu: " + cpu + "}\n");
  EXPECT_NE(e.find("carm.io_cpu"), std::string::npos) << e;
  EXPECT_EQ(workload_error(base + "carm: {enabled: true, train_cpu: 0, io_cpu: 0}\n"), "");
}

// The training thread's pin holds for the run and the thread's CPU set is restored after
// (a sweep's worker thread runs other points next), read back from the kernel.
TEST(ContinualConfig, TrainingThreadPinIsRestored) {
  cpu_set_t before, inside, after;
  ASSERT_EQ(pthread_getaffinity_np(pthread_self(), sizeof before, &before), 0);
  {
    const ThreadPin pin(0);
    ASSERT_EQ(pin.error(), "");
    ASSERT_EQ(pthread_getaffinity_np(pthread_self(), sizeof inside, &inside), 0);
    EXPECT_EQ(CPU_COUNT(&inside), 1);
    EXPECT_TRUE(CPU_ISSET(0, &inside));
  }
  ASSERT_EQ(pthread_getaffinity_np(pthread_self(), sizeof after, &after), 0);
  EXPECT_TRUE(CPU_EQUAL(&before, &after));
  const ThreadPin none(-1);  // -1 leaves the thread alone
  ASSERT_EQ(pthread_getaffinity_np(pthread_self(), sizeof after, &after), 0);
  EXPECT_TRUE(CPU_EQUAL(&before, &after));
}

// Every field a workload sets, as text.
std::string fingerprint(const ContinualWorkload& w) {
  const ContinualConfig& c = w.config;
  std::string s = w.kind + '|' + w.images + '|' + w.labels + '|' + std::to_string(w.train_count) +
                  '|' + w.text + '|';
  for (const auto& t : w.tasks) {
    for (int32_t k : t) s += std::to_string(k) + ',';
    s += ';';
  }
  for (int h : c.hidden) s += std::to_string(h) + ',';
  s += '|' + c.method + '|' + std::to_string(c.lr) + '|' + std::to_string(c.batch) + '|' +
       std::to_string(c.replay_batch) + '|' + std::to_string(c.epochs_per_task) + '|' +
       std::to_string(c.threads) + '|' + std::to_string(c.em_size) + '|' +
       std::to_string(c.derpp_alpha) + '|' + std::to_string(c.derpp_beta) + '|' +
       std::to_string(c.gdumb_epochs) + '|';
  const CarmOptions& o = c.carm;
  s += std::to_string(o.enabled) + std::to_string(o.async) + '|' + w.store_path + '|' +
       std::to_string(o.store_capacity) + '|' + o.policy + '|' + std::to_string(o.tau) + '|' +
       std::to_string(o.dynamic_target) + '|' + std::to_string(o.max_pending) + '|' +
       std::to_string(o.io_threads) + '|' + std::to_string(o.direct) +
       std::to_string(o.refuse_crashed) + std::to_string(o.keep_store);
  return s;
}

// The declaration rejects a misspelt key with the nearest declared name (the runner checks
// a workload against it before reading).
TEST(ContinualConfig, TyposNameTheNearestKey) {
  const Config w = Config::parse(
      "dataset: {images: a.gz, labels: b.gz}\nmethod: er\nmemory: {em_sise: 50}\n", "w.yaml");
  try {
    continual_workload_keys().check(w);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "w.yaml:3:10: memory.em_sise: unknown key (did you mean 'em_size'?)");
  }
}

// Each declared default, written out, reads as the workload without the key; and without
// any key the workload is ContinualConfig's and CarmOptions' own defaults.
TEST(ContinualConfig, DeclaredDefaultsAreWhatAnAbsentKeyReads) {
  const std::string base =
      "dataset: {images: a.gz, labels: b.gz}\nmethod: er\nmodel: {}\ntrain: {}\nmemory: {}\n"
      "carm: {}\n";
  const std::string plain = fingerprint(read_continual_workload(Config::parse(base, "w.yaml")));
  int compared = 0;
  for (const Key& key : continual_workload_keys().keys()) {
    if (!key.fallback) continue;
    Config with = Config::parse(base, "w.yaml");
    with.set(key.path, Config::parse(*key.fallback, "--set"));
    EXPECT_EQ(fingerprint(read_continual_workload(with)), plain) << key.path;
    ++compared;
  }
  EXPECT_GE(compared, 20);
  ContinualWorkload initial;
  initial.config.method = "er";
  initial.images = read_continual_workload(Config::parse(base, "w.yaml")).images;
  initial.labels = read_continual_workload(Config::parse(base, "w.yaml")).labels;
  for (int32_t t = 0; t < 5; ++t) initial.tasks.push_back({2 * t, 2 * t + 1});
  EXPECT_EQ(plain, fingerprint(initial));
}

}  // namespace
}  // namespace tessel::continual
