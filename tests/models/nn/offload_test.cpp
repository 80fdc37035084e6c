// Offloaded mixed-precision training (ZeRO-Offload's semantics on the CPU backend): the
// engine against an independent fp32-master loop, the delayed parameter update against the
// one-step-stale update, the trainer's train.offload keys.
#include "models/nn/offload_optimizer.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "models/common/rng.h"
#include "models/cpu_adam/half.h"
#include "models/nn/transformer.h"
#include "runtime/core/error.h"

namespace tessel::nn {
namespace {

namespace fs = std::filesystem;

// Round to nearest even with `mantissa` fraction bits and a smallest normal exponent
// `emin` (fp16: 10, -14; bf16: 7, -126), by scaling in double and std::nearbyint — a
// different method from the bit manipulation of models/cpu_adam/half.h. Overflow to
// infinity past the format's largest finite value (fp16: 65504).
float round_to(float x, int mantissa, int emin, double max_finite) {
  if (x == 0 || !std::isfinite(x)) return x;
  const int e = std::max(std::ilogb(x), emin);
  const double q = std::ldexp(std::nearbyint(std::ldexp(double{x}, mantissa - e)), e - mantissa);
  if (std::fabs(q) > max_finite) return std::copysign(std::numeric_limits<float>::infinity(), x);
  return static_cast<float>(q);
}
float round_fp16(float x) {
  return round_to(x, 10, -14, 65504.0);
}
float round_bf16(float x) {
  return round_to(x, 7, -126, 3.3895313892515355e38);
}

// AdamW as the formula (decoupled decay, bias correction), in float, one operation at a
// time in the order of the formula.
struct RefAdam {
  AdamWConfig c;
  std::vector<float> m, v;
  int64_t t = 0;
  void step(std::vector<float>& p, const std::vector<float>& g, const std::vector<ParamInfo>& infos,
            double lr) {
    ++t;
    const float b1 = static_cast<float>(c.beta1), b2 = static_cast<float>(c.beta2);
    const auto bc1 = static_cast<float>(1.0 - std::pow(c.beta1, static_cast<double>(t)));
    const auto bc2 = static_cast<float>(1.0 - std::pow(c.beta2, static_cast<double>(t)));
    for (const ParamInfo& info : infos) {
      const float wd = info.decay ? static_cast<float>(c.weight_decay) : 0.0f;
      for (int64_t k = info.offset; k < info.offset + info.size(); ++k) {
        m[k] = b1 * m[k] + (1 - b1) * g[k];
        v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k];
        const float mhat = m[k] / bc1, vhat = v[k] / bc2;
        p[k] -= static_cast<float>(lr) *
                (mhat / (std::sqrt(vhat) + static_cast<float>(c.eps)) + wd * p[k]);
      }
    }
  }
};

TransformerConfig tiny_model() {
  TransformerConfig c;
  c.vocab_size = 16;
  c.max_seq = 8;
  c.layers = 2;
  c.width = 16;
  c.heads = 2;
  return c;
}

data::TokenBatch batch_of(int step) {
  Rng rng(1000 + static_cast<uint64_t>(step));
  data::TokenBatch b;
  b.batch = 4;
  b.seq = 8;
  for (int i = 0; i < b.batch * b.seq; ++i) {
    b.tokens.push_back(static_cast<int32_t>(rng.next_u64() % 16));
    b.targets.push_back(static_cast<int32_t>(rng.next_u64() % 16));
  }
  return b;
}

double lr_of(int step) {
  return 3e-3 * (step + 1) / 4.0;
}  // a warm-up: lr changes per step

// The reference run of ZeRO-Offload's data flow: an fp32 master, a device copy that is the
// master rounded to 16 bits, gradients rounded to 16 bits (times the loss scale and back),
// AdamW on the master; with DPU from step `dpu` on, update(g_i) is applied only after
// g_{i+1} has been computed on the device copy that lacks it. With max_norm > 0 the host
// gradient is clipped to that norm (DeepSpeed's order: after the 16-bit transfer). Returns
// each step's loss; `devices` gets the device copy the next forward reads, after every
// step; `norms` (when set) each step's host-gradient norm.
std::vector<float> reference_run(float (*round16)(float), int steps, int dpu, float scale,
                                 std::vector<std::vector<float>>* devices, double max_norm = 0,
                                 std::vector<double>* norms = nullptr) {
  Transformer<float> model(tiny_model());
  model.init(7);
  ParamStore<float>& p = model.params();
  std::vector<float> master = p.values();
  RefAdam adam{AdamWConfig{}, std::vector<float>(master.size()), std::vector<float>(master.size())};
  std::vector<float> device(master.size()), pending_g;
  auto round_all = [&] {
    for (std::size_t k = 0; k < master.size(); ++k) device[k] = round16(master[k]);
  };
  round_all();
  bool pending = false;
  double pending_lr = 0;
  std::vector<float> losses;
  for (int s = 0; s < steps; ++s) {
    p.values() = device;
    p.zero_grad();
    losses.push_back(model.forward_backward(batch_of(s)));
    std::vector<float> g(p.grads().size());
    for (std::size_t k = 0; k < g.size(); ++k) g[k] = round16(p.grads()[k] * scale) / scale;
    double sq = 0;
    for (float x : g) sq += double{x} * x;
    if (norms) norms->push_back(std::sqrt(sq));
    if (max_norm > 0 && std::sqrt(sq) > max_norm)
      for (float& x : g) x *= static_cast<float>(max_norm / (std::sqrt(sq) + 1e-6));
    if (pending) {  // update(g_{s-1}), now that g_s exists
      adam.step(master, pending_g, p.infos(), pending_lr);
      round_all();
      pending = false;
    }
    if (dpu >= 0 && s >= dpu) {
      pending_g = g;
      pending_lr = lr_of(s);
      pending = true;
    } else {
      adam.step(master, g, p.infos(), lr_of(s));
      round_all();
    }
    devices->push_back(device);
  }
  return losses;
}

struct EngineRun {
  std::vector<float> losses;
  std::vector<std::vector<float>> devices;
  int64_t async_updates = 0;
  std::vector<float> master;
};

EngineRun engine_run(cpu_adam::HalfFormat half, int steps, int dpu, double scale,
                     double max_norm = 0) {
  Transformer<float> model(tiny_model());
  model.init(7);
  OffloadOptimizer::Options o;
  o.half = half;
  o.dpu_warmup = dpu;
  o.loss_scale = scale;
  o.max_norm = max_norm;
  o.threads = 2;
  OffloadOptimizer engine(AdamWConfig{}, model.params(), o);
  EngineRun r;
  for (int s = 0; s < steps; ++s) {
    model.params().zero_grad();
    r.losses.push_back(model.forward_backward(batch_of(s)));
    engine.step(s, model.params(), lr_of(s));
    r.devices.push_back(model.params().values());
  }
  engine.wait();
  r.async_updates = engine.async_updates();
  r.master = engine.master();
  return r;
}

void expect_same_run(const EngineRun& got, const std::vector<float>& losses,
                     const std::vector<std::vector<float>>& devices) {
  ASSERT_EQ(got.losses.size(), losses.size());
  for (std::size_t s = 0; s < losses.size(); ++s) {
    EXPECT_EQ(got.losses[s], losses[s]) << "step " << s;
    ASSERT_EQ(got.devices[s].size(), devices[s].size());
    for (std::size_t k = 0; k < devices[s].size(); ++k)
      ASSERT_EQ(got.devices[s][k], devices[s][k]) << "step " << s << " parameter " << k;
  }
}

TEST(OffloadOptimizer, EqualsIndependentMixedPrecisionLoopStepForStep) {
  const int steps = 8;
  for (const bool bf16 : {false, true}) {
    SCOPED_TRACE(bf16 ? "bf16" : "fp16");
    const float scale = bf16 ? 1.0f : 1024.0f;
    std::vector<std::vector<float>> devices;
    const std::vector<float> losses =
        reference_run(bf16 ? round_bf16 : round_fp16, steps, -1, scale, &devices);
    const EngineRun got = engine_run(
        bf16 ? cpu_adam::HalfFormat::kBf16 : cpu_adam::HalfFormat::kFp16, steps, -1, scale);
    expect_same_run(got, losses, devices);
    // Not the fp32 run in disguise: some device value is not the master's.
    std::size_t off_grid = 0;
    for (std::size_t k = 0; k < got.master.size(); ++k)
      off_grid += got.master[k] != got.devices.back()[k];
    EXPECT_GT(off_grid, got.master.size() / 2);
    EXPECT_EQ(got.async_updates, 0);  // every update on the caller's thread
  }
}

TEST(OffloadOptimizer, DelayedUpdateEqualsOneStepStaleUpdateExactly) {
  const int steps = 9, dpu = 3;
  std::vector<std::vector<float>> devices, fresh_devices;
  const std::vector<float> losses = reference_run(round_fp16, steps, dpu, 1024.0f, &devices);
  const EngineRun got = engine_run(cpu_adam::HalfFormat::kFp16, steps, dpu, 1024.0);
  expect_same_run(got, losses, devices);
  // Warm-up steps run without delay; from step dpu+1 on the forward reads a stale copy, so
  // the losses leave those of the undelayed run.
  const std::vector<float> undelayed =
      reference_run(round_fp16, steps, -1, 1024.0f, &fresh_devices);
  for (int s = 0; s <= dpu; ++s) EXPECT_EQ(losses[s], undelayed[s]) << s;
  EXPECT_NE(losses[dpu + 1], undelayed[dpu + 1]);
  // The delayed updates (steps dpu..steps-1) ran on another thread, the warm-up's on this one.
  EXPECT_EQ(got.async_updates, steps - dpu);
  // After the last wait the master holds every update, including the last step's.
  std::vector<std::vector<float>> all;
  reference_run(round_fp16, steps + 1, dpu, 1024.0f, &all);  // applies update(g_{steps-1})
  std::size_t differ = 0;
  for (std::size_t k = 0; k < got.master.size(); ++k)
    differ += round_fp16(got.master[k]) != all.back()[k];
  EXPECT_EQ(differ, 0u);
}

// ZeRO-Offload clips where the fp32 gradients are, on the host after the 16-bit transfer
// (the CUDA link has no fp32 gradient on the host before it): the reference clips its own
// rounded gradient, with and without the delayed update.
TEST(OffloadOptimizer, ClipsTheSixteenBitGradientOnTheHost) {
  const int steps = 8;
  for (const int dpu : {-1, 3}) {
    SCOPED_TRACE("dpu_warmup " + std::to_string(dpu));
    std::vector<std::vector<float>> devices, unclipped;
    std::vector<double> norms;
    const double max_norm = 0.25;
    const std::vector<float> losses =
        reference_run(round_fp16, steps, dpu, 1024.0f, &devices, max_norm, &norms);
    for (int s = 0; s < steps; ++s) ASSERT_GT(norms[s], max_norm) << "step " << s << " not clipped";
    const EngineRun got = engine_run(cpu_adam::HalfFormat::kFp16, steps, dpu, 1024.0, max_norm);
    expect_same_run(got, losses, devices);
    // The clip changes the run (the test would pass vacuously otherwise).
    const std::vector<float> free_losses =
        reference_run(round_fp16, steps, dpu, 1024.0f, &unclipped);
    EXPECT_NE(free_losses.back(), losses.back());
  }
}

// A device with memory of its own, as the CUDA link has: upload writes the link's copy, not
// params.values(), and gradients are read where backward left them. The trainer's forward
// reads the device's values. The run must equal the CPU link's bit for bit, which it only
// does if the engine touches the model solely through the link.
class SeparateDeviceLink final : public OffloadLink {
 public:
  explicit SeparateDeviceLink(std::size_t n) : copy_(n), device_(n), grads_(n) {}
  uint16_t* param_copy() override { return copy_.data(); }
  void upload(ParamStore<float>&) override {
    for (std::size_t i = 0; i < copy_.size(); ++i) device_[i] = cpu_adam::fp16_to_fp32(copy_[i]);
    ++uploads;
  }
  const uint16_t* gradients(const ParamStore<float>& params) override {
    for (std::size_t i = 0; i < grads_.size(); ++i)
      grads_[i] = cpu_adam::fp32_to_fp16(params.grads()[i] * 1024.0f);
    ++fetches;
    return grads_.data();
  }
  const std::vector<float>& device() const { return device_; }
  int uploads = 0, fetches = 0;

 private:
  std::vector<uint16_t> copy_;
  std::vector<float> device_;
  std::vector<uint16_t> grads_;
};

TEST(OffloadOptimizer, LinkWithItsOwnDeviceMemoryGivesTheSameRun) {
  const int steps = 9, dpu = 3;
  for (const int warmup : {-1, dpu}) {
    SCOPED_TRACE("dpu_warmup " + std::to_string(warmup));
    const EngineRun want = engine_run(cpu_adam::HalfFormat::kFp16, steps, warmup, 1024.0);
    Transformer<float> model(tiny_model());
    model.init(7);
    OffloadOptimizer::Options o;
    o.dpu_warmup = warmup;
    o.loss_scale = 1024;
    o.threads = 2;
    auto link = std::make_unique<SeparateDeviceLink>(model.params().values().size());
    SeparateDeviceLink* device = link.get();
    const std::vector<float> initial = model.params().values();
    OffloadOptimizer engine(AdamWConfig{}, model.params(), o, std::move(link));
    EXPECT_EQ(model.params().values(), initial);  // the engine left the host values alone
    for (int s = 0; s < steps; ++s) {
      model.params().values() = device->device();  // the forward reads device memory
      model.params().zero_grad();
      EXPECT_EQ(model.forward_backward(batch_of(s)), want.losses[s]) << "step " << s;
      engine.step(s, model.params(), lr_of(s));
      EXPECT_EQ(device->device(), want.devices[s]) << "step " << s;
    }
    engine.wait();
    EXPECT_EQ(engine.master(), want.master);
    // One upload at construction and one per step: after the step without DPU, before the
    // next step's gradients with it (the last delayed update is still pending).
    EXPECT_EQ(device->fetches, steps);
    EXPECT_EQ(device->uploads, warmup < 0 ? steps + 1 : steps);
  }
}

TEST(OffloadOptimizer, SixteenBitGradientOverflowSkipsTheStep) {
  Transformer<float> model(tiny_model());
  model.init(7);
  OffloadOptimizer engine(AdamWConfig{}, model.params(), {});
  const std::vector<float> before = model.params().values();
  model.params().zero_grad();
  model.params().grads()[3] = 7.0e4f;  // above fp16's 65504: infinity in 16 bits
  engine.step(0, model.params(), 1e-3);
  EXPECT_EQ(engine.skipped_steps(), 1);
  EXPECT_EQ(engine.adam().steps(), 0);
  EXPECT_EQ(model.params().values(), before);
  model.params().grads()[3] = 6.0e4f;  // finite in fp16: a normal step
  engine.step(1, model.params(), 1e-3);
  EXPECT_EQ(engine.skipped_steps(), 1);
  EXPECT_NE(model.params().values(), before);
}

// --- The trainer with train.offload ---

const char* kTinyYaml = R"(name: tiny
seed: 3
task: lm
data:
  synthetic_chars: 20000
model:
  layers: 2
  width: 32
  heads: 4
train:
  batch_size: 8
  seq_len: 32
  steps: 12
  lr: 3.0e-3
  warmup: 3
  threads: 1
  log_every: 100
eval:
  every: 100
  batches: 2
)";

TrainConfig config_with(const std::string& train_keys) {
  std::string yaml = kTinyYaml;
  yaml.replace(yaml.find("train:\n"), 7, "train:\n" + train_keys);
  return TrainConfig::from_config(Config::parse(yaml, "tiny.yaml"));
}

std::string temp_dir(const std::string& name) {
  fs::path p =
      fs::temp_directory_path() / ("tessel_offload_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p.string();
}

TEST(OffloadTrainer, RunsOnTheSixteenBitCopyAndTracksFp32Training) {
  Trainer fp32(config_with(""), "");
  const TrainResult a = fp32.run(nullptr);
  Trainer half(config_with("  offload: {precision: fp16, loss_scale: 1024}\n"), "");
  ASSERT_NE(half.offload_engine(), nullptr);
  const TrainResult b = half.run(nullptr);
  for (float x : half.params().values()) ASSERT_EQ(x, round_fp16(x));
  // Same first forward up to the 16-bit rounding of the initial weights; the runs stay close.
  EXPECT_NEAR(b.losses[0], a.losses[0], 1e-2);
  EXPECT_NEAR(b.losses.back(), a.losses.back(), 5e-2);
  EXPECT_LT(b.losses.back(), b.losses[0] - 0.1);  // it trains
}

// The offload engine holds the only optimizer state: the trainer keeps no AdamW moments
// beside it (they would double the optimizer's memory), and says so when asked for them.
TEST(OffloadTrainer, HoldsNoSecondCopyOfTheMoments) {
  Trainer half(config_with("  offload: {precision: fp16, loss_scale: 1024}\n"), "");
  EXPECT_THROW(half.optimizer(), Error);
  auto* engine = dynamic_cast<OffloadOptimizer*>(half.offload_engine());
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->adam().size(), static_cast<std::size_t>(half.params().size()));
  Trainer fp32(config_with(""), "");
  EXPECT_EQ(fp32.optimizer().size(), static_cast<std::size_t>(fp32.params().size()));
}

TEST(OffloadTrainer, ResumedOffloadRunEqualsUninterruptedRun) {
  const std::string keys = "  offload: {precision: bf16}\n";
  const std::string a = temp_dir("straight"), b = temp_dir("resumed");
  Trainer straight(config_with(keys), a);
  straight.run(nullptr);
  {
    Trainer first(config_with(keys), b);
    first.run(nullptr, 5);
  }
  Trainer second(config_with(keys), b);
  ASSERT_TRUE(second.resume());
  second.run(nullptr);
  const auto& pa = straight.params().values();
  const auto& pb = second.params().values();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t k = 0; k < pa.size(); ++k) ASSERT_EQ(pb[k], pa[k]) << k;
  auto* ea = dynamic_cast<OffloadOptimizer*>(straight.offload_engine());
  auto* eb = dynamic_cast<OffloadOptimizer*>(second.offload_engine());
  ASSERT_TRUE(ea && eb);
  EXPECT_EQ(eb->adam().steps(), ea->adam().steps());
  for (std::size_t k = 0; k < pa.size(); ++k) ASSERT_EQ(eb->master()[k], ea->master()[k]) << k;
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST(OffloadTrainer, DelayedUpdateIsDeterministicAndStartsAfterWarmup) {
  const std::string dpu = "  offload: {precision: fp16, loss_scale: 1024, dpu_warmup: 4}\n";
  Trainer x(config_with(dpu), ""), y(config_with(dpu), "");
  Trainer plain(config_with("  offload: {precision: fp16, loss_scale: 1024}\n"), "");
  const TrainResult rx = x.run(nullptr), ry = y.run(nullptr), rp = plain.run(nullptr);
  EXPECT_EQ(rx.losses, ry.losses);
  EXPECT_EQ(x.params().values(), y.params().values());
  for (int s = 0; s <= 4; ++s) EXPECT_EQ(rx.losses[s], rp.losses[s]) << s;
  EXPECT_NE(rx.losses[5], rp.losses[5]);
}

// The timeline (train.offload.timeline_steps): every step of the window has its spans, on
// the host thread that ran them, in the order the data flow fixes: a synchronous step
// uploads after its update and before the next forward; a delayed update runs on the
// CPU-Adam thread after its gradients, the next forward/backward runs before its upload,
// and the main thread's wait ends after the update.
TEST(OffloadTrainer, TimelineRecordsTheDataFlowInItsOrder) {
  const std::string dir = temp_dir("timeline");
  const int window = 6, dpu = 2;
  Trainer t(config_with("  offload: {precision: fp16, loss_scale: 1024, dpu_warmup: 2, "
                        "timeline_steps: 6}\n"),
            dir);
  t.run(nullptr);
  std::ifstream in(fs::path(dir) / "offload_timeline.json");
  ASSERT_TRUE(in) << "no timeline written";
  const nlohmann::json trace = nlohmann::json::parse(in);
  std::map<int, std::string> tracks;
  struct Span {
    std::string track;
    double begin, end;
  };
  std::map<std::string, Span> spans;
  for (const auto& e : trace.at("traceEvents")) {
    if (e.at("ph") == "M" && e.at("name") == "thread_name")
      tracks[e.at("tid").get<int>()] = e.at("args").at("name").get<std::string>();
    if (e.at("ph") != "X") continue;
    const double ts = e.at("ts").get<double>();
    const std::string name = e.at("name").get<std::string>();
    ASSERT_EQ(spans.count(name), 0u) << name << " twice";
    spans[name] = {tracks.at(e.at("tid").get<int>()), ts, ts + e.at("dur").get<double>()};
  }
  const auto span = [&](const std::string& name) {
    const auto it = spans.find(name);
    if (it == spans.end()) ADD_FAILURE() << "no span " << name;
    return it == spans.end() ? Span{"", 0, 0} : it->second;
  };
  for (int k = 0; k < window; ++k) {
    SCOPED_TRACE("step " + std::to_string(k));
    const std::string i = std::to_string(k);
    const Span fb = span("forward/backward " + i), g = span("gradients " + i);
    const Span update = span("update " + i), upload = span("upload " + i);
    EXPECT_EQ(fb.track, "host: main thread");
    EXPECT_EQ(g.track, "host: main thread");
    EXPECT_EQ(update.track, "host: CPU-Adam");
    EXPECT_EQ(upload.track, "host: main thread");
    EXPECT_LE(fb.end, g.begin);
    EXPECT_LE(g.end, update.begin);
    EXPECT_LE(update.end, upload.begin);
    if (k + 1 < window) {
      const Span next = span("forward/backward " + std::to_string(k + 1));
      if (k < dpu) {
        EXPECT_LE(upload.end, next.begin);
        EXPECT_EQ(spans.count("wait for update " + i), 0u);
      } else {
        EXPECT_LE(next.end, upload.begin);  // the next step ran on the copy without update k
        EXPECT_LE(update.end, span("wait for update " + i).end);
      }
    }
  }
  EXPECT_EQ(spans.count("update " + std::to_string(window)), 0u);  // outside the window
  fs::remove_all(dir);
}

TEST(OffloadTrainer, BadKeysAreConfigErrorsWithLocation) {
  const auto message = [](const std::string& keys) {
    try {
      config_with(keys);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const auto expect_error = [&](const std::string& keys, const std::string& key) {
    const std::string m = message(keys);
    EXPECT_NE(m.find("tiny.yaml:"), std::string::npos) << m;
    EXPECT_NE(m.find(key), std::string::npos) << m;
  };
  expect_error("  offload: {precision: fp16, dpu_warmup: -1}\n", "train.offload.dpu_warmup");
  expect_error("  offload: {precision: fp8}\n", "train.offload.precision");
  expect_error("  offload: {dpu_warmup: 2}\n", "train.offload.precision");
  expect_error("  offload: {precision: fp16, loss_scale: 1000}\n", "train.offload.loss_scale");
  expect_error("  offload: {precision: fp16, dpu: 2}\n", "train.offload.dpu");
  expect_error("  offload: {precision: fp16, timeline_steps: -1}\n",
               "train.offload.timeline_steps");
  // On backend cuda the GEMMs may not scale the loss themselves, and the optimizer has no
  // placement to choose.
  expect_error("  backend: cuda\n  precision: fp16\n  offload: {precision: fp16}\n",
               "train.precision");
  expect_error("  backend: cuda\n  optimizer_placement: host\n  offload: {precision: fp16}\n",
               "train.optimizer_placement");
  const TrainConfig cuda =
      config_with("  backend: cuda\n  precision: bf16\n  offload: {precision: bf16}\n");
  EXPECT_EQ(cuda.offload.precision, "bf16");
  // Default: off.
  EXPECT_TRUE(config_with("").offload.precision.empty());
}

}  // namespace
}  // namespace tessel::nn
