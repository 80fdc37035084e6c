// Simulation speed of whole systems: simulated accelerator cycles per host CPU second, on the
// analytical link (the baseline, measured in the same run) and with the off-chip port bound
// to DDR4-3200, HBM2e and HBM3 (every request through the DRAM model), for
// - the README's quickstart-sized machines: LSTM-Sharp (configs/sweeps/quickstart.yaml's
//   three workloads at 1K and 16K MACs, weights resident: the memory carries the input and
//   output sequences and the first weight load), the speed goal;
// - LSTM-Sharp with half its weight SRAM, weights streamed every step (the systems study's
//   Google LSTM point: memory-bound, every DRAM burst simulated);
// - the N:M unit on a BERT FFN layer at 2:4 (memory-bound on DDR, ~9 HBM bursts a cycle).
// SystemC elaborates once per process, so each run is a forked child (tests/sim/in_child.h)
// that reports its own times; the CPU time counts preparation and simulation, not the fork.

#include <chrono>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "runtime/core/config.h"
#include "runtime/core/cpu_time.h"
#include "runtime/core/runner.h"
#include "tests/sim/in_child.h"

namespace {

struct ChildResult {
  double seconds = NAN, cpu_seconds = NAN, cycles = 0;
};

// One run of `hw_file` (under configs/hw) with `memory` set to `link` or a preset of
// configs/hw/memory, and `sets` applied (key, YAML value) to the machine and the workload.
ChildResult run_child(const std::string& hw_file, const std::string& workload_yaml,
                      const std::string& memory,
                      const std::vector<std::pair<std::string, std::string>>& sets) {
  const std::string bytes = tessel::testing::in_child_bytes([&] {
    const std::string root = TESSEL_SOURCE_DIR;
    tessel::Config machine = tessel::Config::load(root + "/configs/hw/" + hw_file, "hw");
    machine.set("memory", tessel::Config::parse(
                              memory == "link" ? memory : root + "/configs/hw/memory/" + memory,
                              "system_bench", "hw.memory"));
    tessel::Config workload =
        workload_yaml.front() == '{'
            ? tessel::Config::parse(workload_yaml, "system_bench", "workload")
            : tessel::Config::load(root + "/configs/workloads/" + workload_yaml, "workload");
    for (const auto& [key, value] : sets) {
      const bool hw = key.rfind("hw.", 0) == 0;
      tessel::Config& target = hw ? machine : workload;
      target.set(key.substr(hw ? 3 : 9), tessel::Config::parse(value, "system_bench", key));
    }
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

// A benchmark iteration runs every point of `points` (hw file, workload, sets) on `memory`
// and counts their simulated cycles over their CPU time together.
struct Point {
  std::string hw_file, workload;
  std::vector<std::pair<std::string, std::string>> sets;
};

const std::vector<Point>& quickstart_points() {
  static const std::vector<Point> points = [] {
    std::vector<Point> v;
    for (const char* w : {"lstm/show_tell.yaml", "lstm/char_rnn.yaml", "lstm/ptb_medium.yaml"})
      for (const char* budget : {"1024", "16384"})
        v.push_back({"lstm_sharp/base.yaml", w, {{"hw.mac_budget", budget}}});
    return v;
  }();
  return points;
}

const std::vector<Point>& streamed_points() {
  static const std::vector<Point> points = {{"lstm_sharp/base.yaml",
                                             "lstm/google_lstm_2048.yaml",
                                             {{"hw.weight_sram.kib_per_tile", "8192"},
                                              {"hw.offchip.max_outstanding", "1024"},
                                              {"workload.seq_len", "8"}}}};
  return points;
}

// BERT-base FFN up-projection at 2:4, 128 tokens (configs/sweeps/systems/nm_unit_memory.yaml's
// first shape) on configs/hw/nm_unit/hbm2e.yaml.
const std::vector<Point>& nm_unit_points() {
  static const std::vector<Point> points = {
      {"nm_unit/hbm2e.yaml",
       "{kind: gemm, m: 3072, n: 128, k: 768, pattern: \"2:4\", functional: false}",
       {}}};
  return points;
}

void system_bench(benchmark::State& state, const std::vector<Point>& points,
                  const std::string& memory) {
  double cycles = 0, cpu = 0;
  for (auto _ : state) {
    double seconds = 0;
    for (const Point& p : points) {
      const ChildResult r = run_child(p.hw_file, p.workload, memory, p.sets);
      if (std::isnan(r.seconds)) {
        state.SkipWithError("child run failed");
        return;
      }
      seconds += r.seconds;
      cycles += r.cycles;
      cpu += r.cpu_seconds;
    }
    state.SetIterationTime(seconds);
  }
  state.counters["sim_cycles"] = cycles / static_cast<double>(state.iterations());
  state.counters["cycles_per_cpu_s"] = cycles / cpu;
}

// Registered in a loop: every set of points on every memory it is measured on.
const bool kRegistered = [] {
  const std::vector<std::string> all = {"link", "ddr4_3200.yaml", "hbm2e.yaml", "hbm3.yaml"};
  const struct {
    const char* name;
    const std::vector<Point>& points;
    std::vector<std::string> memories;
  } sets[] = {{"LstmSharpQuickstart", quickstart_points(), all},
              {"LstmSharpStreamed", streamed_points(), {"link", "ddr4_3200.yaml", "hbm2e.yaml"}},
              {"NmUnit", nm_unit_points(), all}};
  for (const auto& set : sets)
    for (const std::string& memory : set.memories) {
      const std::string name =
          std::string("BM_") + set.name + "/" + memory.substr(0, memory.find('.'));
      benchmark::RegisterBenchmark(
          name.c_str(),
          // The point lists are function-local statics; `sets` is gone when this runs.
          [points = &set.points, memory](benchmark::State& s) { system_bench(s, *points, memory); })
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond)
          ->Iterations(3);
    }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
