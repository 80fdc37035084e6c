// Simulation speed of the memory models: simulated requests per host second for DRAM,
// NVM and SSD through the full TLM path, against the bare DRAM command scheduler (no
// SystemC) measured in the same run. SystemC elaborates once per process, so every
// iteration of a TLM benchmark runs in a forked child that reports its own wall time.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "runtime/core/config.h"
#include "runtime/core/cpu_time.h"
#include "runtime/core/runner.h"
#include "sim/memory/dram_channel.h"

namespace {

using tessel::Config;
using Clock = std::chrono::steady_clock;

struct ChildResult {
  double seconds = NAN;      // wall
  double cpu_seconds = NAN;  // the child's CPU time: steadier on a shared machine
  double requests = 0;
};

// Runs the "memory" model on a device file with an inline workload in a child process;
// returns the child's wall time for the whole run (trace generation, simulation, stats).
ChildResult run_child(const std::string& device, const std::string& workload) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    ChildResult r;
    try {
      const std::string root = TESSEL_SOURCE_DIR;
      Config e = Config::parse("hw: {model: memory, energy: {table: " + root +
                                   "/configs/energy/memory_devices.yaml, node_nm: 45}, "
                                   "device: " +
                                   root + "/configs/hw/memory/" + device +
                                   "}\nworkload: " + workload + "\nseed: 1\n",
                               "memory_bench");
      const auto t0 = Clock::now();
      const double c0 = tessel::process_cpu_seconds();
      tessel::SimResult s = tessel::run_experiment(e);
      r.cpu_seconds = tessel::process_cpu_seconds() - c0;
      r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      r.requests = s.metrics.at("requests");
    } catch (const std::exception& ex) {
      fprintf(stderr, "memory_bench child: %s\n", ex.what());
    }
    ssize_t n = write(fds[1], &r, sizeof r);
    _exit(n == sizeof r ? 0 : 1);
  }
  close(fds[1]);
  ChildResult r;
  if (read(fds[0], &r, sizeof r) != sizeof r) r = ChildResult{};
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return r;
}

void tlm_bench(benchmark::State& state, const std::string& device, const std::string& workload) {
  double requests = 0, seconds = 0, cpu = 0;
  for (auto _ : state) {
    ChildResult r = run_child(device, workload);
    if (std::isnan(r.seconds)) {
      state.SkipWithError("child run failed");
      return;
    }
    state.SetIterationTime(r.seconds);
    requests += r.requests;
    seconds += r.seconds;
    cpu += r.cpu_seconds;
  }
  // Whole run (trace generation, simulation, statistics) per wall and per CPU second.
  state.counters["requests_per_s"] = requests / seconds;
  state.counters["requests_per_cpu_s"] = requests / cpu;
}

// Baseline: the DRAM command scheduler alone (one DDR4-3200 channel, streaming reads).
void BM_DramSchedulerOnly(benchmark::State& state) {
  Config c = Config::load(std::string(TESSEL_SOURCE_DIR) + "/configs/hw/memory/ddr4_3200.yaml");
  tessel::memory::DramParams p =
      tessel::memory::read_dram_params(c.child("dram"), c.child("controller"));
  const int64_t n = 1000000;
  double total = 0;
  const double cpu0 = tessel::process_cpu_seconds();
  for (auto _ : state) {
    tessel::memory::DramChannel ch(p);
    tessel::memory::AddressMapper m(p);
    std::vector<tessel::memory::BurstDone> done;
    int64_t now = 0, issued = 0, completed = 0;
    while (completed < n) {
      while (issued < n && ch.can_accept(false)) {
        auto f = m.decode(static_cast<uint64_t>(issued));
        tessel::memory::DramBurst b;
        b.rank = static_cast<int32_t>(f.rank);
        b.bankgroup = static_cast<int32_t>(f.bankgroup);
        b.bank = static_cast<int32_t>(f.bank);
        b.row = f.row;
        b.arrival = now;
        ch.enqueue(b);
        ++issued;
      }
      done.clear();
      int64_t next = ch.step(now, done);
      completed += static_cast<int64_t>(done.size());
      now = next == tessel::memory::kNever ? now + 1 : next;
    }
    benchmark::DoNotOptimize(now);
    total += static_cast<double>(n);
  }
  state.counters["requests_per_s"] = benchmark::Counter(total, benchmark::Counter::kIsRate);
  state.counters["requests_per_cpu_s"] = total / (tessel::process_cpu_seconds() - cpu0);
}
BENCHMARK(BM_DramSchedulerOnly)->Unit(benchmark::kMillisecond)->Iterations(3);

const char* kDramStream =
    "{kind: synthetic, pattern: streaming, requests: 2000000, request_bytes: 64, "
    "footprint_mib: 256, max_outstanding: 64}";
const char* kDramRandom =
    "{kind: synthetic, pattern: random, requests: 1000000, request_bytes: 64, "
    "footprint_mib: 1024, max_outstanding: 64}";

void BM_Ddr4Streaming(benchmark::State& s) {
  tlm_bench(s, "ddr4_3200.yaml", kDramStream);
}
void BM_Ddr4Random(benchmark::State& s) {
  tlm_bench(s, "ddr4_3200.yaml", kDramRandom);
}
void BM_Hbm3Streaming(benchmark::State& s) {
  tlm_bench(s, "hbm3.yaml",
            "{kind: synthetic, pattern: streaming, requests: 2000000, request_bytes: 64, "
            "footprint_mib: 256, max_outstanding: 1024}");
}
void BM_NvmRandomMixed(benchmark::State& s) {
  tlm_bench(s, "optane_pmm.yaml",
            "{kind: synthetic, pattern: mixed, requests: 1000000, request_bytes: 64, "
            "footprint_mib: 4096, max_outstanding: 64}");
}
void BM_SsdRandomRead4k(benchmark::State& s) {
  tlm_bench(s, "tlc_nvme.yaml",
            "{kind: synthetic, pattern: random, requests: 500000, request_bytes: 4096, "
            "footprint_mib: 8192, max_outstanding: 256}");
}
BENCHMARK(BM_Ddr4Streaming)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_Ddr4Random)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_Hbm3Streaming)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_NvmRandomMixed)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_SsdRandomRead4k)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
// Random 4 KiB writes over the whole of a full TLC drive (ssd_tlc_full.yaml: 64 GiB, all
// written before the run): the first 1.2 M writes use up the spare 7 %, the other 2.8 M run
// with garbage collection (write amplification rising towards its steady ~8).
void BM_SsdRandomWriteGc(benchmark::State& s) {
  tlm_bench(s, "ssd_tlc_full.yaml",
            "{kind: synthetic, pattern: random, requests: 4000000, request_bytes: 4096, "
            "footprint_mib: 65536, max_outstanding: 64, read_fraction: 0}");
}
BENCHMARK(BM_SsdRandomWriteGc)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
