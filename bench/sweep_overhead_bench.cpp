// Per-point cost of a sweep: the real `tessel sweep -j 1` over trivial points, against the same
// point run in-process and a fork+exec of /bin/true, all measured in the same run. Two kinds of
// point: a simulation (the analytical MAC-array twin) and an algorithm experiment (ann.exact:
// brute-force k-NN of 20 queries over 2,000 seeded vectors, which also reads the host's CPU
// name and writes labels), so the overhead an algorithm study pays is measured too.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/core/runner.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
const std::string kTool = std::string(TESSEL_BINARY_DIR) + "/tessel";
constexpr int kPoints = 64;
// The budget for one trivial point (spawn, load, run, append).
constexpr double kGoalMs = 20.0;

enum class PointKind { kSimulation = 0, kAlgorithm = 1 };

// A sweep of kPoints points whose model work is small. Simulation: the analytical MAC-array
// twin on a 16^3 GEMM, swept over hw.rows. Algorithm: ann.exact swept over the seed (each
// seed draws other queries from the same mixture).
fs::path make_sweep(PointKind kind) {
  fs::path dir = fs::temp_directory_path() /
                 (kind == PointKind::kSimulation ? "tessel_sweep_bench" : "tessel_sweep_bench_ann");
  fs::create_directories(dir);
  std::ofstream exp(dir / "exp.yaml");
  std::ofstream sweep(dir / "s.yaml");
  if (kind == PointKind::kSimulation) {
    exp << "hw:\n  include: " << TESSEL_SOURCE_DIR << "/configs/hw/mac_array/analytical.yaml\n"
        << "workload: {kind: gemm, m: 16, n: 16, k: 16}\n";
    sweep << "name: bench\nexperiment: exp.yaml\ngrid:\n  hw.rows: [";
  } else {
    exp << "seed: 1\nhw: {model: ann.exact}\n"
        << "workload: {vectors: 'mixture:2000', queries: 'mixture:20:1', k: 10}\n";
    sweep << "name: bench\nexperiment: exp.yaml\ngrid:\n  seed: [";
  }
  for (int i = 1; i <= kPoints; ++i) sweep << i << (i < kPoints ? ", " : "]\n");
  return dir;
}

struct Spawned {
  int status = -1;
  double ms = 0;
  double max_rss_mb = 0;
};

// fork+exec of argv with stdout and stderr to `log`; waits for it.
Spawned spawn(const std::vector<std::string>& args, const std::string& log = "/dev/null") {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  Spawned r;
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) == 0) {
    rusage ru{};
    wait4(pid, &r.status, 0, &ru);
    r.max_rss_mb = ru.ru_maxrss / 1024.0;
  }
  r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  posix_spawn_file_actions_destroy(&fa);
  return r;
}

bool ok(const Spawned& s) {
  return WIFEXITED(s.status) && WEXITSTATUS(s.status) == 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One trivial point without a process: what the child-process scheme adds to.
double point_in_process_ms(const fs::path& dir) {
  const auto t0 = std::chrono::steady_clock::now();
  tessel::Config exp = tessel::load_experiment((dir / "exp.yaml").string());
  benchmark::DoNotOptimize(tessel::run_experiment(exp).cycles);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void BM_PointInProcess(benchmark::State& state) {
  const fs::path dir = make_sweep(static_cast<PointKind>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(point_in_process_ms(dir));
}
BENCHMARK(BM_PointInProcess)
    ->ArgName("algorithm")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The floor of any child-process scheme on this machine.
void BM_SpawnTrue(benchmark::State& state) {
  for (auto _ : state)
    if (!ok(spawn({"/bin/true"}))) state.SkipWithError("/bin/true failed");
}
BENCHMARK(BM_SpawnTrue)->Unit(benchmark::kMillisecond)->UseRealTime();

// Start-up of the tool alone (the dynamic loader and static initialisers), and its RSS.
void BM_ToolVersion(benchmark::State& state) {
  double rss = 0;
  for (auto _ : state) {
    const Spawned s = spawn({kTool, "--version"});
    if (!ok(s)) state.SkipWithError("tessel --version failed");
    rss = std::max(rss, s.max_rss_mb);
  }
  state.counters["max_rss_mb"] = rss;
}
BENCHMARK(BM_ToolVersion)->Unit(benchmark::kMillisecond)->UseRealTime();

// The real sweep: kPoints points, -j 1. Time per iteration covers kPoints points plus one
// start of the parent; per_point_ms divides it out, overhead_ms subtracts the in-process
// point (median, measured here), spawn_true_ms is /bin/true measured here.
void BM_SweepPerPoint(benchmark::State& state) {
  const fs::path dir = make_sweep(static_cast<PointKind>(state.range(0)));
  std::vector<double> in_process, spawn_true;
  for (int i = 0; i < 15; ++i) {
    in_process.push_back(point_in_process_ms(dir));
    spawn_true.push_back(spawn({"/bin/true"}).ms);
  }
  const std::string out = (dir / "out").string(), log = (dir / "sweep.log").string();
  const std::vector<std::string> cmd = {
      kTool, "sweep", (dir / "s.yaml").string(), "-j", "1", "--no-report", "--out", out};
  double total_ms = 0;
  for (auto _ : state) {
    state.PauseTiming();
    fs::remove_all(out);
    state.ResumeTiming();
    const Spawned s = spawn(cmd, log);
    total_ms += s.ms;
    if (!ok(s)) {
      state.SkipWithError(("tessel sweep failed; its output: " + log).c_str());
      break;
    }
  }
  // A sweep that silently wrote nothing must not look fast.
  std::ifstream points(fs::path(out) / "points.jsonl");
  int lines = 0;
  for (std::string line; std::getline(points, line);) ++lines;
  if (lines != kPoints) state.SkipWithError("points.jsonl does not hold every point");
  const double per_point = total_ms / static_cast<double>(state.iterations()) / kPoints;
  state.counters["per_point_ms"] = per_point;
  state.counters["in_process_ms"] = median(in_process);
  state.counters["overhead_ms"] = per_point - median(in_process);
  state.counters["spawn_true_ms"] = median(spawn_true);
  state.counters["goal_ms"] = kGoalMs;
  state.SetItemsProcessed(state.iterations() * kPoints);
}
BENCHMARK(BM_SweepPerPoint)
    ->ArgName("algorithm")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
