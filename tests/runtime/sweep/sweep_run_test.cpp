// The sweep engine end to end through the tool: crashes, timeouts, determinism, kill -9
// and --resume, refusal to overwrite, config errors and their exit codes.
#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <sstream>
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

const std::string kTool = std::string(TESSEL_BINARY_DIR) + "/tessel_fault_tool";

void write_sweep(const TempDir& dir, const std::string& workload, const std::string& sizes) {
  write_text(dir / "exp.yaml", "hw:\n  model: test_fault\n  size: 1\n  energy: {table: " +
                                   std::string(TESSEL_SOURCE_DIR) +
                                   "/configs/energy/45nm.yaml}\nworkload: " + workload + "\n");
  write_text(dir / "s.yaml", "name: t\nexperiment: exp.yaml\nseed: 3\ngrid:\n  hw.size: " + sizes +
                                 "\nreport:\n  baseline: {hw.size: 1}\n");
}

size_t line_count(const std::string& path) {
  std::string text = read_text(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST(Sweep, CrashingPointIsRecordedAndTheSweepGoesOn) {
  // Under AddressSanitizer (the debug preset) the point must still die by the signal,
  // not by ASan's handler turning it into exit 1.
  ::setenv("ASAN_OPTIONS", "handle_segv=0", 1);
  TempDir dir;
  write_sweep(dir, "{behaviour: crash, crash_size: 2}", "[1, 2, 3]");
  auto run = run_tool(kTool, "sweep s.yaml -j 2 --no-report --out out", dir.path());
  EXPECT_EQ(run.exit_code, 5) << run.err;
  auto records = read_points(dir / "out/points.jsonl");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_TRUE(records[0].ok);
  EXPECT_FALSE(records[1].ok);
  EXPECT_EQ(records[1].failure, "signal SIGSEGV");
  EXPECT_EQ(records[1].exit_status, 128 + SIGSEGV);
  EXPECT_TRUE(records[2].ok);
  EXPECT_EQ(records[2].result->cycles, 3000 + records[2].seed % 1000);
  EXPECT_EQ(line_count(dir / "out/summary.csv"), 4u);
  auto manifest = nlohmann::json::parse(read_text(dir.path() / "out/manifest.json"));
  EXPECT_EQ(manifest.at("points_failed"), 1);
  EXPECT_EQ(manifest.at("seed"), 3);
  EXPECT_FALSE(manifest.at("finished").is_null());
}

TEST(Sweep, PointOverItsTimeIsKilledAndRecorded) {
  TempDir dir;
  write_sweep(dir, "{behaviour: hang, crash_size: 2}", "[1, 2]");
  auto run = run_tool(kTool, "sweep s.yaml --point-timeout 0.5 --no-report --out out", dir.path());
  EXPECT_EQ(run.exit_code, 5) << run.err;
  auto records = read_points(dir / "out/points.jsonl");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].failure, "timeout after 0.5 s");
  EXPECT_EQ(records[1].exit_status, 128 + SIGKILL);
}

TEST(Sweep, FailingPointKeepsItsStderrTail) {
  TempDir dir;
  write_sweep(dir, "{behaviour: fail, crash_size: 1}", "[1, 2]");
  auto run = run_tool(kTool, "sweep s.yaml --no-report --out out", dir.path());
  EXPECT_EQ(run.exit_code, 5);
  auto records = read_points(dir / "out/points.jsonl");
  EXPECT_EQ(records[0].failure, "exit 1");
  EXPECT_EQ(records[0].stderr_tail, "tessel: fault model asked to fail");
}

TEST(Sweep, SameConfigAndSeedGiveIdenticalPointsWhateverTheParallelism) {
  TempDir dir;
  write_sweep(dir, "{sleep_ms: 5}", "[1, 2, 3, 4, 5, 6, 7]");
  ASSERT_EQ(run_tool(kTool, "sweep s.yaml -j 1 --no-report --out a", dir.path()).exit_code, 0);
  ASSERT_EQ(run_tool(kTool, "sweep s.yaml -j 4 --no-report --out b", dir.path()).exit_code, 0);
  std::string a = read_text(dir.path() / "a/points.jsonl");
  EXPECT_EQ(line_count(dir / "a/points.jsonl"), 7u);
  EXPECT_EQ(a, read_text(dir.path() / "b/points.jsonl"));
  EXPECT_EQ(read_text(dir.path() / "a/summary.csv"), read_text(dir.path() / "b/summary.csv"));
}

TEST(Sweep, KillNineThenResumeEqualsAnUninterruptedRun) {
  // Points 5..12 wait for the file `gate`: the interrupted run stops with exactly points
  // 1..4 written whatever the machine's load, and is killed while 5 and 6 are running.
  TempDir dir;
  const std::string gate = dir / "gate";
  write_sweep(dir, "{sleep_ms: 20, gate: " + gate + ", gate_size: 4}",
              "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]");
  write_text(gate, "");
  ASSERT_EQ(run_tool(kTool, "sweep s.yaml -j 2 --no-report --out full", dir.path()).exit_code, 0);
  std::filesystem::remove(gate);

  Child sweep({kTool, "sweep", dir / "s.yaml", "-j", "2", "--no-report", "--out", dir / "cut"},
              dir / "cut.stderr");
  const std::string cut = dir / "cut/points.jsonl";
  // Waits for the event (four lines), with a deadline only against a hung sweep.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  ChildOutcome outcome;
  while ((!std::filesystem::exists(cut) || line_count(cut) < 4) &&
         std::chrono::steady_clock::now() < deadline && !sweep.poll(outcome))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(line_count(cut), 4u) << read_text(dir / "cut.stderr");
  ::kill(sweep.pid(), SIGKILL);
  while (!sweep.poll(outcome)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(outcome.signal, SIGKILL);
  const size_t done = line_count(cut);
  ASSERT_EQ(done, 4u);
  // A write torn by the kill leaves a partial last line; resume must cut it off.
  std::ofstream(cut, std::ios::app) << "{\"index\":" << done << ",\"id\":\"p00";

  write_text(gate, "");
  auto resumed = run_tool(kTool, "sweep s.yaml -j 2 --resume --no-report --out cut", dir.path());
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming: 4 of 12 points already done"), std::string::npos)
      << resumed.err;
  EXPECT_EQ(read_text(cut), read_text(dir.path() / "full/points.jsonl"));
  std::set<size_t> seen;
  for (const auto& r : read_points(cut)) EXPECT_TRUE(seen.insert(r.index).second);
  EXPECT_EQ(seen.size(), 12u);
}

TEST(Sweep, ExistingResultsAreNotOverwrittenWithoutResume) {
  TempDir dir;
  write_sweep(dir, "{}", "[1, 2]");
  ASSERT_EQ(run_tool(kTool, "sweep s.yaml --no-report --out out", dir.path()).exit_code, 0);
  std::string before = read_text(dir.path() / "out/points.jsonl");
  auto again = run_tool(kTool, "sweep s.yaml --no-report --out out", dir.path());
  EXPECT_EQ(again.exit_code, 4);
  EXPECT_EQ(again.err,
            "sweep t: 2 points (grid 2)\n"
            "tessel: out/points.jsonl: results already exist; pass --resume to "
            "continue them, --overwrite to replace them, or --out to write elsewhere\n");
  EXPECT_EQ(read_text(dir.path() / "out/points.jsonl"), before);
  auto replaced = run_tool(kTool, "sweep s.yaml --overwrite --no-report --out out", dir.path());
  EXPECT_EQ(replaced.exit_code, 0) << replaced.err;
  EXPECT_EQ(read_text(dir.path() / "out/points.jsonl"), before);
  // A changed sweep may not resume into the old results.
  write_sweep(dir, "{}", "[1, 2, 3]");
  auto changed = run_tool(kTool, "sweep s.yaml --resume --no-report --out out", dir.path());
  EXPECT_EQ(changed.exit_code, 3);
  EXPECT_NE(changed.err.find("config hash differs"), std::string::npos) << changed.err;
  EXPECT_EQ(read_text(dir.path() / "out/points.jsonl"), before);
}

TEST(Sweep, BadPointConfigFailsBeforeAnythingIsWritten) {
  TempDir dir;
  write_sweep(dir, "{}", "[1, zero]");
  auto run = run_tool(kTool, "sweep s.yaml --out out", dir.path());
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_EQ(run.err,
            "sweep t: 2 points (grid 2)\n"
            "tessel: s.yaml:5:16: hw.size: expected a positive integer, got \"zero\"\n");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "out"));
}

// A large sweep says how many points it has before checking them (which takes a while and
// writes nothing), then reports the checking's progress about once a second.
TEST(Sweep, LargeSweepPrintsThePointCountFirst) {
  TempDir dir;
  write_text(dir / "exp.yaml", "hw:\n  model: test_fault\n  size: 1\n  energy: {table: " +
                                   std::string(TESSEL_SOURCE_DIR) +
                                   "/configs/energy/45nm.yaml}\nworkload: {}\n");
  std::string sizes, sleeps;
  for (int i = 1; i <= 40; ++i) sizes += std::to_string(i) + ", ";
  for (int i = 0; i < 50; ++i) sleeps += (i ? ", " : "") + std::to_string(i);
  // The last grid value is bad, so every one of the 4000 points before it is checked.
  write_text(dir / "s.yaml", "name: big\nexperiment: exp.yaml\ngrid:\n  hw.size: [" + sizes +
                                 "zero]\n  workload.sleep_ms: [" + sleeps +
                                 "]\nzip:\n  workload.crash_size: [1, 2]\n");
  auto run = run_tool(kTool, "sweep s.yaml --out out", dir.path());
  EXPECT_EQ(run.exit_code, 3);
  const std::string count = "sweep big: 4100 points (grid 41\u00d750, zip 2)\n";
  const std::string error =
      "tessel: s.yaml:4:164: hw.size: expected a positive integer, got \"zero\"\n";
  ASSERT_EQ(run.err.substr(0, count.size()), count) << run.err;
  ASSERT_GE(run.err.size(), count.size() + error.size()) << run.err;
  EXPECT_EQ(run.err.substr(run.err.size() - error.size()), error) << run.err;
  // Between them only progress lines, as many as whole seconds the checking took.
  std::istringstream middle(
      run.err.substr(count.size(), run.err.size() - count.size() - error.size()));
  size_t last = 0;
  for (std::string line; std::getline(middle, line);) {
    size_t done = 0;
    char tail[64] = {};
    ASSERT_EQ(std::sscanf(line.c_str(), "checked %zu/4100 point %63s", &done, tail), 2) << line;
    EXPECT_STREQ(tail, "configurations");
    EXPECT_GT(done, last);
    EXPECT_LE(done, 4000u);
    last = done;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "out"));
}

TEST(Sweep, DryRunListsPoints) {
  TempDir dir;
  write_sweep(dir, "{}", "[1, 2]");
  auto run = run_tool(kTool, "sweep s.yaml --dry-run", dir.path());
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out, "p0000  hw.size=1\np0001  hw.size=2\n2 points\n");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "results"));
}

// README command 1 writes results/quickstart/ (timestamps, commit): that folder is ignored
// and untracked, so running the default job leaves the checkout clean.
TEST(Sweep, DefaultJobOutputDoesNotDirtyTheCheckout) {
  const std::string git = "git -C '" + std::string(TESSEL_SOURCE_DIR) + "' ";
  if (std::system((git + "rev-parse --git-dir >/dev/null 2>&1").c_str()) != 0)
    GTEST_SKIP() << "not a git checkout";
  for (const char* file : {"report.md", "manifest.json", "points.jsonl", "report.html"})
    EXPECT_EQ(std::system((git + "check-ignore --no-index -q results/quickstart/" + file).c_str()),
              0)
        << file << " is not ignored";
  auto tracked = run_tool("/bin/sh", "-c \"" + git + "ls-files results/quickstart\"");
  EXPECT_EQ(tracked.exit_code, 0);
  EXPECT_EQ(tracked.out, "") << "tracked; run git rm -r --cached results/quickstart";
}

}  // namespace
}  // namespace tessel::sweep
