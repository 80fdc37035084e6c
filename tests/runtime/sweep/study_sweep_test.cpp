// Algorithm studies through the real tool: a training seed sweep whose per-point artifacts
// survive --resume without duplicates, the `tessel train` front end against `tessel run` of
// the registered experiment, and an ANN pool-size sweep that reuses one cached index.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/tool.h"

namespace tessel {
namespace {

namespace fs = std::filesystem;
using testing::read_text;
using testing::run_tool;
using testing::TempDir;
using testing::write_text;

const std::string kTool = std::string(TESSEL_BINARY_DIR) + "/tessel_fault_tool";
const std::string kSynthetic =
    std::string(TESSEL_SOURCE_DIR) + "/configs/train/synthetic_char.yaml";

std::vector<nlohmann::json> read_points(const fs::path& file) {
  std::vector<nlohmann::json> points;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) points.push_back(nlohmann::json::parse(line));
  return points;
}

// eval.jsonl without its timing fields: the curve (step, losses, accuracy) is deterministic
// for a seed, the seconds column is not.
std::string curve_without_time(const fs::path& eval) {
  std::ifstream in(eval);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line);
    for (const char* k : {"wall_s", "train_s", "cpu_s", "time_s", "elapsed_s", "tokens_per_s"})
      j.erase(k);
    out += j.dump() + "\n";
  }
  return out;
}

// A checkpoint.bin without its JSON header (magic "TSLNNCK1", u64 header length, header)
// and its trailing u64 checksum: the parameters and optimizer state, which must match bit
// for bit; the header also carries the run's timings.
std::string checkpoint_state(const std::string& bytes) {
  uint64_t header = 0;
  if (bytes.size() < 16) return bytes;
  std::memcpy(&header, bytes.data() + 8, sizeof header);
  if (bytes.size() < 16 + header + 8) return bytes;
  return bytes.substr(16 + header, bytes.size() - 16 - header - 8);
}

// A training experiment on the built-in synthetic corpus, small enough for a unit test.
void write_train_experiment(const TempDir& dir) {
  write_text(dir / "train.yaml",
             "name: tiny\nseed: 1\nhw: {model: train.transformer}\n"
             "workload: " +
                 kSynthetic + "\n");
}

TEST(StudySweep, SeedSweepArtifactsSurviveResumeWithoutDuplicates) {
  TempDir dir;
  write_train_experiment(dir);
  write_text(dir / "s.yaml",
             "name: seeds\nexperiment: train.yaml\nseed: 1\n"
             "set: {workload.train.steps: 20, workload.eval.every: 10, workload.eval.batches: 2}\n"
             "grid:\n  seed: [1, 2, 3]\n"
             "report:\n  group_by: []\n  metrics: [val_loss]\n"
             "  plots:\n    - {name: curve, artifact: eval, x: step, y: val_loss}\n");
  auto run = run_tool(kTool, "sweep s.yaml -j 2 --out full", dir.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto full = read_points(dir / "full/points.jsonl");
  ASSERT_EQ(full.size(), 3u);

  // Three seeds give three different curves, each stored once under points/<id>/.
  std::set<std::string> curves;
  for (const auto& p : full) {
    const std::string eval = p["result"]["artifacts"]["eval"];
    EXPECT_EQ(eval, "points/" + p["id"].get<std::string>() + "/eval.jsonl");
    ASSERT_TRUE(fs::exists(fs::path(dir / "full") / eval)) << eval;
    curves.insert(curve_without_time(fs::path(dir / "full") / eval));
  }
  EXPECT_EQ(curves.size(), 3u);
  EXPECT_TRUE(fs::exists(dir / "full/plot_curve.svg"));
  // The swept seed is a column of the points table once, not twice.
  const std::string report = read_text(dir / "full/report.md");
  EXPECT_NE(report.find("| ID | seed | Status | val_loss |"), std::string::npos) << report;
  EXPECT_EQ(report.find("| Seed | Status |"), std::string::npos);

  // Cut the record after the first point, as a kill would, and resume.
  const auto first_line = read_text(dir / "full/points.jsonl").substr(0, full[0].dump().size() + 1);
  fs::copy(dir / "full", dir / "cut", fs::copy_options::recursive);
  write_text(dir / "cut/points.jsonl", first_line);
  run = run_tool(kTool, "sweep s.yaml -j 2 --out cut --resume", dir.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto resumed = read_points(dir / "cut/points.jsonl");
  ASSERT_EQ(resumed.size(), 3u);
  std::set<std::string> ids;
  for (const auto& p : resumed) ids.insert(p["id"].get<std::string>());
  EXPECT_EQ(ids.size(), 3u);  // no point recorded twice

  // One folder per point, no scratch left behind, and the same curve as the whole run.
  size_t folders = 0;
  for (const auto& e : fs::directory_iterator(dir / "cut/points")) folders += e.is_directory();
  EXPECT_EQ(folders, 3u);
  EXPECT_TRUE(!fs::exists(dir / "cut/.points") || fs::is_empty(dir / "cut/.points"));
  for (size_t i = 0; i < 3; ++i) {
    const std::string eval = resumed[i]["result"]["artifacts"]["eval"];
    EXPECT_EQ(curve_without_time(fs::path(dir / "cut") / eval),
              curve_without_time(fs::path(dir / "full") / eval));
  }
}

TEST(StudySweep, TrainFrontEndEqualsTheRegisteredExperiment) {
  TempDir dir;
  write_train_experiment(dir);
  const std::string steps = " --set train.steps=12 --set eval.every=6 --set eval.batches=2";
  auto front = run_tool(kTool, "train " + kSynthetic + " --out a" + steps, dir.path());
  ASSERT_EQ(front.exit_code, 0) << front.err;
  auto reg = run_tool(kTool,
                      "run train.yaml --out b --set workload.train.steps=12 "
                      "--set workload.eval.every=6 --set workload.eval.batches=2",
                      dir.path());
  ASSERT_EQ(reg.exit_code, 0) << reg.err;
  ASSERT_TRUE(fs::exists(dir / "a/eval.jsonl"));
  ASSERT_TRUE(fs::exists(dir / "b/eval.jsonl"));
  ASSERT_TRUE(fs::exists(dir / "a/checkpoint.bin"));
  ASSERT_TRUE(fs::exists(dir / "b/checkpoint.bin"));
  EXPECT_NE(curve_without_time(dir / "a/eval.jsonl").find("\"step\":12"), std::string::npos);
  EXPECT_EQ(curve_without_time(dir / "a/eval.jsonl"), curve_without_time(dir / "b/eval.jsonl"));
  const std::string a = checkpoint_state(read_text(dir / "a/checkpoint.bin"));
  EXPECT_GT(a.size(), 1000u);
  EXPECT_TRUE(a == checkpoint_state(read_text(dir / "b/checkpoint.bin")));  // binary: no dump
  // The registered run also leaves its record, naming the artifacts it wrote.
  const auto record = nlohmann::json::parse(read_text(dir / "b/result.json"));
  EXPECT_EQ(record["artifacts"]["eval"], "eval.jsonl");
  EXPECT_EQ(record["labels"]["task"], "lm");
}

TEST(StudySweep, ASeedInsideATrainingWorkloadIsAnError) {
  // The run's seed is the experiment's; one in the workload would be silently overridden.
  TempDir dir;
  const std::string base = read_text(kSynthetic);
  write_text(dir / "w.yaml", base + "seed: 7\n");
  write_text(dir / "e.yaml", "seed: 1\nhw: {model: train.transformer}\nworkload: w.yaml\n");
  const auto run = run_tool(kTool, "run e.yaml", dir.path());
  EXPECT_EQ(run.exit_code, 3);
  const std::string line = std::to_string(std::count(base.begin(), base.end(), '\n') + 1);
  EXPECT_EQ(run.err, "tessel: w.yaml:" + line +
                         ":7: workload.seed: a run's seed is the experiment's `seed:` (a sweep "
                         "sets it per point); move it there\n");
}

TEST(StudySweep, AnnPoolSweepReusesOneIndexAndRecallGrowsWithL) {
  TempDir dir;
  write_text(dir / "ann.yaml",
             "name: ann\nseed: 1\nhw: {model: ann.nsg, threads: 1}\n"
             "workload:\n  vectors: mixture:3000\n  queries: mixture:100:1\n"
             "  nsg: {knn_k: 16, L: 40, R: 24, C: 200}\n"
             "  search: {L: 10, k: 10, layout: packed, recall: true}\n");
  write_text(dir / "s.yaml",
             "name: ann\nexperiment: ann.yaml\nseed: 1\n"
             "grid:\n  workload.search.L: [10, 20, 40, 80]\n"
             "report:\n  metrics: [recall, qps_cpu]\n"
             "  plots:\n    - {name: recall_qps, x: recall, y: qps_cpu, log_y: true}\n");
  auto run = run_tool(kTool, "sweep s.yaml -j 1 --out r", dir.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto points = read_points(dir / "r/points.jsonl");
  ASSERT_EQ(points.size(), 4u);
  double last_recall = -1;
  for (size_t i = 0; i < points.size(); ++i) {
    const auto& m = points[i]["result"]["metrics"];
    EXPECT_EQ(m["index_cached"].get<double>(), i == 0 ? 0.0 : 1.0) << "point " << i;
    EXPECT_GE(m["recall"].get<double>(), last_recall) << "point " << i;
    last_recall = m["recall"].get<double>();
    EXPECT_GT(m["qps_cpu"].get<double>(), 0.0);
  }
  EXPECT_GT(last_recall, points[0]["result"]["metrics"]["recall"].get<double>());
  EXPECT_GT(last_recall, 0.9);
  EXPECT_TRUE(fs::exists(dir / "r/plot_recall_qps.svg"));
  const std::string report = read_text(dir / "r/report.md");
  EXPECT_NE(report.find("plot_recall_qps.svg"), std::string::npos);
}

// The sweep cache is keyed by the base's name, not its content: an index cached over a file
// that has since been replaced by other vectors of the same shape must be rebuilt.
TEST(StudySweep, AnnCachedIndexOverReplacedBaseIsRebuilt) {
  TempDir dir;
  auto fvecs = [](float bump) {
    std::string b;
    for (int i = 0; i < 200; ++i) {
      const int32_t dim = 4;
      b.append(reinterpret_cast<const char*>(&dim), 4);
      for (int d = 0; d < dim; ++d) {
        const float x = static_cast<float>((i * 7 + d * 3) % 11) + (i == 5 ? bump : 0);
        b.append(reinterpret_cast<const char*>(&x), 4);
      }
    }
    return b;
  };
  write_text(dir / "ann.yaml",
             "name: ann\nseed: 1\nhw: {model: ann.mrng, threads: 1}\n"
             "workload:\n  vectors: base.fvecs\n  queries: base.fvecs\n  queries_rows: '0:10'\n"
             "  search: {L: 10, k: 5}\n");
  write_text(dir / "s.yaml",
             "name: ann\nexperiment: ann.yaml\nseed: 1\ngrid:\n"
             "  workload.search.L: [10]\n");
  write_text(dir / "base.fvecs", fvecs(0));
  auto run = run_tool(kTool, "sweep s.yaml -j 1 --out r", dir.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // A new sweep folder that starts with r's cache: reused for the same base, rebuilt for a
  // base of the same shape with one component changed.
  auto cached_in_fresh_sweep = [&](const std::string& out) {
    fs::create_directories(dir.path() / out);
    fs::copy(dir.path() / "r/cache", dir.path() / out / "cache");
    const auto r = run_tool(kTool, "sweep s.yaml -j 1 --out " + out, dir.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const auto points = read_points(dir.path() / out / "points.jsonl");
    return points.size() == 1 ? points[0]["result"]["metrics"]["index_cached"].get<double>() : -1;
  };
  EXPECT_EQ(cached_in_fresh_sweep("same"), 1.0);
  write_text(dir / "base.fvecs", fvecs(0.5f));
  EXPECT_EQ(cached_in_fresh_sweep("replaced"), 0.0);
}

}  // namespace
}  // namespace tessel
