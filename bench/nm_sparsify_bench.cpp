// NxMTransformer's overhead (issue 15, goal: an ADMM step within 10% of a masked
// fine-tuning step): one training step of the tinyshakespeare model size (4 layers × 128,
// vocab 65, batch 16 × 128, one thread) as nn::Trainer runs it — forward + backward, clip,
// the sparsifier's on_gradients work, AdamW, its on_step_end work — for
//   - dense: no sparsifier (reference),
//   - masked fine-tuning: 2:4 masks on every block weight, pruned values and gradients
//     zeroed around the optimizer (ASP, and ADMM after its hard projection),
//   - ADMM: ρ(W − Z + U) added to the gradients, no masks,
//   - ADMM with the Z/U update every 10 steps (the default admm.interval), so the update's
//     cost is amortised inside the timing,
// and the Z/U update alone (projection, dual, residuals, ρ growth).
// The ratio the goal is about: BM_AdmmStepWithUpdate / BM_MaskedFineTuneStep.
#include <benchmark/benchmark.h>
#include <omp.h>

#include "models/common/rng.h"
#include "models/nm_sparsify/nm_sparsify.h"
#include "models/nn/optimizer.h"
#include "models/nn/transformer.h"

namespace {

using namespace tessel;
using namespace tessel::nn;
using tessel::nm_sparsify::NmSparsifier;
using tessel::nm_sparsify::SparsifyConfig;

TransformerConfig model() {
  TransformerConfig c;
  c.vocab_size = 65;
  c.max_seq = 128;
  c.layers = 4;
  c.width = 128;
  c.heads = 4;
  return c;
}

data::TokenBatch batch(int b, int seq) {
  Rng rng(1);
  data::TokenBatch out;
  out.batch = b;
  out.seq = seq;
  for (int i = 0; i < b * seq; ++i) {
    out.tokens.push_back(static_cast<int32_t>(rng.next_u64() % 65));
    out.targets.push_back(static_cast<int32_t>(rng.next_u64() % 65));
  }
  return out;
}

SparsifyConfig admm_config() {
  SparsifyConfig c;
  c.pattern = {2, 4};
  c.admm_steps = 1000000;
  c.interval = 10;
  c.rho = 1e-3;
  c.rho_growth = 1.02;
  return c;
}

enum class Mode { kDense, kMasked, kAdmm, kAdmmWithUpdate };

void train_steps(benchmark::State& state, Mode mode) {
  omp_set_num_threads(1);
  Transformer<float> m(model());
  m.init(1);
  ParamStore<float>& p = m.params();
  const data::TokenBatch b = batch(16, 128);
  AdamW opt(AdamWConfig{}, static_cast<std::size_t>(p.size()));
  const SparsifyConfig c = admm_config();
  NmSparsifier s(c, p);
  if (mode == Mode::kMasked) s.prune(p);
  if (mode == Mode::kAdmm || mode == Mode::kAdmmWithUpdate) s.start_admm(p);
  int64_t step = 0;
  for (auto _ : state) {
    p.zero_grad();
    benchmark::DoNotOptimize(m.forward_backward(b));
    clip_grad_norm(p.grads(), 1.0);
    // The hooks exactly as NmSparsifier::attach installs them.
    if (mode == Mode::kMasked) s.enforce_masks(p);
    if (mode == Mode::kAdmm || mode == Mode::kAdmmWithUpdate) s.add_penalty_gradient(p);
    opt.step(p, 1e-3);
    if (mode == Mode::kMasked) s.enforce_masks(p);
    ++step;
    if (mode == Mode::kAdmmWithUpdate && step % c.interval == 0) s.update(step - 1, p);
  }
  state.counters["tokens/s"] = benchmark::Counter(
      static_cast<double>(b.size()) * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_DenseStep(benchmark::State& state) {
  train_steps(state, Mode::kDense);
}
void BM_MaskedFineTuneStep(benchmark::State& state) {
  train_steps(state, Mode::kMasked);
}
void BM_AdmmStep(benchmark::State& state) {
  train_steps(state, Mode::kAdmm);
}
void BM_AdmmStepWithUpdate(benchmark::State& state) {
  train_steps(state, Mode::kAdmmWithUpdate);
}

// One Z/U update alone; divide by admm.interval for its share of a step.
void BM_AdmmUpdate(benchmark::State& state) {
  omp_set_num_threads(1);
  Transformer<float> m(model());
  m.init(1);
  ParamStore<float>& p = m.params();
  NmSparsifier s(admm_config(), p);
  s.start_admm(p);
  int64_t step = 0;
  for (auto _ : state) benchmark::DoNotOptimize(s.update(step++, p).primal);
}

BENCHMARK(BM_DenseStep)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MaskedFineTuneStep)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AdmmStep)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AdmmStepWithUpdate)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AdmmUpdate)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
