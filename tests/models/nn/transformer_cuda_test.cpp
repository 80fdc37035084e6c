// The CUDA Transformer against the CPU one: loss, logits, every gradient, AdamW, layer
// skip, masks, truncation, mixed precision, ZeRO-Offload's transfers and trainer runs
// (skips without a GPU).
#include "models/nn/transformer_cuda.h"

#include <gtest/gtest.h>

#include <cmath>

#include "models/common/rng.h"
#include "models/cpu_adam/half.h"
#include "models/nn/offload_optimizer.h"
#include "models/nn/trainer.h"

namespace tessel::nn {
namespace {

TransformerConfig config() {
  TransformerConfig c;
  c.vocab_size = 50;
  c.max_seq = 32;
  c.layers = 2;
  c.width = 64;
  c.heads = 4;
  return c;
}

data::TokenBatch batch(int b, int seq, uint64_t seed) {
  Rng rng(seed);
  data::TokenBatch out;
  out.batch = b;
  out.seq = seq;
  for (int i = 0; i < b * seq; ++i) {
    out.tokens.push_back(static_cast<int32_t>(rng.next_u64() % 50));
    out.targets.push_back(static_cast<int32_t>(rng.next_u64() % 50));
  }
  out.targets[1] = -1;
  return out;
}

// Largest |a - b| over a parameter, relative to the parameter's largest CPU gradient.
double worst_param_error(const ParamStore<float>& cpu, const std::vector<float>& gpu,
                         std::string* which) {
  double worst = 0;
  for (const auto& p : cpu.infos()) {
    double scale = 1e-6, err = 0;
    for (int64_t k = 0; k < p.size(); ++k) {
      scale = std::max(scale, double(std::abs(cpu.grads()[p.offset + k])));
      err = std::max(err, double(std::abs(cpu.grads()[p.offset + k] - gpu[p.offset + k])));
    }
    if (err / scale > worst) worst = err / scale, *which = p.name;
  }
  return worst;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  return ab / std::sqrt(aa * bb);
}

class CudaNn : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  }
  // Runs both backends on one batch; returns the GPU gradients (host layout).
  std::vector<float> both(Transformer<float>& cpu, CudaTransformer& gpu, const data::TokenBatch& b,
                          const StepOptions& o, float* cpu_loss, float* gpu_loss) {
    cpu.params().zero_grad();
    *cpu_loss = cpu.forward_backward(b, o);
    gpu.upload_params(cpu.params());
    gpu.zero_grad();
    *gpu_loss = gpu.forward_backward(b, o);
    ParamStore<float> g = cpu.params();
    gpu.download_grads(g);
    return g.grads();
  }
};

// fp32: the same sums in another order; 1e-3 of each parameter's gradient scale.
TEST_F(CudaNn, Fp32ForwardAndBackwardMatchCpu) {
  Transformer<float> cpu(config());
  cpu.init(1);
  CudaTransformer gpu(config(), 4 * 32, Precision::kFp32);
  const data::TokenBatch b = batch(4, 32, 2);
  float lc = 0, lg = 0;
  const auto g = both(cpu, gpu, b, {}, &lc, &lg);
  EXPECT_NEAR(lg, lc, 1e-4);
  EXPECT_LT((gpu.logits() - cpu.logits()).cwiseAbs().maxCoeff(), 1e-3);
  std::string which;
  EXPECT_LT(worst_param_error(cpu.params(), g, &which), 1e-3) << which;
}

// PLD's paper baseline layout, full length and truncated, at the same tolerance.
TEST_F(CudaNn, PostLayerNormMatchesCpu) {
  TransformerConfig c = config();
  c.norm = Norm::kPostLN;
  Transformer<float> cpu(c);
  cpu.init(11);
  CudaTransformer gpu(c, 4 * 32, Precision::kFp32);
  for (int seq : {32, 8}) {
    const data::TokenBatch b = batch(4, seq, 12 + seq);
    float lc = 0, lg = 0;
    const auto g = both(cpu, gpu, b, {}, &lc, &lg);
    EXPECT_NEAR(lg, lc, 1e-4) << "seq " << seq;
    EXPECT_LT((gpu.logits() - cpu.logits()).cwiseAbs().maxCoeff(), 1e-3) << "seq " << seq;
    std::string which;
    EXPECT_LT(worst_param_error(cpu.params(), g, &which), 1e-3) << which << ", seq " << seq;
  }
  StepOptions drop;
  drop.layer_scale = {1.0, 1.0};
  EXPECT_THROW(gpu.loss(batch(4, 32, 13), drop), Error);
}

TEST_F(CudaNn, LayerSkipMaskAndTruncationMatchCpu) {
  Transformer<float> cpu(config());
  cpu.init(3);
  const int id = cpu.params().index("h1.w_fc");
  std::vector<float> mask(static_cast<std::size_t>(cpu.params().info(id).size()));
  for (std::size_t k = 0; k < mask.size(); ++k) mask[k] = (k % 4) < 2;
  cpu.params().set_mask(id, mask);
  CudaTransformer gpu(config(), 4 * 32, Precision::kFp32);
  StepOptions o;
  o.layer_scale = {0.0, 2.0};
  float lc = 0, lg = 0;
  const auto g = both(cpu, gpu, batch(4, 32, 4).truncated(12), o, &lc, &lg);
  EXPECT_NEAR(lg, lc, 1e-4);
  std::string which;
  EXPECT_LT(worst_param_error(cpu.params(), g, &which), 1e-3) << which;
  const auto& info = cpu.params().info(id);
  for (int64_t k = 0; k < info.size(); ++k)
    if (mask[static_cast<std::size_t>(k)] == 0) {
      ASSERT_EQ(g[info.offset + k], 0.0f);
    }
}

// bf16/fp16 GEMM inputs carry 8/11 significant bits: the loss within 2e-2 nats, and the
// gradient pointing the same way (cosine > 0.99).
TEST_F(CudaNn, MixedPrecisionStaysCloseToFp32) {
  for (Precision p : {Precision::kBf16, Precision::kFp16}) {
    Transformer<float> cpu(config());
    cpu.init(5);
    CudaTransformer gpu(config(), 4 * 32, p);
    float lc = 0, lg = 0;
    const auto g = both(cpu, gpu, batch(4, 32, 6), {}, &lc, &lg);
    EXPECT_NEAR(lg, lc, 2e-2) << precision_name(p);
    EXPECT_GT(cosine(g, cpu.params().grads()), 0.99) << precision_name(p);
  }
}

TEST_F(CudaNn, DeviceAdamWMatchesHostAdamW) {
  Transformer<float> cpu(config());
  cpu.init(7);
  CudaTransformer gpu(config(), 4 * 32, Precision::kFp32);
  float lc = 0, lg = 0;
  both(cpu, gpu, batch(4, 32, 8), {}, &lc, &lg);
  AdamWConfig ac;
  AdamW host(ac, static_cast<std::size_t>(cpu.params().size()));
  const double norm_cpu = clip_grad_norm(cpu.params().grads(), 0.5);
  host.step(cpu.params(), 1e-3);
  const double norm_gpu = gpu.clip_and_adamw(ac, 1e-3, 1, 0.5);
  EXPECT_NEAR(norm_gpu, norm_cpu, 1e-3 * norm_cpu);
  ParamStore<float> after = cpu.params();
  gpu.download_params(after);
  // AdamW's first step moves each weight by about lr · g/|g|, so an element whose gradient
  // is within rounding of zero may move either way on the two backends (up to 2·lr apart);
  // every other element must agree to 2e-5.
  std::size_t off = 0;
  for (std::size_t k = 0; k < after.values().size(); ++k) {
    const double d = std::abs(after.values()[k] - cpu.params().values()[k]);
    ASSERT_LE(d, 2.1e-3) << k;
    off += d > 2e-5;
  }
  EXPECT_LE(off, after.values().size() / 10000) << off << " elements differ by more than 2e-5";
}

// End to end: 20 trainer steps on each backend follow the same loss curve, and the
// offload placement (AdamW on the host) follows it too.
TEST_F(CudaNn, TrainerTrajectoryMatchesCpu) {
  const std::string yaml =
      "seed: 3\ndata:\n  synthetic_chars: 20000\nmodel:\n  layers: 2\n  width: 32\n  heads: 4\n"
      "eval:\n  every: 20\n  batches: 2\ntrain:\n  batch_size: 8\n  seq_len: 32\n  steps: 20\n"
      "  lr: 3.0e-3\n  warmup: 5\n  threads: 1\n";
  Trainer cpu(TrainConfig::from_config(Config::parse(yaml, "cpu.yaml")), "");
  Trainer gpu(TrainConfig::from_config(Config::parse(yaml + "  backend: cuda\n", "gpu.yaml")), "");
  Trainer offload(TrainConfig::from_config(Config::parse(
                      yaml + "  backend: cuda\n  optimizer_placement: host\n", "off.yaml")),
                  "");
  const TrainResult a = cpu.run(nullptr), b = gpu.run(nullptr), c = offload.run(nullptr);
  for (int i = 0; i < 20; ++i) {
    EXPECT_NEAR(b.losses[i], a.losses[i], 2e-3) << "step " << i;
    EXPECT_NEAR(c.losses[i], a.losses[i], 2e-3) << "step " << i;
  }
  EXPECT_NEAR(b.evals.back().val_loss, a.evals.back().val_loss, 2e-3);
}

// PLD and SLW on the GPU (issue 16): the trainer draws the same dropped blocks and the same
// truncated lengths on both backends, so the per-step losses must follow the CPU's; the GPU
// must skip a dropped block (identity) and run a short batch at its own length.
TEST_F(CudaNn, PldAndSlwTrajectoriesMatchCpu) {
  const std::string yaml =
      "seed: 5\ndata:\n  synthetic_chars: 20000\nmodel:\n  layers: 4\n  width: 32\n  heads: 4\n"
      "eval:\n  every: 30\n  batches: 2\ntrain:\n  batch_size: 8\n  seq_len: 32\n  steps: 30\n"
      "  lr: 3.0e-3\n  warmup: 5\n  threads: 1\n"
      "layer_drop:\n  theta_bar: 0.5\n  gamma: 0.1\n"
      "curriculum:\n  schedule: fixed_linear\n  start_seq_len: 8\n  steps: 20\n";
  Trainer cpu(TrainConfig::from_config(Config::parse(yaml, "cpu.yaml")), "");
  Trainer gpu(TrainConfig::from_config(Config::parse(yaml + "  backend: cuda\n", "gpu.yaml")), "");
  const TrainResult a = cpu.run(nullptr), b = gpu.run(nullptr);
  ASSERT_EQ(a.losses.size(), 30u);
  ASSERT_EQ(b.losses.size(), 30u);
  for (int i = 0; i < 30; ++i) EXPECT_NEAR(b.losses[i], a.losses[i], 2e-3) << "step " << i;
  // Evaluation runs the full model at the full length on both.
  EXPECT_NEAR(b.evals.back().val_loss, a.evals.back().val_loss, 2e-3);
  EXPECT_EQ(a.tokens_total, b.tokens_total);
}

// ZeRO-Offload's device side: after backward every gradient bucket has reached pinned host
// memory as round16(g · loss_scale) of the device's own fp32 gradient (models/cpu_adam/
// half.h's rounding, the one the CPU link uses), a skipped block's bucket included.
TEST_F(CudaNn, OffloadBucketsHoldTheRoundedDeviceGradients) {
  for (const bool bf16 : {false, true}) {
    SCOPED_TRACE(bf16 ? "bf16" : "fp16");
    TransformerConfig cfg = config();
    cfg.layers = 3;
    Transformer<float> cpu(cfg);
    cpu.init(11);
    CudaTransformer gpu(cfg, 4 * 32, Precision::kFp32);
    gpu.upload_params(cpu.params());
    const float loss_scale = bf16 ? 1.0f : 1024.0f;
    const CudaTransformer::OffloadBuffers buffers = gpu.enable_offload(bf16, loss_scale);
    ASSERT_EQ(buffers.size, cpu.params().size());
    StepOptions o;
    o.layer_scale = {1.0, 0.0, 2.0};  // block 1 skipped: its bucket is all zeros
    // Step 0 is not waited for: step 1's conversions must wait for its copies themselves.
    // Step 2 reuses the buffers and events once more.
    for (int step = 0; step < 3; ++step) {
      gpu.zero_grad();
      gpu.forward_backward(batch(4, 32, 40 + step), o);
      if (step == 0) continue;
      gpu.wait_offload_gradients();
      ParamStore<float> g = cpu.params();
      gpu.download_grads(g);
      int64_t nonzero = 0;
      for (int64_t k = 0; k < g.size(); ++k) {
        const float x = g.grads()[k] * loss_scale;
        const uint16_t want = bf16 ? cpu_adam::fp32_to_bf16(x) : cpu_adam::fp32_to_fp16(x);
        ASSERT_EQ(buffers.grads[k], want) << "step " << step << " parameter element " << k;
        nonzero += (buffers.grads[k] & 0x7FFFu) != 0;
      }
      EXPECT_GT(nonzero, g.size() / 2);
      const ParamInfo& skipped = g.info(g.index("h1.w_fc"));
      for (int64_t k = skipped.offset; k < skipped.offset + skipped.size(); ++k)
        ASSERT_EQ(buffers.grads[k] & 0x7FFFu, 0) << k;
      // The timeline's device spans: one copy per bucket (LN_f, 3 blocks, embeddings), in
      // order on the copy stream, the first during backward, the last after it.
      const CudaTransformer::OffloadTimes t = gpu.offload_times();
      ASSERT_EQ(t.copy_begin_ns.size(), 5u);
      ASSERT_EQ(t.copy_end_ns.size(), 5u);
      EXPECT_LT(t.forward_begin_ns, t.backward_end_ns);
      for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_LE(t.copy_begin_ns[i], t.copy_end_ns[i]) << i;
        if (i) EXPECT_LE(t.copy_end_ns[i - 1], t.copy_begin_ns[i]) << i;
      }
      EXPECT_LT(t.copy_begin_ns[0], t.backward_end_ns);
      EXPECT_GE(t.copy_end_ns[4], t.backward_end_ns);
      EXPECT_EQ(t.upload_end_ns, 0);  // no upload in this step
    }
  }
}

// The upload: the device parameters become exactly the float values of the 16-bit copy, and
// the forward reads them (the loss equals the CPU model's on those values).
TEST_F(CudaNn, OffloadUploadWidensTheSixteenBitCopy) {
  Transformer<float> cpu(config());
  cpu.init(12);
  CudaTransformer gpu(config(), 4 * 32, Precision::kFp32);
  gpu.upload_params(cpu.params());
  // Straight after enable_offload (whose zeroing of the device buffer is still queued on the
  // compute stream) and twice in a row: the second copy must not overtake the first
  // widening, nor the first copy the zeroing.
  const CudaTransformer::OffloadBuffers buffers = gpu.enable_offload(false, 1.0f);
  for (int64_t k = 0; k < buffers.size; ++k)
    buffers.params[k] = cpu_adam::fp32_to_fp16(-cpu.params().values()[k]);
  gpu.upload_offload_params();
  std::vector<float>& values = cpu.params().values();
  for (int64_t k = 0; k < buffers.size; ++k) {
    buffers.params[k] = cpu_adam::fp32_to_fp16(values[k] * 1.5f);
    values[k] = cpu_adam::fp16_to_fp32(buffers.params[k]);
  }
  gpu.upload_offload_params();
  ParamStore<float> got = cpu.params();
  gpu.download_params(got);
  EXPECT_EQ(got.values(), values);
  const data::TokenBatch b = batch(4, 32, 44);
  EXPECT_NEAR(gpu.loss(b), cpu.loss(b), 1e-4);
}

// End to end: offloaded training on the GPU (16-bit transfers, CPU-Adam on the host, the
// delayed update from step 6) follows the CPU link's run of the same semantics, and the
// device holds only values on the fp16 grid.
TEST_F(CudaNn, OffloadTrainerMatchesCpuOffload) {
  const std::string yaml =
      "seed: 3\ndata:\n  synthetic_chars: 20000\nmodel:\n  layers: 2\n  width: 32\n  heads: 4\n"
      "eval:\n  every: 20\n  batches: 2\ntrain:\n  batch_size: 8\n  seq_len: 32\n  steps: 20\n"
      "  lr: 3.0e-3\n  warmup: 5\n  threads: 1\n"
      "  offload: {precision: fp16, loss_scale: 1024, dpu_warmup: 6}\n";
  Trainer cpu(TrainConfig::from_config(Config::parse(yaml, "cpu.yaml")), "");
  Trainer gpu(TrainConfig::from_config(Config::parse(yaml + "  backend: cuda\n", "gpu.yaml")), "");
  ASSERT_NE(dynamic_cast<OffloadOptimizer*>(gpu.offload_engine()), nullptr);
  const TrainResult a = cpu.run(nullptr), b = gpu.run(nullptr);
  ASSERT_EQ(b.losses.size(), 20u);
  // Wider than the fp32 trajectories' 2e-3: a GPU gradient or master value that differs
  // from the CPU's in its last fp32 bits can round to the neighbouring 16-bit value.
  for (int i = 0; i < 20; ++i) EXPECT_NEAR(b.losses[i], a.losses[i], 5e-3) << "step " << i;
  EXPECT_NEAR(b.evals.back().val_loss, a.evals.back().val_loss, 5e-3);
  for (float x : gpu.params().values())
    ASSERT_EQ(x, cpu_adam::fp16_to_fp32(cpu_adam::fp32_to_fp16(x)));
  auto* engine = dynamic_cast<OffloadOptimizer*>(gpu.offload_engine());
  engine->wait();
  EXPECT_EQ(engine->async_updates(), 20 - 6);
  EXPECT_EQ(engine->skipped_steps(), 0);
}

}  // namespace
}  // namespace tessel::nn
