// LSTM-Sharp simulator speed: simulated cycles per host second of the SystemC model
// (timing mode, 16 tiles) and design points per second of the analytical twin, with the
// twin's own per-point cost as the in-run baseline for the ratio.
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "runtime/core/runner.h"
#include "sim/lstm_sharp/analytical.h"
#include "sim/lstm_sharp/workload_plan.h"

namespace {

using namespace tessel;

Config experiment(const char* model, int hidden, const char* schedule) {
  char buf[1024];
  std::snprintf(
      buf, sizeof buf,
      "hw:\n  include: %s/configs/hw/lstm_sharp/base.yaml\n  model: %s\n"
      "  tiles: 16\n  mac_budget: 16384\n  schedule: %s\n"
      "workload: {kind: lstm, input_size: %d, hidden_size: %d, layers: 2, seq_len: 200}\n",
      TESSEL_SOURCE_DIR, model, schedule, hidden, hidden);
  // Written to a file: `include:` is resolved by Config::load, not by Config::parse.
  const std::string path = "/tmp/tessel_lstm_sharp_bench.yaml";
  std::FILE* f = std::fopen(path.c_str(), "w");
  std::fputs(buf, f);
  std::fclose(f);
  return load_experiment(path);
}

// SystemC simulates once per process: each iteration forks a child that times its own run
// and reports (seconds, cycles) through a pipe.
void BM_CycleLevel(benchmark::State& state, const char* schedule) {
  const int hidden = static_cast<int>(state.range(0));
  double total_cycles = 0, total_seconds = 0;
  for (auto _ : state) {
    int fds[2];
    if (::pipe(fds) != 0) state.SkipWithError("pipe");
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      Config exp = experiment("lstm_sharp", hidden, schedule);
      PreparedRun run = prepare_experiment(exp);
      auto start = std::chrono::steady_clock::now();
      SimResult r = execute(run);
      double out[2] = {
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
          static_cast<double>(r.cycles)};
      ::_exit(::write(fds[1], out, sizeof out) == sizeof out ? 0 : 1);
    }
    ::close(fds[1]);  // the child holds the only write end: a crash reads as end of file
    double in[2] = {0, 0};
    if (::read(fds[0], in, sizeof in) != sizeof in) state.SkipWithError("child failed");
    ::close(fds[0]);
    ::waitpid(pid, nullptr, 0);
    state.SetIterationTime(in[0]);
    total_seconds += in[0];
    total_cycles += in[1];
  }
  state.counters["sim_cycles_per_s"] = total_cycles / total_seconds;
  state.counters["cycles"] = total_cycles / static_cast<double>(state.iterations());
}
BENCHMARK_CAPTURE(BM_CycleLevel, sharp, "sharp")
    ->Arg(256)
    ->Arg(1024)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CycleLevel, sequential, "sequential")
    ->Arg(256)
    ->Arg(1024)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// One design point of the twin, latency only: every layer at the width the reconfiguration
// rule picks (it evaluates every candidate width in closed form).
void BM_TwinDesignPoint(benchmark::State& state) {
  Config exp = experiment("lstm_sharp_analytical", static_cast<int>(state.range(0)), "sharp");
  lstm_sharp::MachineParams m = lstm_sharp::read_machine(exp.child("hw"));
  lstm_sharp::LstmWorkload w = lstm_sharp::read_lstm_workload(exp.child("workload"));
  for (auto _ : state) benchmark::DoNotOptimize(lstm_sharp::analytical_workload_cycles(m, w));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TwinDesignPoint)->Arg(256)->Arg(1024);

// The same with the row-block plans the twin also builds for its activity counters.
void BM_TwinDesignPointWithPlans(benchmark::State& state) {
  Config exp = experiment("lstm_sharp_analytical", static_cast<int>(state.range(0)), "sharp");
  lstm_sharp::MachineParams m = lstm_sharp::read_machine(exp.child("hw"));
  lstm_sharp::LstmWorkload w = lstm_sharp::read_lstm_workload(exp.child("workload"));
  for (auto _ : state) {
    benchmark::DoNotOptimize(lstm_sharp::analytical_workload_cycles(m, w));
    benchmark::DoNotOptimize(lstm_sharp::plan_workload(m, w).size());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TwinDesignPointWithPlans)->Arg(256)->Arg(1024);

}  // namespace

BENCHMARK_MAIN();
