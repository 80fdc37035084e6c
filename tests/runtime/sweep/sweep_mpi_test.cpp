// tessel sweep --mpi under a real mpirun on localhost (--oversubscribe): the results equal a
// local -j 1 run byte for byte, failures are recorded as locally, a killed worker rank's
// point runs again elsewhere, and --resume completes a job whose rank 0 was killed.
#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "runtime/core/point_record.h"
#include "runtime/sweep/child_process.h"
#include "tests/support/tool.h"

namespace tessel::sweep {
namespace {

using testing::read_text;
using testing::run_tool;
using testing::TempDir;
using testing::write_text;
namespace fs = std::filesystem;

const std::string kTool = std::string(TESSEL_BINARY_DIR) + "/tessel_fault_tool";
const std::string kMpirun = TESSEL_MPIEXEC;

class Mpi : public ::testing::Test {
 protected:
  void SetUp() override {
    // CI runs as root in a container: Open MPI refuses root without these, and its shared
    // memory transport's single-copy mode (CMA) needs ptrace rights containers lack.
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    ::setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 1);
    // Under AddressSanitizer (debug preset): crashed points die by their signal, and Open
    // MPI's allocations at exit are not reported as leaks of ours.
    ::setenv("ASAN_OPTIONS", "handle_segv=0:detect_leaks=0", 1);
  }
  std::string mpirun(int ranks, const std::string& extra = "") const {
    return "-np " + std::to_string(ranks) + " --oversubscribe " + extra + " '" + kTool + "' ";
  }
};

void write_fault_sweep(const TempDir& dir, const std::string& workload, const std::string& sizes) {
  write_text(dir / "exp.yaml", "hw:\n  model: test_fault\n  size: 1\n  energy: {table: " +
                                   std::string(TESSEL_SOURCE_DIR) +
                                   "/configs/energy/45nm.yaml}\nworkload: " + workload + "\n");
  write_text(dir / "s.yaml",
             "name: t\nexperiment: exp.yaml\nseed: 3\ngrid:\n  hw.size: " + sizes + "\n");
}

size_t line_count(const std::string& path) {
  std::string text = read_text(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

nlohmann::json manifest_ranks(const std::string& dir) {
  try {
    auto m = nlohmann::json::parse(read_text(dir + "/manifest.json"));
    return m.value("ranks", nlohmann::json::array());
  } catch (const std::exception&) {
    return nlohmann::json::array();  // not written yet
  }
}

// Polls `ready` every 10 ms until it holds or the sweep ends; the deadline only guards
// against a hung sweep.
template <typename Ready>
bool wait_for(Child& job, Ready ready) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  ChildOutcome outcome;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    if (job.poll(outcome)) return ready();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// The job's end; a job still running after a minute is killed (the test then fails on its
// results, instead of hanging until ctest's timeout).
ChildOutcome wait_end(Child& job) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  ChildOutcome outcome;
  while (!job.poll(outcome)) {
    if (std::chrono::steady_clock::now() > deadline) job.kill_now();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return outcome;
}

TEST_F(Mpi, ThreeRanksEqualALocalRun) {
  TempDir dir;
  // The analytical MAC-array twin over 18 points, as in scale_out_test.
  write_text(dir / "exp.yaml", "hw:\n  include: " + std::string(TESSEL_SOURCE_DIR) +
                                   "/configs/hw/mac_array/analytical.yaml\n"
                                   "workload: {kind: gemm, m: 16, n: 16, k: 16}\n");
  write_text(dir / "s.yaml",
             "name: scale\nexperiment: exp.yaml\ngrid:\n  hw.rows: [4, 8, 16]\n"
             "  workload.m: [16, 32, 64]\nzip:\n  workload.n: [8, 24]\n");
  ASSERT_EQ(run_tool(kTool, "sweep s.yaml -j 1 --no-report --out local", dir.path()).exit_code, 0);
  auto run = run_tool(kMpirun, mpirun(3) + "sweep s.yaml --mpi -j 1 --out mpi", dir.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string expected = read_text(dir.path() / "local/points.jsonl");
  EXPECT_EQ(std::count(expected.begin(), expected.end(), '\n'), 18);
  EXPECT_EQ(read_text(dir.path() / "mpi/points.jsonl"), expected);
  EXPECT_EQ(read_text(dir.path() / "mpi/summary.csv"), read_text(dir.path() / "local/summary.csv"));
  EXPECT_TRUE(fs::exists(dir.path() / "mpi/report.md"));
  // Rank 0 alone printed the results line.
  EXPECT_EQ(run.out.find("results: mpi (18 points, 0 failed)\n"), 0u) << run.out;
  EXPECT_EQ(run.out.find("results:", 1), std::string::npos) << run.out;
  auto ranks = manifest_ranks(dir / "mpi");
  ASSERT_EQ(ranks.size(), 3u);
  std::set<long> pids;
  for (size_t r = 0; r < 3; ++r) {
    EXPECT_EQ(ranks[r].at("rank"), r);
    EXPECT_FALSE(ranks[r].at("host").get<std::string>().empty());
    EXPECT_EQ(ranks[r].at("jobs"), 1);
    pids.insert(ranks[r].at("pid").get<long>());
  }
  EXPECT_EQ(pids.size(), 3u);
}

TEST_F(Mpi, FailedAndTimedOutPointsAreRecordedAsLocally) {
  TempDir dir;
  write_fault_sweep(dir, "{behaviour: crash, crash_size: 2}", "[1, 2, 3, 4]");
  ASSERT_EQ(run_tool(kTool, "sweep s.yaml -j 1 --no-report --out local", dir.path()).exit_code, 5);
  auto run =
      run_tool(kMpirun, mpirun(3) + "sweep s.yaml --mpi -j 1 --no-report --out mpi", dir.path());
  EXPECT_EQ(run.exit_code, 5) << run.err;  // mpirun passes rank 0's exit code on
  EXPECT_EQ(read_text(dir.path() / "mpi/points.jsonl"),
            read_text(dir.path() / "local/points.jsonl"));
  auto records = read_points(dir / "mpi/points.jsonl");
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[1].failure, "signal SIGSEGV");

  write_fault_sweep(dir, "{behaviour: hang, crash_size: 3}", "[1, 2, 3]");
  ASSERT_EQ(run_tool(kTool, "sweep s.yaml --point-timeout 0.5 --no-report --out hl", dir.path())
                .exit_code,
            5);
  run = run_tool(kMpirun,
                 mpirun(3) + "sweep s.yaml --mpi -j 1 --point-timeout 0.5 --no-report --out hm",
                 dir.path());
  EXPECT_EQ(run.exit_code, 5) << run.err;
  EXPECT_EQ(read_text(dir.path() / "hm/points.jsonl"), read_text(dir.path() / "hl/points.jsonl"));
  EXPECT_EQ(read_points(dir / "hm/points.jsonl")[2].failure, "timeout after 0.5 s");
}

TEST_F(Mpi, BadSweepStopsEveryRankWithNothingWritten) {
  TempDir dir;
  write_fault_sweep(dir, "{}", "[1, zero]");
  auto run = run_tool(kMpirun, mpirun(3) + "sweep s.yaml --mpi --out out", dir.path());
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_NE(run.err.find("tessel: s.yaml:5:16: hw.size: expected a positive integer, got \"zero\""),
            std::string::npos)
      << run.err;
  EXPECT_FALSE(fs::exists(dir.path() / "out"));
  // MPI and --shard together.
  write_fault_sweep(dir, "{}", "[1, 2]");
  run = run_tool(kTool, "sweep s.yaml --mpi --shard 0/2 --out out", dir.path());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.err,
            "tessel: --mpi and --shard 0/2: use one or the other (an MPI job hands out "
            "every point itself)\n");
  EXPECT_FALSE(fs::exists(dir.path() / "out"));
}

// With mpirun --enable-recovery the job outlives a dead rank: rank 0 notices the silence
// after --rank-timeout and runs the lost point once more on another rank.
TEST_F(Mpi, KilledWorkerRankHasItsPointRunElsewhere) {
  TempDir dir;
  const std::string gate = dir / "gate";
  write_fault_sweep(dir, "{gate: " + gate + ", gate_size: 0}", "[1, 2, 3, 4, 5, 6]");
  write_text(gate, "");
  ASSERT_EQ(run_tool(kTool, "sweep s.yaml -j 2 --no-report --out full", dir.path()).exit_code, 0);
  fs::remove(gate);

  const std::string out = dir / "cut";
  Child job(
      {kMpirun, "-np", "3", "--oversubscribe", "--enable-recovery", kTool, "sweep", dir / "s.yaml",
       "--mpi", "-j", "1", "--rank-timeout", "2", "--no-report", "--out", out},
      dir / "job.stderr");
  // Every point waits for the gate: once three have started, each rank holds one.
  auto started = [&]() {
    size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(out + "/.points", ec))
      n += e.path().extension() == ".stderr";
    return n == 3 && manifest_ranks(out).size() == 3;
  };
  ASSERT_TRUE(wait_for(job, started)) << read_text(dir / "job.stderr");
  const long worker = manifest_ranks(out)[1].at("pid").get<long>();
  ASSERT_EQ(::kill(static_cast<pid_t>(worker), SIGKILL), 0);
  ASSERT_TRUE(wait_for(job, [&]() {
    return read_text(dir / "job.stderr").find("counted as lost") != std::string::npos;
  })) << read_text(dir / "job.stderr");
  write_text(gate, "");
  EXPECT_FALSE(wait_end(job).timed_out) << "the job did not end";
  const std::string err = read_text(dir / "job.stderr");
  EXPECT_NE(err.find("a rank was lost: every point is recorded; ending the MPI job with "
                     "MPI_Abort"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("rank 1 ("), std::string::npos) << err;
  EXPECT_NE(err.find("sent nothing for 2 s: counted as lost; 1 of its points run again "
                     "elsewhere"),
            std::string::npos)
      << err;
  EXPECT_EQ(read_text(out + "/points.jsonl"), read_text(dir.path() / "full/points.jsonl")) << err;
}

// Rank 0 killed: mpirun ends the job; --resume (under MPI again) finishes it with every
// point once.
TEST_F(Mpi, KilledRankZeroThenResumeEqualsAnUninterruptedRun) {
  TempDir dir;
  const std::string gate = dir / "gate";
  write_fault_sweep(dir, "{gate: " + gate + ", gate_size: 2}", "[1, 2, 3, 4, 5, 6, 7, 8]");
  write_text(gate, "");
  ASSERT_EQ(run_tool(kTool, "sweep s.yaml -j 2 --no-report --out full", dir.path()).exit_code, 0);
  fs::remove(gate);

  const std::string out = dir / "cut";
  Child job({kMpirun, "-np", "3", "--oversubscribe", kTool, "sweep", dir / "s.yaml", "--mpi", "-j",
             "1", "--no-report", "--out", out},
            dir / "job.stderr");
  // Points 1 and 2 pass the gate, the rest wait: the job stops with exactly two records.
  auto two_written = [&]() {
    return fs::exists(out + "/points.jsonl") && line_count(out + "/points.jsonl") == 2 &&
           manifest_ranks(out).size() == 3;
  };
  ASSERT_TRUE(wait_for(job, two_written)) << read_text(dir / "job.stderr");
  ASSERT_EQ(::kill(static_cast<pid_t>(manifest_ranks(out)[0].at("pid").get<long>()), SIGKILL), 0);
  ChildOutcome outcome = wait_end(job);
  EXPECT_NE(outcome.exit_status(), 0);
  ASSERT_EQ(line_count(out + "/points.jsonl"), 2u);
  // A write torn by the kill leaves a partial last line; resume cuts it off.
  std::ofstream(out + "/points.jsonl", std::ios::app) << "{\"index\":2,\"id\":\"p00";

  write_text(gate, "");
  auto resumed = run_tool(
      kMpirun, mpirun(3) + "sweep s.yaml --mpi -j 1 --resume --no-report --out cut", dir.path());
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming: 2 of 8 points already done"), std::string::npos)
      << resumed.err;
  EXPECT_EQ(read_text(out + "/points.jsonl"), read_text(dir.path() / "full/points.jsonl"));
  std::set<size_t> seen;
  for (const auto& r : read_points(out + "/points.jsonl")) EXPECT_TRUE(seen.insert(r.index).second);
  EXPECT_EQ(seen.size(), 8u);
}

}  // namespace
}  // namespace tessel::sweep
