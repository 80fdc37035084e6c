// CUDA N:M kernels vs cuBLAS dense fp16 (device time, same run); skips without a GPU.
#include <benchmark/benchmark.h>

#include "models/sparse/nm_gemm_cuda.h"

namespace {

// Arguments: out, K, tokens. BERT-base FFN (3072 x 768 x 4096 tokens), the H100 anchor's
// 8192^3, and 1024^3.
void gpu_gemms(benchmark::State& state) {
  using namespace tessel::sparse;
  if (cuda_device_count() == 0) {
    state.SkipWithError("no CUDA device");
    return;
  }
  CudaTimings t{};
  for (auto _ : state) {
    t = cuda_time_gemms(state.range(0), state.range(1), state.range(2), 20);
    state.SetIterationTime(t.tc_fp16_ms / 1e3);
  }
  state.counters["cublas_fp16_ms"] = t.cublas_fp16_ms;
  state.counters["mma_sp_fp16_ms"] = t.tc_fp16_ms;
  state.counters["mma_sp_int8_ms"] = t.tc_int8_ms;
  state.counters["nm_int8_cudacore_ms"] = t.nm_int8_ms;
  state.counters["mma_sp_fp16_speedup_vs_cublas"] = t.cublas_fp16_ms / t.tc_fp16_ms;
}

BENCHMARK(gpu_gemms)
    ->Args({3072, 768, 4096})
    ->Args({1024, 1024, 1024})
    ->Args({8192, 8192, 8192})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
