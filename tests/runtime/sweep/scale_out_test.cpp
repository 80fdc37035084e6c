// Sharded sweeps (--shard i/n) and tessel merge: the merged points.jsonl equals a local -j 1
// run byte for byte, and bad shards or flags are refused with nothing written.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "runtime/core/point_record.h"
#include "tests/support/tool.h"

namespace tessel::sweep {
namespace {

using testing::read_text;
using testing::run_tool;
using testing::TempDir;
using testing::write_text;

const std::string kTool = std::string(TESSEL_BINARY_DIR) + "/tessel_fault_tool";
namespace fs = std::filesystem;

// 18 points of the analytical MAC-array twin (closed form, about a millisecond each): grid
// 3x3 over rows and m, zipped with two values of n.
void write_analytical_sweep(const TempDir& dir, const std::string& name = "scale",
                            const std::string& rows = "[4, 8, 16]") {
  write_text(dir / "exp.yaml", "hw:\n  include: " + std::string(TESSEL_SOURCE_DIR) +
                                   "/configs/hw/mac_array/analytical.yaml\n"
                                   "workload: {kind: gemm, m: 16, n: 16, k: 16}\n");
  write_text(dir / (name + ".yaml"), "name: " + name +
                                         "\nexperiment: exp.yaml\ngrid:\n  hw.rows: " + rows +
                                         "\n  workload.m: [16, 32, 64]\nzip:\n  workload.n: [8, "
                                         "24]\nreport:\n  baseline: {hw.rows: 4}\n");
}

std::vector<size_t> indices(const std::string& points_path) {
  std::vector<size_t> out;
  for (const auto& r : read_points(points_path)) out.push_back(r.index);
  return out;
}

void run_shards(const TempDir& dir, const std::string& sweep, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    // One shard with two jobs: the order a shard writes does not depend on its parallelism.
    auto run =
        run_tool(kTool,
                 "sweep " + sweep + " -j " + (i == 1 ? "2" : "1") + " --shard " +
                     std::to_string(i) + "/" + std::to_string(n) + " --out sh" + std::to_string(i),
                 dir.path());
    ASSERT_EQ(run.exit_code, 0) << run.err;
  }
}

TEST(ScaleOut, FourShardsMergedEqualALocalRun) {
  TempDir dir;
  write_analytical_sweep(dir);
  auto local = run_tool(kTool, "sweep scale.yaml -j 1 --out local", dir.path());
  ASSERT_EQ(local.exit_code, 0) << local.err;
  // The local run itself is reproducible (no wall-time metric in this model's records).
  ASSERT_EQ(run_tool(kTool, "sweep scale.yaml -j 1 --no-report --out again", dir.path()).exit_code,
            0);
  ASSERT_EQ(read_text(dir.path() / "local/points.jsonl"),
            read_text(dir.path() / "again/points.jsonl"));

  run_shards(dir, "scale.yaml", 4);
  // Dealt by index mod 4: 18 points give shards of 5, 5, 4 and 4.
  EXPECT_EQ(indices(dir / "sh0/points.jsonl"), (std::vector<size_t>{0, 4, 8, 12, 16}));
  EXPECT_EQ(indices(dir / "sh1/points.jsonl"), (std::vector<size_t>{1, 5, 9, 13, 17}));
  EXPECT_EQ(indices(dir / "sh2/points.jsonl"), (std::vector<size_t>{2, 6, 10, 14}));
  EXPECT_EQ(indices(dir / "sh3/points.jsonl"), (std::vector<size_t>{3, 7, 11, 15}));
  EXPECT_FALSE(fs::exists(dir.path() / "sh0/report.md"));  // tessel merge writes the report

  // Folders in any order.
  auto merged = run_tool(kTool, "merge sh2 sh0 sh3 sh1 --out merged", dir.path());
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_EQ(merged.out.find("results: merged (18 points, 0 failed)\n"), 0u) << merged.out;
  const std::string expected = read_text(dir.path() / "local/points.jsonl");
  EXPECT_EQ(std::count(expected.begin(), expected.end(), '\n'), 18);
  EXPECT_EQ(read_text(dir.path() / "merged/points.jsonl"), expected);
  EXPECT_EQ(read_text(dir.path() / "merged/summary.csv"),
            read_text(dir.path() / "local/summary.csv"));
  EXPECT_TRUE(fs::exists(dir.path() / "merged/report.md"));
  auto manifest = nlohmann::json::parse(read_text(dir.path() / "merged/manifest.json"));
  EXPECT_FALSE(manifest.contains("shard"));
  ASSERT_EQ(manifest.at("merged_from").size(), 4u);
  EXPECT_EQ(manifest.at("merged_from")[3].at("dir"), "sh3");
  EXPECT_EQ(manifest.at("config_hash"),
            nlohmann::json::parse(read_text(dir.path() / "local/manifest.json")).at("config_hash"));
  EXPECT_FALSE(fs::exists(dir.path() / "merged/.points"));
}

TEST(ScaleOut, FailedPointsMergeAsTheyWereRecorded) {
  TempDir dir;
  write_text(dir / "exp.yaml", "hw:\n  model: test_fault\n  size: 1\n  energy: {table: " +
                                   std::string(TESSEL_SOURCE_DIR) +
                                   "/configs/energy/45nm.yaml}\nworkload: {behaviour: fail, "
                                   "crash_size: 3}\n");
  write_text(dir / "t.yaml",
             "name: t\nexperiment: exp.yaml\nseed: 5\ngrid:\n  hw.size: [1, 2, "
             "3, 4, 5]\n");
  ASSERT_EQ(run_tool(kTool, "sweep t.yaml -j 1 --no-report --out local", dir.path()).exit_code, 5);
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(
        run_tool(kTool,
                 "sweep t.yaml --shard " + std::to_string(i) + "/2 --out sh" + std::to_string(i),
                 dir.path())
            .exit_code,
        i == 0 ? 5 : 0);  // point 2 (size 3) is shard 0's
  auto merged = run_tool(kTool, "merge sh0 sh1 --no-report --out merged", dir.path());
  EXPECT_EQ(merged.exit_code, 5) << merged.err;
  EXPECT_EQ(read_text(dir.path() / "merged/points.jsonl"),
            read_text(dir.path() / "local/points.jsonl"));
  auto records = read_points(dir / "merged/points.jsonl");
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[2].failure, "exit 1");
  EXPECT_EQ(
      nlohmann::json::parse(read_text(dir.path() / "merged/manifest.json")).at("points_failed"), 1);
}

TEST(ScaleOut, ShardsOfDifferentSweepsAreRefused) {
  TempDir dir;
  write_analytical_sweep(dir, "scale");
  write_analytical_sweep(dir, "other", "[4, 8, 32]");
  ASSERT_EQ(run_tool(kTool, "sweep scale.yaml --shard 0/2 --out a0", dir.path()).exit_code, 0);
  ASSERT_EQ(run_tool(kTool, "sweep other.yaml --shard 1/2 --out b1", dir.path()).exit_code, 0);
  auto merged = run_tool(kTool, "merge a0 b1 --out merged", dir.path());
  EXPECT_EQ(merged.exit_code, 3);
  EXPECT_NE(merged.err.find("tessel: merge: shards of different sweeps: a0 (sweep 'scale', "
                            "config hash "),
            std::string::npos)
      << merged.err;
  EXPECT_NE(merged.err.find("and b1 (sweep 'other'"), std::string::npos) << merged.err;
  EXPECT_FALSE(fs::exists(dir.path() / "merged"));

  // The same sweep with an edited experiment is a different sweep too (config hash).
  ASSERT_EQ(run_tool(kTool, "sweep scale.yaml --shard 1/2 --out a1", dir.path()).exit_code, 0);
  write_text(dir / "exp.yaml", read_text(dir.path() / "exp.yaml") + "# edited\nseed: 9\n");
  ASSERT_EQ(run_tool(kTool, "sweep scale.yaml --shard 1/2 --out c1", dir.path()).exit_code, 0);
  merged = run_tool(kTool, "merge a0 c1 --out merged", dir.path());
  EXPECT_EQ(merged.exit_code, 3);
  EXPECT_NE(merged.err.find("shards of different sweeps"), std::string::npos) << merged.err;
  EXPECT_FALSE(fs::exists(dir.path() / "merged"));
}

TEST(ScaleOut, DuplicateAndMissingShardsAreRefused) {
  TempDir dir;
  write_analytical_sweep(dir);
  run_shards(dir, "scale.yaml", 3);
  fs::copy(dir.path() / "sh0", dir.path() / "copy0", fs::copy_options::recursive);
  auto twice = run_tool(kTool, "merge sh0 sh1 copy0 sh2 --out merged", dir.path());
  EXPECT_EQ(twice.exit_code, 3);
  EXPECT_EQ(twice.err, "tessel: merge: shard 0/3 given twice: sh0 and copy0\n");
  auto gap = run_tool(kTool, "merge sh1 --out merged", dir.path());
  EXPECT_EQ(gap.exit_code, 3);
  EXPECT_EQ(gap.err, "tessel: merge: shards 0/3, 2/3 missing (1 of 3 given)\n");
  // A record copied into the wrong shard folder (a duplicate of shard 1's point).
  // Shard 2/3 holds points 2, 5, 8, 11, 14, 17.
  const std::string sh2 = dir / "sh2/points.jsonl";
  const std::string lines = read_text(sh2), first2 = lines.substr(0, lines.find('\n') + 1);
  const std::string sh1 = read_text(dir.path() / "sh1/points.jsonl");
  write_text(sh2, first2 + sh1.substr(0, sh1.find('\n') + 1) + lines.substr(first2.size()));
  auto foreign = run_tool(kTool, "merge sh0 sh1 sh2 --out merged", dir.path());
  EXPECT_EQ(foreign.exit_code, 4);
  EXPECT_EQ(foreign.err, "tessel: sh2/points.jsonl:2: point p0001 does not belong to shard 2/3\n");
  // A point recorded twice.
  write_text(sh2, first2 + lines);
  auto dup = run_tool(kTool, "merge sh0 sh1 sh2 --out merged", dir.path());
  EXPECT_EQ(dup.exit_code, 4);
  EXPECT_EQ(dup.err, "tessel: sh2/points.jsonl:2: point p0002 appears twice\n");
  EXPECT_FALSE(fs::exists(dir.path() / "merged"));
}

TEST(ScaleOut, TornLastLineIsRefusedUntilTheShardIsResumed) {
  TempDir dir;
  write_analytical_sweep(dir);
  run_shards(dir, "scale.yaml", 2);
  ASSERT_EQ(run_tool(kTool, "sweep scale.yaml -j 1 --no-report --out local", dir.path()).exit_code,
            0);
  // A shard killed mid-write: three whole records and the start of the fourth.
  const std::string sh1 = dir / "sh1/points.jsonl";
  std::string text = read_text(sh1);
  size_t cut = 0;
  for (int i = 0; i < 3; ++i) cut = text.find('\n', cut) + 1;
  write_text(sh1, text.substr(0, cut) + text.substr(cut, 40));
  auto merged = run_tool(kTool, "merge sh0 sh1 --out merged", dir.path());
  EXPECT_EQ(merged.exit_code, 4);
  EXPECT_EQ(merged.err,
            "tessel: sh1/points.jsonl:4: torn last line (the shard was stopped mid-write); "
            "finish it with tessel sweep SWEEP --shard 1/2 --out sh1 --resume\n");
  EXPECT_FALSE(fs::exists(dir.path() / "merged"));
  // Whole lines but fewer than the shard's points: unfinished.
  write_text(sh1, text.substr(0, cut));
  merged = run_tool(kTool, "merge sh0 sh1 --out merged", dir.path());
  EXPECT_EQ(merged.exit_code, 4);
  EXPECT_EQ(merged.err,
            "tessel: sh1: shard 1/2 is unfinished (3 of 9 points); finish it with tessel sweep "
            "SWEEP --shard 1/2 --out sh1 --resume\n");
  EXPECT_FALSE(fs::exists(dir.path() / "merged"));
  // Resuming with another shard is refused; with its own it completes the shard.
  auto wrong = run_tool(kTool, "sweep scale.yaml --shard 0/2 --resume --out sh1", dir.path());
  EXPECT_EQ(wrong.exit_code, 3);
  EXPECT_NE(wrong.err.find("written by shard 1/2, not shard 0/2"), std::string::npos) << wrong.err;
  write_text(sh1, text.substr(0, cut) + text.substr(cut, 40));
  auto resumed = run_tool(kTool, "sweep scale.yaml --shard 1/2 --resume --out sh1", dir.path());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming: 3 of 9 points already done"), std::string::npos)
      << resumed.err;
  merged = run_tool(kTool, "merge sh0 sh1 --out merged", dir.path());
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_EQ(read_text(dir.path() / "merged/points.jsonl"),
            read_text(dir.path() / "local/points.jsonl"));
  // A merge never writes over results.
  auto again = run_tool(kTool, "merge sh0 sh1 --out merged", dir.path());
  EXPECT_EQ(again.exit_code, 4);
  EXPECT_EQ(again.err,
            "tessel: merged/points.jsonl: results already exist; merge into another "
            "--out folder\n");
}

TEST(ScaleOut, BadShardFlagsAreUsageErrors) {
  TempDir dir;
  write_analytical_sweep(dir);
  struct Case {
    const char* flag;
    const char* message;
  };
  for (const Case& c :
       {Case{"3/2",
             "tessel: --shard 3/2: the shard index i counts from 0 and must be below n "
             "(0/2 to 1/2)\n"},
        Case{"2/2",
             "tessel: --shard 2/2: the shard index i counts from 0 and must be below n "
             "(0/2 to 1/2)\n"},
        Case{"0/0", "tessel: --shard 0/0: the shard count n must be at least 1\n"},
        Case{"1", "tessel: --shard 1: expected i/n, shard i (counted from 0) of n, e.g. 0/4\n"},
        Case{"-1/2",
             "tessel: --shard -1/2: expected i/n, shard i (counted from 0) of n, e.g. 0/4\n"},
        Case{"a/b",
             "tessel: --shard a/b: expected i/n, shard i (counted from 0) of n, e.g. 0/4\n"}}) {
    auto run = run_tool(kTool, std::string("sweep scale.yaml --shard ") + c.flag + " --out out",
                        dir.path());
    EXPECT_EQ(run.exit_code, 2) << c.flag;
    EXPECT_EQ(run.err, c.message);
    EXPECT_FALSE(fs::exists(dir.path() / "out")) << c.flag;
  }
  // A folder that is not a shard.
  ASSERT_EQ(run_tool(kTool, "sweep scale.yaml --no-report --out whole", dir.path()).exit_code, 0);
  auto run = run_tool(kTool, "merge whole --out merged", dir.path());
  EXPECT_EQ(run.exit_code, 4);
  EXPECT_EQ(run.err,
            "tessel: whole/manifest.json: names no shard; whole was not written by tessel "
            "sweep --shard i/n\n");
  run = run_tool(kTool, "merge nowhere --out merged", dir.path());
  EXPECT_EQ(run.exit_code, 4);
  EXPECT_EQ(run.err,
            "tessel: nowhere/manifest.json: not found; nowhere is not a results folder "
            "written by tessel sweep --shard\n");
  EXPECT_FALSE(fs::exists(dir.path() / "merged"));
}

}  // namespace
}  // namespace tessel::sweep
