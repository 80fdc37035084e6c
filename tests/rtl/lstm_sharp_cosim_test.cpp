// Co-simulation: LSTM-Sharp with the Verilated DPU gives the behavioural outputs and cycles.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/core/runner.h"
#include "sim/lstm_sharp/rtl_dpu.h"

namespace tessel::lstm_sharp {
namespace {

// hidden 64 on 2 tiles of 4 K=8 DPUs, 2 layers (the second reads the first's outputs), SHARP
// schedule with run-ahead, so W·x sums are parked and resumed through in_psum.
Config experiment(bool rtl) {
  char buf[2048];
  std::snprintf(
      buf, sizeof buf,
      "seed: 7\n"
      "hw:\n  model: lstm_sharp\n  clock_ghz: 0.5\n  mac_budget: 64\n  tiles: 2\n"
      "  dpu_width: 8\n  reconfigurable: false\n  schedule: sharp\n  runahead_steps: 1\n"
      "  weight_sram: {kib_per_tile: 4096, bank_bytes: 32}\n"
      "  mfu: {lanes: 16, latency_cycles: 8}\n  offchip: {read_gbps: 25.6, latency_ns: 100}\n"
      "  energy: {table: %s/configs/energy/45nm.yaml}\n%s"
      "workload: {kind: lstm, input_size: 32, hidden_size: 64, layers: 2, seq_len: 6, "
      "functional: true}\n",
      TESSEL_SOURCE_DIR, rtl ? "  rtl: {dpu: true}\n" : "");
  return Config::parse(buf, "cosim.yaml");
}

struct Outcome {
  uint64_t cycles = 0;
  int checks_passed = -1;    // -1: no check ran
  double max_error = -1;     // functional check against models/lstm's fixed-point LSTM
  size_t counters_hash = 0;  // every counter and metric of the run
  uint64_t rtl_rows = 0;     // rows the Verilated DPU computed
};

// SystemC simulates once per process: each run happens in a forked child.
Outcome run_in_child(bool rtl) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    Outcome o;
    try {
      SimResult r = run_experiment(experiment(rtl));
      o.cycles = r.cycles;
      o.checks_passed = r.checks.empty() ? -1 : (r.checks_passed() ? 1 : 0);
      for (const auto& c : r.checks) o.max_error = std::max(o.max_error, c.max_error);
      nlohmann::json j = r.to_json();
      o.counters_hash = std::hash<std::string>{}(j["counters"].dump() + j["metrics"].dump());
      o.rtl_rows = RtlDpu::rows_simulated();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
    }
    const ssize_t n = ::write(fds[1], &o, sizeof o);
    ::_exit(n == sizeof o ? 0 : 1);
  }
  ::close(fds[1]);
  Outcome o;
  EXPECT_EQ(::read(fds[0], &o, sizeof o), static_cast<ssize_t>(sizeof o));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return o;
}

TEST(LstmSharpCosim, VerilatedDpuGivesIdenticalOutputsAndCycles) {
  const Outcome behavioural = run_in_child(false);
  const Outcome rtl = run_in_child(true);
  std::printf("behavioural: %llu cycles; Verilated DPU: %llu cycles, %llu rows through the RTL\n",
              static_cast<unsigned long long>(behavioural.cycles),
              static_cast<unsigned long long>(rtl.cycles),
              static_cast<unsigned long long>(rtl.rtl_rows));
  EXPECT_EQ(behavioural.rtl_rows, 0u);
  // 2 layers x 6 steps x 256 rows, W·x and U·h (U·h skipped at step 0), plus calibration.
  EXPECT_GT(rtl.rtl_rows, 2u * 6 * 256);
  EXPECT_EQ(behavioural.checks_passed, 1);
  EXPECT_EQ(rtl.checks_passed, 1);
  EXPECT_EQ(behavioural.max_error, 0);
  EXPECT_EQ(rtl.max_error, 0);
  EXPECT_GT(behavioural.cycles, 0u);
  EXPECT_EQ(rtl.cycles, behavioural.cycles);
  EXPECT_EQ(rtl.counters_hash, behavioural.counters_hash);
}

}  // namespace
}  // namespace tessel::lstm_sharp
