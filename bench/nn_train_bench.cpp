// CPU training speed of the results/train model (4 layers, 128 wide, vocab 65): forward +
// backward tokens/s per thread count, against Eigen's SGEMM rate on the same machine.
#include <benchmark/benchmark.h>
#include <omp.h>

#include "models/common/rng.h"
#include "models/nn/optimizer.h"
#include "models/nn/transformer.h"

namespace {

using namespace tessel;
using namespace tessel::nn;

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

// Matmul FLOPs per token of one training step: 6 per weight (forward 2, backward 4) for
// the block and head weights, plus the attention products (QKᵀ and PV: 2·T·C each
// forward, twice that backward, half of them masked but computed).
double flops_per_token(const TransformerConfig& c, int seq) {
  const double C = c.width, L = c.layers;
  const double weights = L * 12 * C * C + C * c.vocab_size;
  return 6 * weights + L * 3 * 4.0 * seq * C;
}

// Arg 0: OpenMP threads; batch 16 × 128 tokens (the results/train configuration).
void BM_TransformerTrainStepCpu(benchmark::State& state) {
  omp_set_num_threads(static_cast<int>(state.range(0)));
  Transformer<float> m(model());
  m.init(1);
  const data::TokenBatch b = batch(16, 128);
  AdamW opt(AdamWConfig{}, static_cast<std::size_t>(m.params().size()));
  for (auto _ : state) {
    m.params().zero_grad();
    benchmark::DoNotOptimize(m.forward_backward(b));
    clip_grad_norm(m.params().grads(), 1.0);
    opt.step(m.params(), 1e-3);
  }
  const double tokens = static_cast<double>(b.size()) * state.iterations();
  state.counters["tokens/s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(tokens * flops_per_token(model(), 128) * 1e-9,
                                                 benchmark::Counter::kIsRate);
}

// Forward only (evaluation speed).
void BM_TransformerForwardCpu(benchmark::State& state) {
  omp_set_num_threads(static_cast<int>(state.range(0)));
  Transformer<float> m(model());
  m.init(1);
  const data::TokenBatch b = batch(16, 128);
  for (auto _ : state) benchmark::DoNotOptimize(m.loss(b));
  state.counters["tokens/s"] = benchmark::Counter(
      static_cast<double>(b.size()) * state.iterations(), benchmark::Counter::kIsRate);
}

// Baseline: the block's largest GEMM shape (2048 tokens × 128 → 512) through Eigen, the
// rate the training step would reach if it were all GEMM.
void BM_EigenSgemmBaseline(benchmark::State& state) {
  omp_set_num_threads(static_cast<int>(state.range(0)));
  Matrix<float> x = Matrix<float>::Random(2048, 128), w = Matrix<float>::Random(128, 512),
                y(2048, 512);
  for (auto _ : state) {
    y.noalias() = x * w;
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * 2048 * 128 * 512 * 1e-9 * state.iterations(),
                                                 benchmark::Counter::kIsRate);
}

BENCHMARK(BM_EigenSgemmBaseline)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TransformerTrainStepCpu)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TransformerForwardCpu)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
