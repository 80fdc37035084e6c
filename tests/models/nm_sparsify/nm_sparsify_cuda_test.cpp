// NxMTransformer on the CUDA backend against the CPU (label cuda; every case skips without
// a GPU): the device projection equals models/sparse's project_mask with ties, NaN and
// infinities for 2:4, 1:4, 2:8, 4:8 (and 1:2, 15:16); ADMM's Z, U and masks equal the
// CPU's bit for bit and the residual norms agree to rounding; the masked phase never moves
// a pruned weight nor leaves a non-zero gradient there; the distillation loss and gradient
// match distill_loss, alone and through the model seam; a short ADMM run ends feasible, in
// process and as the registered experiment through the tool.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "models/common/rng.h"
#include "models/nm_sparsify/nm_sparsify.h"
#include "models/nn/layers.h"
#include "models/sparse/mask_io.h"
#include "runtime/core/error.h"
#include "tests/support/tool.h"

namespace tessel::nm_sparsify {
namespace {

namespace fs = std::filesystem;

const char* kTinyYaml = R"(name: tiny
seed: 3
task: lm
data:
  synthetic_chars: 6000
model:
  layers: 1
  width: 16
  heads: 2
train:
  backend: cuda
  batch_size: 4
  seq_len: 16
  steps: STEPS
  lr: 3.0e-3
  warmup: 0
  threads: 1
eval:
  every: 1000
  batches: 1
)";

nn::TrainConfig tiny_train(int steps, const std::string& extra_train = "") {
  std::string y = kTinyYaml;
  y.replace(y.find("STEPS"), 5, std::to_string(steps) + "\n" + extra_train);
  return nn::TrainConfig::from_config(Config::parse(y, "tiny.yaml"));
}

SparsifyConfig admm_config(int64_t admm_steps, int64_t interval, double rho, double growth) {
  SparsifyConfig c;
  c.method = Method::kAdmm;
  c.pattern = {2, 4};
  c.admm_steps = admm_steps;
  c.interval = interval;
  c.rho = rho;
  c.rho_growth = growth;
  return c;
}

nn::TransformerConfig small_model() {
  nn::TransformerConfig c;
  c.vocab_size = 24;
  c.max_seq = 8;
  c.layers = 2;
  c.width = 32;
  c.heads = 2;
  return c;
}

data::TokenBatch batch(int b, int seq, int vocab, uint64_t seed) {
  Rng rng(seed);
  data::TokenBatch out;
  out.batch = b;
  out.seq = seq;
  for (int i = 0; i < b * seq; ++i) {
    out.tokens.push_back(static_cast<int32_t>(rng.next_u64() % vocab));
    out.targets.push_back(static_cast<int32_t>(rng.next_u64() % vocab));
  }
  out.targets[1] = -1;  // one row the losses do not count
  return out;
}

bool bitwise_zero(float v) {
  uint32_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  return bits == 0;
}

// |a − b| relative to the larger magnitude (absolute below 1).
double rel(double a, double b) {
  return std::abs(a - b) / std::max({1.0, std::abs(a), std::abs(b)});
}

class NmSparsifyCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (nn::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  }
};

// ---------------------------------------------------------------- projection

TEST_F(NmSparsifyCuda, ProjectionEqualsCpuProjectMaskIncludingTies) {
  Rng rng(11);
  for (const char* text : {"2:4", "1:4", "2:8", "4:8", "1:2", "15:16"}) {
    const sparse::Pattern p = sparse::Pattern::parse(text);
    for (int trial = 0; trial < 8; ++trial) {
      Target t;
      t.k = 16 * (1 + trial % 3);
      t.out = 7 + 45 * trial;  // up to 322 columns: several thread blocks
      t.k_is_rows = trial % 2 == 0;
      std::vector<float> w(static_cast<std::size_t>(t.k * t.out));
      if (trial < 5) {
        // Few levels of both signs (and −0.0 beside +0.0): most groups hold ties.
        for (float& v : w) {
          const int level = static_cast<int>(rng.next_u64() % 6) - 3;
          v = level == -3 ? -0.0f : static_cast<float>(level);
        }
      } else {
        for (float& v : w) v = static_cast<float>(rng.uniform() - 0.5);
        // NaN counts as the largest magnitude, equal to an infinity (then the lower index).
        w[3] = std::numeric_limits<float>::quiet_NaN();
        w[4] = -std::numeric_limits<float>::infinity();
        w[10] = std::numeric_limits<float>::infinity();
        w[w.size() - 1] = std::numeric_limits<float>::quiet_NaN();
      }
      EXPECT_EQ(project_mask_cuda(w.data(), t, p), project_mask(w.data(), t, p))
          << text << " trial " << trial << (t.k_is_rows ? " [K, out]" : " [out, K]");
    }
  }
  // A layer of realistic size (K 512, 2048 outputs, 2:4): about a thousand blocks.
  Target big;
  big.k = 512;
  big.out = 2048;
  std::vector<float> w(static_cast<std::size_t>(big.k * big.out));
  for (float& v : w) v = static_cast<float>(rng.uniform() - 0.5);
  EXPECT_EQ(project_mask_cuda(w.data(), big, {2, 4}), project_mask(w.data(), big, {2, 4}));
}

// ---------------------------------------------------------------- ADMM steps

// Z and U of every target equal (Z, U are sums, differences and selections of the same
// floats on both backends, so bit for bit).
void expect_same_zu(const NmSparsifier& cpu, const NmSparsifier& gpu, const std::string& when) {
  for (std::size_t j = 0; j < cpu.targets().size(); ++j) {
    EXPECT_EQ(gpu.admm_z(j), cpu.admm_z(j)) << when << " Z of " << cpu.targets()[j].name;
    EXPECT_EQ(gpu.admm_u(j), cpu.admm_u(j)) << when << " U of " << cpu.targets()[j].name;
  }
}

// The penalty gradient on zero gradients: ρ (W − Z + U). The kernel rounds each operation
// as the CPU's expression does (no fused multiply-add), so it should be equal; allowed: an
// ulp or two, in case a compiler contracts the CPU's expression.
void expect_same_penalty(NmSparsifier& cpu, NmSparsifier& gpu, nn::ParamStore<float>& p,
                         nn::CudaTransformer& model, const std::string& when) {
  p.zero_grad();
  cpu.add_penalty_gradient(p);
  model.zero_grad();
  gpu.add_penalty_gradient(model);
  nn::ParamStore<float> g = p;
  model.download_grads(g);
  int64_t nonzero = 0;
  for (std::size_t e = 0; e < g.grads().size(); ++e) {
    const float a = g.grads()[e], b = p.grads()[e];
    ASSERT_LE(std::abs(a - b), 2.4e-7f * std::max(std::abs(a), std::abs(b))) << when << " " << e;
    nonzero += b != 0.0f;
  }
  EXPECT_GT(nonzero, 0) << when;
}

TEST_F(NmSparsifyCuda, AdmmStepsMatchTheCpu) {
  for (const char* text : {"2:4", "4:8"}) {
    SCOPED_TRACE(text);
    nn::Transformer<float> model(small_model());
    model.init(7);
    nn::ParamStore<float>& p = model.params();
    nn::CudaTransformer gpu(small_model(), 4 * 8, nn::Precision::kFp32);
    gpu.upload_params(p);
    SparsifyConfig c = admm_config(10, 1, 0.5, 2.0);
    c.pattern = sparse::Pattern::parse(text);
    c.rho_max = 1.5;
    c.params = {"h*.w_*", "wte"};  // both layouts: [K, out] and the tied embedding [out, K]
    NmSparsifier on_cpu(c, p), on_gpu(c, p);
    ASSERT_EQ(on_cpu.targets().size(), 9u);

    on_cpu.start_admm(p);
    on_gpu.start_admm(gpu);
    expect_same_zu(on_cpu, on_gpu, "start");
    expect_same_penalty(on_cpu, on_gpu, p, gpu, "start");

    // Three updates with W moved in between; ρ grows 0.5 → 1 → 1.5 (capped), U rescaled.
    Rng rng(3);
    for (int i = 0; i < 3; ++i) {
      for (float& v : p.values()) v += 0.01f * static_cast<float>(rng.uniform() - 0.5);
      gpu.upload_params(p);
      const AdmmRecord a = on_cpu.update(i, p);
      const AdmmRecord b = on_gpu.update(i, gpu);
      const std::string when = "update " + std::to_string(i + 1);
      EXPECT_EQ(b.update, a.update) << when;
      EXPECT_EQ(b.step, a.step) << when;
      EXPECT_EQ(b.rho, a.rho) << when;
      // The same squares summed in another order (double): agreement to rounding.
      EXPECT_LT(rel(b.primal, a.primal), 1e-12) << when;
      EXPECT_LT(rel(b.dual, a.dual), 1e-12) << when;
      EXPECT_LT(rel(b.weight_norm, a.weight_norm), 1e-12) << when;
      EXPECT_GT(a.primal, 0) << when;
      EXPECT_EQ(on_gpu.rho(), on_cpu.rho()) << when;
      expect_same_zu(on_cpu, on_gpu, when);
      expect_same_penalty(on_cpu, on_gpu, p, gpu, when);
    }
    EXPECT_EQ(on_gpu.rho(), 1.5);

    // Hard projection: the same masks, W zero exactly where they drop, the host store of
    // the device run gets the masks too.
    nn::ParamStore<float> host = p;
    on_cpu.prune(p);
    on_gpu.prune(gpu, &host);
    ASSERT_TRUE(on_gpu.pruned());
    EXPECT_FALSE(on_gpu.admm_running());
    EXPECT_EQ(on_gpu.masks(), on_cpu.masks());
    EXPECT_EQ(host.mask(), p.mask());
    gpu.download_params(host);
    EXPECT_EQ(host.values(), p.values());
    for (std::size_t j = 0; j < on_gpu.targets().size(); ++j) {
      const nn::ParamInfo& info = host.info(on_gpu.targets()[j].param);
      for (int64_t e = 0; e < info.size(); ++e)
        if (!on_gpu.masks()[j][static_cast<std::size_t>(e)]) {
          ASSERT_TRUE(bitwise_zero(host.values()[info.offset + e])) << info.name << " " << e;
        }
    }
    // The device forward now uses W ⊙ mask: the same loss as the CPU model's.
    const data::TokenBatch b = batch(4, 8, 24, 5);
    EXPECT_NEAR(gpu.loss(b), model.loss(b), 1e-4);

    // Enforcement: pruned values put back (non-zero) and the gradients of a backward pass
    // (the mask product leaves −0.0 there) become +0.0; kept entries stay as they are.
    nn::ParamStore<float> dirty = host;
    for (std::size_t j = 0; j < on_gpu.targets().size(); ++j) {
      const nn::ParamInfo& info = dirty.info(on_gpu.targets()[j].param);
      for (int64_t e = 0; e < info.size(); ++e)
        if (!on_gpu.masks()[j][static_cast<std::size_t>(e)]) dirty.values()[info.offset + e] = 0.5f;
    }
    gpu.upload_params(dirty);
    gpu.zero_grad();
    gpu.forward_backward(b);
    nn::ParamStore<float> before = host;
    gpu.download_grads(before);
    on_gpu.enforce_masks(gpu);
    nn::ParamStore<float> after = host;
    gpu.download_params(after);
    gpu.download_grads(after);
    int64_t kept_grads = 0;
    for (std::size_t j = 0; j < on_gpu.targets().size(); ++j) {
      const nn::ParamInfo& info = after.info(on_gpu.targets()[j].param);
      for (int64_t e = 0; e < info.size(); ++e) {
        const int64_t x = info.offset + e;
        if (!on_gpu.masks()[j][static_cast<std::size_t>(e)]) {
          ASSERT_TRUE(bitwise_zero(after.values()[x])) << info.name << " " << e;
          ASSERT_TRUE(bitwise_zero(after.grads()[x])) << info.name << " " << e;
        } else {
          ASSERT_EQ(after.values()[x], host.values()[x]) << info.name << " " << e;
          ASSERT_EQ(after.grads()[x], before.grads()[x]) << info.name << " " << e;
          kept_grads += after.grads()[x] != 0.0f;
        }
      }
    }
    EXPECT_GT(kept_grads, 0);
  }
}

// ---------------------------------------------------------------- masked phase

// Wraps the device hooks: after the sparsifier's own, the optimizer sees +0.0 gradients
// and the step leaves +0.0 values at every pruned entry (checked on downloads).
void check_device_masking(nn::Trainer& trainer, const NmSparsifier& s, int64_t* grads_checked,
                          int64_t* values_checked) {
  auto pruned_zero = [&s](const std::vector<float>& v, const nn::ParamStore<float>& layout) {
    for (std::size_t j = 0; j < s.targets().size(); ++j) {
      const nn::ParamInfo& info = layout.info(s.targets()[j].param);
      for (int64_t e = 0; e < info.size(); ++e)
        if (!s.masks()[j][static_cast<std::size_t>(e)] && !bitwise_zero(v[info.offset + e]))
          return false;
    }
    return true;
  };
  auto probe = std::make_shared<nn::ParamStore<float>>(trainer.params());
  auto inner_g = trainer.on_device_gradients;
  trainer.on_device_gradients = [=, &s](int64_t step, nn::CudaTransformer& m) {
    inner_g(step, m);
    if (!s.pruned()) return;
    m.download_grads(*probe);
    EXPECT_TRUE(pruned_zero(probe->grads(), *probe)) << "gradients at step " << step;
    ++*grads_checked;
  };
  auto inner_e = trainer.on_device_step_end;
  trainer.on_device_step_end = [=, &s](int64_t step, nn::CudaTransformer& m) {
    inner_e(step, m);
    if (!s.pruned()) return;
    m.download_params(*probe);
    EXPECT_TRUE(pruned_zero(probe->values(), *probe)) << "values after step " << step;
    ++*values_checked;
  };
}

// Every kept entry moved from `start`, every pruned one bitwise zero (host store after run).
void expect_kept_moved(const NmSparsifier& s, const nn::ParamStore<float>& p,
                       const std::vector<float>& start) {
  for (std::size_t j = 0; j < s.targets().size(); ++j) {
    const nn::ParamInfo& info = p.info(s.targets()[j].param);
    int64_t moved = 0, kept = 0;
    for (int64_t e = 0; e < info.size(); ++e) {
      const float v = p.values()[info.offset + e];
      if (!s.masks()[j][static_cast<std::size_t>(e)]) {
        ASSERT_TRUE(bitwise_zero(v)) << info.name << " " << e << " = " << v;
      } else {
        ++kept;
        moved += v != start[info.offset + e];
      }
    }
    EXPECT_EQ(moved, kept) << info.name;
  }
}

TEST_F(NmSparsifyCuda, AspMaskedPhaseNeverChangesAPrunedWeight) {
  nn::Trainer trainer(tiny_train(12), "");
  const std::vector<float> w0 = trainer.params().values();
  SparsifyConfig c;
  c.method = Method::kAsp;
  c.pattern = {1, 4};
  NmSparsifier s(c, trainer.params());
  s.attach(trainer);
  ASSERT_TRUE(s.pruned());
  for (std::size_t j = 0; j < s.targets().size(); ++j)
    EXPECT_EQ(s.masks()[j],
              project_mask(w0.data() + s.targets()[j].offset, s.targets()[j], c.pattern));
  nn::ParamStore<float> pruned_start = trainer.params();
  trainer.cuda_transformer()->download_params(pruned_start);
  int64_t grads = 0, values = 0;
  check_device_masking(trainer, s, &grads, &values);
  trainer.run(nullptr);
  EXPECT_EQ(grads, 12);
  EXPECT_EQ(values, 12);
  expect_kept_moved(s, trainer.params(), pruned_start.values());
  for (const Target& t : s.targets()) EXPECT_TRUE(check(trainer.params(), t, c.pattern).ok);
}

TEST_F(NmSparsifyCuda, AdmmFineTuningKeepsPrunedWeightsZeroDespiteAdamMomentum) {
  nn::Trainer trainer(tiny_train(20), "");
  NmSparsifier s(admm_config(8, 4, 0.05, 1.0), trainer.params());
  s.attach(trainer);
  EXPECT_TRUE(s.admm_running());
  nn::ParamStore<float> at_prune = trainer.params();
  auto inner = trainer.on_device_step_end;
  trainer.on_device_step_end = [&, inner](int64_t step, nn::CudaTransformer& m) {
    inner(step, m);
    if (step == 7) m.download_params(at_prune);
  };
  int64_t grads = 0, values = 0;
  check_device_masking(trainer, s, &grads, &values);
  trainer.run(nullptr);
  ASSERT_TRUE(s.pruned());
  EXPECT_EQ(grads, 12);
  EXPECT_EQ(values, 13);  // the step that pruned, then the 12 masked ones
  EXPECT_EQ(s.records().size(), 2u);
  expect_kept_moved(s, trainer.params(), at_prune.values());
}

// ---------------------------------------------------------------- distillation

TEST_F(NmSparsifyCuda, DistillLossAndGradientMatchTheCpu) {
  Rng rng(5);
  for (const int v : {5, 37, 300}) {  // fewer and more classes than a warp's lanes
    const int rows = 12;
    nn::Matrix<float> s(rows, v), t(rows, v);
    for (Eigen::Index i = 0; i < s.size(); ++i) {
      s.data()[i] = static_cast<float>(6 * (rng.uniform() - 0.5));
      t.data()[i] = static_cast<float>(6 * (rng.uniform() - 0.5));
    }
    std::vector<int32_t> y(rows);
    for (int r = 0; r < rows; ++r) y[r] = static_cast<int32_t>(rng.next_u64() % v);
    y[2] = y[7] = -1;  // ignored rows
    for (const double T : {1.0, 2.0, 4.0})
      for (const double alpha : {0.0, 0.5, 0.9}) {
        nn::Matrix<float> d_cpu;
        const float ce = nn::softmax_cross_entropy(s, y, d_cpu);
        nn::Matrix<float> d_gpu = d_cpu;
        const float want = distill_loss<float>(s, t, y, T, alpha, ce, d_cpu);
        const float got = distill_loss_cuda(s, t, y, T, alpha, ce, d_gpu);
        EXPECT_LT(rel(got, want), 1e-6) << v << " " << T << " " << alpha;
        // The same double arithmetic per entry, rounded to float once: at most an ulp apart.
        EXPECT_LT((d_gpu - d_cpu).cwiseAbs().maxCoeff(), 1e-7f * (1 + d_cpu.cwiseAbs().maxCoeff()))
            << v << " " << T << " " << alpha;
        for (Eigen::Index i = 0; i < v; ++i) EXPECT_EQ(d_gpu(2, i), 0.0f);
      }
  }
  // No counted row: (1 − α) CE and a zero gradient, as on the CPU.
  nn::Matrix<float> s = nn::Matrix<float>::Ones(3, 4), d = nn::Matrix<float>::Zero(3, 4);
  EXPECT_EQ(distill_loss_cuda(s, s, {-1, -1, -1}, 2.0, 0.25, 1.0f, d), 0.75f);
  EXPECT_EQ(d.cwiseAbs().maxCoeff(), 0.0f);
}

TEST_F(NmSparsifyCuda, DistillThroughTheModelSeamMatchesTheCpu) {
  const nn::TransformerConfig mc = small_model();
  nn::Transformer<float> student(mc), teacher(mc);
  student.init(1);
  teacher.init(2);
  const double T = 2.0, alpha = 0.7;
  student.logit_loss = [&](const data::TokenBatch& b, const nn::Matrix<float>& z, float ce,
                           nn::Matrix<float>& dz) {
    teacher.loss(b);
    return distill_loss<float>(z, teacher.logits(), b.targets, T, alpha, ce, dz);
  };
  const data::TokenBatch b = batch(4, 8, mc.vocab_size, 9);
  student.params().zero_grad();
  const float loss_cpu = student.forward_backward(b);

  nn::CudaTransformer gs(mc, 4 * 8, nn::Precision::kFp32), gt(mc, 4 * 8, nn::Precision::kFp32);
  gs.upload_params(student.params());
  gt.upload_params(teacher.params());
  const float ce_only = gs.loss(b);
  gs.set_logit_loss(
      [&](const data::TokenBatch& batch_, const nn::CudaTransformer::DeviceLogits& z, float ce) {
        gt.loss(batch_);
        return distill_loss_cuda(z, gt.device_logits().logits, T, alpha, ce);
      });
  gs.zero_grad();
  const float loss_gpu = gs.forward_backward(b);
  EXPECT_NEAR(loss_gpu, loss_cpu, 1e-4);
  EXPECT_GT(std::abs(loss_gpu - ce_only), 1e-2);  // the teacher differs: KD changes the loss
  EXPECT_FLOAT_EQ(gs.loss(b), ce_only);           // evaluation never calls the seam
  nn::ParamStore<float> g = student.params();
  gs.download_grads(g);
  for (const auto& info : g.infos()) {
    double scale = 1e-6, err = 0;
    for (int64_t k = 0; k < info.size(); ++k) {
      scale = std::max(scale, double(std::abs(student.params().grads()[info.offset + k])));
      err = std::max(err, double(std::abs(student.params().grads()[info.offset + k] -
                                          g.grads()[info.offset + k])));
    }
    EXPECT_LT(err / scale, 1e-3) << info.name;
  }
}

// ---------------------------------------------------------------- runs

TEST_F(NmSparsifyCuda, ShortAdmmRunEndsFeasible) {
  // The CPU test's schedule (nm_sparsify_test, TinyModelConvergesToAFeasiblePoint).
  nn::Trainer trainer(tiny_train(200), "");
  SparsifyConfig c = admm_config(150, 10, 1.0, 1.5);
  c.rho_max = 1000;
  NmSparsifier s(c, trainer.params());
  s.attach(trainer);
  const nn::TrainResult r = trainer.run(nullptr);
  EXPECT_EQ(r.steps, 200);
  ASSERT_EQ(s.records().size(), 15u);
  const std::vector<AdmmRecord>& rec = s.records();
  double peak = 0;
  for (const AdmmRecord& x : rec) {
    std::printf("update %lld step %lld rho %.4g primal %.4g dual %.4g |W| %.4g\n",
                (long long)x.update, (long long)x.step, x.rho, x.primal, x.dual, x.weight_norm);
    peak = std::max(peak, x.primal);
  }
  EXPECT_EQ(rec.front().step, 9);
  EXPECT_EQ(rec.back().step, 149);
  // The CPU run ends at a quarter of its peak and 2.7% of ‖W‖; the GPU's rounding differs.
  EXPECT_LT(rec.back().primal, 0.5 * peak);
  EXPECT_LT(rec.back().primal, 0.1 * rec.back().weight_norm);
  ASSERT_TRUE(s.pruned());
  // trainer.params() holds the device's final weights after run().
  for (std::size_t j = 0; j < s.targets().size(); ++j) {
    const Target& t = s.targets()[j];
    const sparse::Violation v = check(trainer.params(), t, {2, 4});
    EXPECT_TRUE(v.ok) << t.name << ": " << v.str({2, 4});
    EXPECT_EQ(s.sparse_mask(j).kept(), t.k * t.out / 2);
  }
  EXPECT_TRUE(std::isfinite(r.evals.back().val_loss));
}

TEST_F(NmSparsifyCuda, DistilledRunStartsAtTheScaledCrossEntropy) {
  // At step 0 the student equals its dense teacher: the KL term is zero, the loss (1 − α) CE.
  const auto first_losses = [](bool distill) {
    nn::Trainer trainer(tiny_train(4), "");
    SparsifyConfig c = admm_config(2, 1, 0.05, 1.0);
    c.distill = distill;
    c.alpha = 0.25;
    NmSparsifier s(c, trainer.params());
    s.attach(trainer);
    return trainer.run(nullptr).losses;
  };
  const std::vector<double> plain = first_losses(false), kd = first_losses(true);
  EXPECT_NEAR(kd[0], 0.75 * plain[0], 1e-4);
  EXPECT_GT(std::abs(kd[1] - 0.75 * plain[1]), 1e-6);
}

TEST_F(NmSparsifyCuda, OptimizerOnTheHostIsAConfigError) {
  nn::Trainer trainer(tiny_train(4, "  optimizer_placement: host\n"), "");
  NmSparsifier s(admm_config(2, 1, 0.05, 1.0), trainer.params());
  try {
    s.attach(trainer);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("train.optimizer_placement"), std::string::npos)
        << e.what();
  }
}

// The registered experiment through the tool: ADMM + KD with backend cuda, 2:4.
TEST_F(NmSparsifyCuda, RegisteredExperimentRunsOnTheGpuAndPassesItsCheck) {
  tessel::testing::TempDir dir;
  tessel::testing::write_text(
      dir.path() / "admm_w.yaml",
      "data:\n  synthetic_chars: 5000\nmodel:\n  layers: 1\n  width: 16\n  heads: 2\n"
      "train:\n  backend: cuda\n  batch_size: 4\n  seq_len: 16\n  steps: 30\n  lr: 3.0e-3\n"
      "  threads: 1\n  log_every: 10\neval:\n  every: 15\n  batches: 1\nsparsify:\n"
      "  pattern: \"2:4\"\n  admm:\n    steps: 20\n    interval: 5\n    rho: 1.0\n"
      "    rho_growth: 1.5\n  distill:\n    temperature: 2\n    alpha: 0.5\n");
  tessel::testing::write_text(
      dir.path() / "admm.yaml",
      "name: admm\nseed: 1\nhw:\n  model: nm_sparsify.admm\nworkload: admm_w.yaml\n");
  const auto r = tessel::testing::run_tool(std::string(TESSEL_BINARY_DIR) + "/tessel_fault_tool",
                                           "run admm.yaml --out admm", dir.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const nlohmann::json j =
      nlohmann::json::parse(tessel::testing::read_text(dir.path() / "admm" / "result.json"));
  EXPECT_EQ(j["labels"]["backend"], "cuda");
  EXPECT_EQ(j["metrics"]["admm_updates"], 4);
  EXPECT_EQ(j["metrics"]["zero_fraction"], 0.5);
  ASSERT_EQ(j["checks"].size(), 1u);
  EXPECT_TRUE(j["checks"][0]["passed"].get<bool>()) << j.dump(2);
  for (const char* layer : {"h0.w_qkv", "h0.w_proj", "h0.w_fc", "h0.w_fc2"}) {
    const auto m = sparse::load_mask(
        (dir.path() / "admm" / "masks" / (std::string(layer) + ".mask")).string());
    EXPECT_EQ(m.mask.kept() * 2, m.mask.rows * m.mask.cols) << layer;
  }
  EXPECT_TRUE(fs::exists(dir.path() / "admm" / "admm_state.bin"));
}

}  // namespace
}  // namespace tessel::nm_sparsify
