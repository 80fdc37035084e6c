// Simulation speed of whole systems: simulated accelerator cycles per host CPU second for
// the N:M unit on its analytical link (the baseline, measured in the same run) and with its
// off-chip port bound to DDR4-3200, HBM2e and HBM3 (every request through the DRAM model).
// SystemC elaborates once per process, so each iteration runs in a forked child
// (tests/sim/in_child.h) that reports its own times.

#include <chrono>
#include <cmath>
#include <cstring>
#include <string>

#include <benchmark/benchmark.h>

#include "runtime/core/config.h"
#include "runtime/core/cpu_time.h"
#include "runtime/core/runner.h"
#include "tests/sim/in_child.h"

namespace {

struct ChildResult {
  double seconds = NAN, cpu_seconds = NAN, cycles = 0;
};

// BERT-base FFN up-projection at 2:4, 128 tokens (configs/sweeps/systems/nm_unit_memory.yaml's
// first shape) on configs/hw/nm_unit/hbm2e.yaml with `memory` set to `link` or a preset.
ChildResult run_child(const std::string& memory) {
  const std::string bytes = tessel::testing::in_child_bytes([&] {
    const std::string root = TESSEL_SOURCE_DIR;
    tessel::Config machine = tessel::Config::load(root + "/configs/hw/nm_unit/hbm2e.yaml", "hw");
    machine.set("memory", tessel::Config::parse(
                              memory == "link" ? memory : root + "/configs/hw/memory/" + memory,
                              "system_bench", "hw.memory"));
    const tessel::Config workload = tessel::Config::parse(
        "{kind: gemm, m: 3072, n: 128, k: 768, pattern: \"2:4\", functional: false}",
        "system_bench", "workload");
    ChildResult r;
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = tessel::process_cpu_seconds();
    tessel::PreparedRun run = tessel::prepare_run(machine, workload, 1);
    const tessel::SimResult s = tessel::execute(run, nullptr);
    r.cpu_seconds = tessel::process_cpu_seconds() - c0;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.cycles = static_cast<double>(s.cycles);
    return std::string(reinterpret_cast<const char*>(&r), sizeof r);
  });
  ChildResult r;
  if (bytes.size() == sizeof r) std::memcpy(&r, bytes.data(), sizeof r);
  return r;
}

void system_bench(benchmark::State& state, const std::string& memory) {
  double cycles = 0, cpu = 0;
  for (auto _ : state) {
    const ChildResult r = run_child(memory);
    if (std::isnan(r.seconds)) {
      state.SkipWithError("child run failed");
      return;
    }
    state.SetIterationTime(r.seconds);
    cycles += r.cycles;
    cpu += r.cpu_seconds;
  }
  state.counters["sim_cycles"] = cycles / static_cast<double>(state.iterations());
  state.counters["cycles_per_cpu_s"] = cycles / cpu;
}

void BM_NmUnitOnLink(benchmark::State& s) {
  system_bench(s, "link");
}
void BM_NmUnitOnDdr4(benchmark::State& s) {
  system_bench(s, "ddr4_3200.yaml");
}
void BM_NmUnitOnHbm2e(benchmark::State& s) {
  system_bench(s, "hbm2e.yaml");
}
void BM_NmUnitOnHbm3(benchmark::State& s) {
  system_bench(s, "hbm3.yaml");
}
BENCHMARK(BM_NmUnitOnLink)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_NmUnitOnDdr4)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_NmUnitOnHbm2e)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_NmUnitOnHbm3)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
