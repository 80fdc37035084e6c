// GPU training speed of the results/train model: forward + backward + AdamW tokens/s per
// precision, against fp32 in the same run (skips itself without a GPU).
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include "models/common/rng.h"
#include "models/nn/transformer_cuda.h"

namespace {

using namespace tessel;
using namespace tessel::nn;

// Arg 0: precision (0 fp32, 1 bf16, 2 fp16); Arg 1: batch (× 128 tokens).
void BM_TransformerTrainStepCuda(benchmark::State& state) {
  if (cuda_device_count() == 0) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const auto precision = static_cast<Precision>(state.range(0));
  const int b = static_cast<int>(state.range(1));
  TransformerConfig c;
  c.vocab_size = 65;
  c.max_seq = 128;
  c.layers = 4;
  c.width = 128;
  c.heads = 4;
  Transformer<float> host(c);
  host.init(1);
  CudaTransformer gpu(c, int64_t(b) * 128, precision);
  gpu.upload_params(host.params());
  Rng rng(2);
  data::TokenBatch batch;
  batch.batch = b;
  batch.seq = 128;
  for (int i = 0; i < b * 128; ++i) {
    batch.tokens.push_back(static_cast<int32_t>(rng.next_u64() % 65));
    batch.targets.push_back(static_cast<int32_t>(rng.next_u64() % 65));
  }
  int64_t t = 0;
  for (auto _ : state) {
    gpu.zero_grad();
    benchmark::DoNotOptimize(gpu.forward_backward(batch));  // returns after the loss copy
    gpu.clip_and_adamw(AdamWConfig{}, 1e-3, ++t, 1.0);
    cudaDeviceSynchronize();
  }
  state.SetLabel(precision_name(precision));
  state.counters["tokens/s"] =
      benchmark::Counter(double(b) * 128 * state.iterations(), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_TransformerTrainStepCuda)
    ->ArgsProduct({{0, 1, 2}, {16, 128}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
