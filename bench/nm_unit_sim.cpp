// Simulator speed of the N:M unit: simulated cycles per host second, SystemC vs analytical twin.
//
// SystemC elaborates once per process, so the cycle-level model runs exactly once here
// (Iterations(1)); the twin runs as often as Google Benchmark likes. Both report simulated
// cycles per host second, measured in the same run.
#include <benchmark/benchmark.h>

#include <chrono>

#include "runtime/core/runner.h"

namespace {

// BERT-base FFN up-projection at 4096 tokens, 2:4, timing only (configs/experiments/
// nm_unit_gemm.yaml with n = 4096): 12,288 steps through loader, decoder, array and storer.
tessel::Config experiment(const char* model) {
  return tessel::load_experiment(
      std::string(TESSEL_SOURCE_DIR) + "/configs/experiments/nm_unit_gemm.yaml",
      {tessel::parse_override(std::string("hw.model=") + model),
       tessel::parse_override("workload.n=4096")});
}

void systemc_model(benchmark::State& state) {
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    tessel::SimResult r = tessel::run_experiment(experiment("nm_unit"));
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.counters["sim_cycles_per_s"] = static_cast<double>(r.cycles) / s;
  }
}

void analytical_twin(benchmark::State& state) {
  uint64_t cycles = 0;
  for (auto _ : state) {
    tessel::SimResult r = tessel::run_experiment(experiment("nm_unit_analytical"));
    cycles += r.cycles;
  }
  state.counters["sim_cycles_per_s"] =
      benchmark::Counter(static_cast<double>(cycles), benchmark::Counter::kIsRate);
}

BENCHMARK(systemc_model)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(analytical_twin)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
