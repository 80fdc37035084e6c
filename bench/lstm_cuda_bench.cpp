// GPU LSTM inference time: Tessel's persistent kernel vs cuDNN, 2 layers, 100 steps.
// The configurations of the PyTorch/cuDNN anchors (hidden 256..1536, batch 1 and 64, fp32/fp16).
// Prints a speed-up table (cuDNN time / persistent-kernel time) measured in the same run.
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include <benchmark/benchmark.h>

#include "models/lstm/lstm_cuda.h"
#include "runtime/core/error.h"

namespace {

using namespace tessel::lstm;

constexpr int kLayers = 2;
constexpr int kSteps = 100;

// Mean seconds per forward pass, keyed by (hidden, batch, fp16, cudnn).
std::map<std::tuple<int, int, bool, bool>, double> g_seconds;

template <typename Impl>
void run_lstm(benchmark::State& state, int hid, int batch, CudaPrecision prec, bool cudnn) {
  const LstmWeights w = LstmWeights::random({hid, hid, kLayers, false}, 1);
  const Sequence x = random_sequence(kSteps, hid, batch, 2);
  std::unique_ptr<Impl> made;
  try {  // a backend that fails skips its rows instead of ending the whole run
    made = std::make_unique<Impl>(w, batch, kSteps, prec);
    made->upload(x, nullptr);
    made->run();  // warm-up: first launch pays module loading and cuDNN plan selection
  } catch (const tessel::Error& e) {
    state.SkipWithError(e.what());
    return;
  }
  Impl& impl = *made;
  double total = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    impl.run();  // returns after the device finished
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(s);
    total += s;
  }
  g_seconds[{hid, batch, prec == CudaPrecision::kFp16, cudnn}] = total / state.iterations();
  const double flops = 2.0 * kSteps * batch * kLayers * 4.0 * hid * (2.0 * hid);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * state.iterations() / 1e9 / total);
  if constexpr (std::is_same_v<Impl, CudaLstm>)
    state.counters["w_on_chip"] = impl.weights_on_chip();
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (cuda_device_count() == 0) {
    std::printf("lstm_cuda_bench: no CUDA device; skipping all benchmarks\n");
    return 0;
  }
  for (bool fp16 : {false, true}) {
    for (int batch : {1, 64}) {
      for (int hid : {256, 512, 1024, 1536}) {
        const CudaPrecision prec = fp16 ? CudaPrecision::kFp16 : CudaPrecision::kFp32;
        const std::string tag = std::string(fp16 ? "fp16" : "fp32") + "/h" + std::to_string(hid) +
                                "/b" + std::to_string(batch);
        benchmark::RegisterBenchmark(
            ("persistent/" + tag).c_str(),
            [=](benchmark::State& s) { run_lstm<CudaLstm>(s, hid, batch, prec, false); })
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond)
            ->MinTime(0.2);
        if (cudnn_compiled())
          benchmark::RegisterBenchmark(
              ("cudnn/" + tag).c_str(),
              [=](benchmark::State& s) { run_lstm<CudnnLstm>(s, hid, batch, prec, true); })
              ->UseManualTime()
              ->Unit(benchmark::kMillisecond)
              ->MinTime(0.2);
      }
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::printf(
      "\n| dtype | batch | hidden | persistent ms | cuDNN ms | speed-up |\n"
      "|---|---|---|---|---|---|\n");
  for (const auto& [key, ours] : g_seconds) {
    const auto [hid, batch, fp16, cudnn] = key;
    if (cudnn) continue;
    const auto it = g_seconds.find({hid, batch, fp16, true});
    if (it == g_seconds.end()) {
      std::printf("| %s | %d | %d | %.3f | - | - |\n", fp16 ? "fp16" : "fp32", batch, hid,
                  ours * 1e3);
    } else {
      std::printf("| %s | %d | %d | %.3f | %.3f | %.2fx |\n", fp16 ? "fp16" : "fp32", batch, hid,
                  ours * 1e3, it->second * 1e3, it->second / ours);
    }
  }
  return 0;
}
