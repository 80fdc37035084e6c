// Sweep overhead per design point (child spawn + config load + result append), measured
// against running the same trivial point in-process in the same benchmark run.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/core/runner.h"

namespace {

namespace fs = std::filesystem;
const std::string kTool = std::string(TESSEL_BINARY_DIR) + "/tessel";
constexpr int kPoints = 32;

// A point whose model work is negligible: the analytical MAC-array twin on a 16^3 GEMM.
fs::path make_sweep() {
  fs::path dir = fs::temp_directory_path() / "tessel_sweep_bench";
  fs::create_directories(dir);
  std::ofstream(dir / "exp.yaml") << "hw:\n  include: " << TESSEL_SOURCE_DIR
                                  << "/configs/hw/mac_array/analytical.yaml\n"
                                  << "workload: {kind: gemm, m: 16, n: 16, k: 16}\n";
  std::ofstream sweep(dir / "s.yaml");
  sweep << "name: bench\nexperiment: exp.yaml\ngrid:\n  hw.rows: [";
  for (int i = 1; i <= kPoints; ++i) sweep << i << (i < kPoints ? ", " : "]\n");
  return dir;
}

void BM_PointInProcess(benchmark::State& state) {
  fs::path dir = make_sweep();
  for (auto _ : state) {
    tessel::Config exp = tessel::load_experiment((dir / "exp.yaml").string());
    benchmark::DoNotOptimize(tessel::run_experiment(exp).cycles);
  }
}
BENCHMARK(BM_PointInProcess)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SweepPerPoint(benchmark::State& state) {
  fs::path dir = make_sweep();
  const std::string cmd = "cd '" + dir.string() + "' && rm -rf out && '" + kTool +
                          "' sweep s.yaml -j 1 --no-report --out out >/dev/null 2>&1";
  for (auto _ : state)
    if (std::system(cmd.c_str()) != 0) state.SkipWithError("tessel sweep failed");
  // Real time per iteration covers kPoints points; items/s is points per second.
  state.SetItemsProcessed(state.iterations() * kPoints);
}
BENCHMARK(BM_SweepPerPoint)->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
