// Study sections of reports: seed statistics against hand-computed values, grouping over a
// seed axis, and line plots from metrics and from artifact curves.
#include "runtime/report/study.h"

#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "tests/support/tool.h"

namespace tessel::report {
namespace {

using nlohmann::json;
using testing::TempDir;
using testing::write_text;

PointRecord run(size_t index, double lr, uint64_t seed, double loss, double tps) {
  PointRecord p;
  p.index = index;
  p.id = "p000" + std::to_string(index);
  p.params = {{"seed", seed}, {"workload.train.lr", lr}};
  p.seed = seed;
  p.ok = true;
  SimResult r;
  r.metrics = {{"val_loss", loss}, {"tokens_per_s", tps}};
  r.artifacts = {{"eval", "points/" + p.id + "/eval.jsonl"}};
  p.result = r;
  return p;
}

TEST(Study, SeedStatsMatchHandComputedValues) {
  // 1, 2, 4: mean 7/3; squared deviations 16/9 + 1/9 + 25/9 = 42/9, over n - 1 = 2: 7/3.
  const SeedStats s = seed_stats({1.0, 2.0, 4.0});
  EXPECT_EQ(s.n, 3u);
  EXPECT_NEAR(s.mean, 7.0 / 3.0, 1e-15);
  EXPECT_NEAR(s.std, std::sqrt(7.0 / 3.0), 1e-15);
  EXPECT_EQ(s.min, 1.0);
  EXPECT_EQ(s.max, 4.0);
  const SeedStats one = seed_stats({5.5});
  EXPECT_EQ(one.n, 1u);
  EXPECT_EQ(one.mean, 5.5);
  EXPECT_EQ(one.std, 0.0);
}

TEST(Study, GroupsAggregateOverTheSeedsAndSkipFailedPoints) {
  std::vector<PointRecord> points = {run(0, 0.002, 1, 2.0, 100), run(1, 0.003, 1, 1.5, 110),
                                     run(2, 0.002, 2, 2.2, 90),  run(3, 0.003, 2, 1.7, 120),
                                     run(4, 0.002, 3, 2.6, 95),  run(5, 0.003, 3, 9.9, 1)};
  points[5].ok = false;  // a failed run must not enter the statistics
  points[5].result.reset();
  const auto groups = group_points(points, {"workload.train.lr"});
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].label, "lr=0.002");
  EXPECT_EQ(groups[0].points, (std::vector<size_t>{0, 2, 4}));
  const SeedStats& a = groups[0].metrics.at("val_loss");
  // 2.0, 2.2, 2.6: mean 6.8/3; deviations -0.2667, -0.0667, 0.3333 → var 0.18667/2.
  EXPECT_NEAR(a.mean, 6.8 / 3.0, 1e-12);
  EXPECT_NEAR(a.std, std::sqrt((0.64 + 0.04 + 1.0) / 9.0 / 2.0 * 1.0), 1e-12);
  EXPECT_EQ(a.min, 2.0);
  EXPECT_EQ(a.max, 2.6);
  const SeedStats& b = groups[1].metrics.at("val_loss");
  EXPECT_EQ(b.n, 2u);
  EXPECT_NEAR(b.mean, 1.6, 1e-12);
  EXPECT_NEAR(b.std, std::sqrt(0.02), 1e-12);
}

TEST(Study, GroupsByAResultLabelWhenTheKeyIsNotSwept) {
  // Two workload files configure the same method: grouping by the label the experiment
  // reports joins them, and a swept key still wins over a label of the same name.
  std::vector<PointRecord> points = {run(0, 0.002, 1, 2.0, 100), run(1, 0.003, 1, 1.0, 110),
                                     run(2, 0.002, 2, 3.0, 90)};
  points[0].result->labels["method"] = "asp";
  points[1].result->labels["method"] = "admm";
  points[2].result->labels["method"] = "asp";
  points[2].result->labels["workload.train.lr"] = "ignored";
  const auto groups = group_points(points, {"method"});
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].label, "method=asp");
  EXPECT_EQ(groups[0].points, (std::vector<size_t>{0, 2}));
  EXPECT_NEAR(groups[0].metrics.at("val_loss").mean, 2.5, 1e-12);
  EXPECT_EQ(groups[1].label, "method=admm");
  EXPECT_NEAR(groups[0].metrics.at("tokens_per_s").sum, 190.0, 1e-12);
  EXPECT_EQ(groups[0].metrics.count("cycles"), 0u);  // host runs: no simulated time

  // Simulations also group their cycles and energy under summary.csv's names.
  points[0].result->cycles = 1000;
  points[0].result->energy_pj = {{"pe_array", 30.0}, {"offchip", 12.5}};
  points[2].result->cycles = 500;
  points[2].result->energy_pj = {{"pe_array", 10.0}};
  const auto sims = group_points(points, {"method"});
  EXPECT_EQ(sims[0].metrics.at("cycles").sum, 1500.0);
  EXPECT_EQ(sims[0].metrics.at("energy_total_pj").sum, 52.5);
  EXPECT_EQ(sims[0].metrics.at("energy_offchip_pj").n, 1u);
  const auto by_lr = group_points(points, {"workload.train.lr"});
  ASSERT_EQ(by_lr.size(), 2u);
  EXPECT_EQ(by_lr[0].points, (std::vector<size_t>{0, 2}));
}

TEST(Study, TableAndPlotsFromAResultsFolder) {
  TempDir dir;
  ResultsFolder folder;
  folder.dir = dir.path();
  folder.manifest.swept_keys = {"seed", "workload.train.lr"};
  folder.manifest.report = {
      {"group_by", {"workload.train.lr"}},
      {"metrics", {"val_loss"}},
      {"plots",
       {{{"name", "curve"}, {"artifact", "eval"}, {"x", "step"}, {"y", "val_loss"}},
        {{"name", "final"},
         {"x", "workload.train.lr"},
         {"y", "val_loss"},
         {"series", json::array()}}}}};
  folder.points = {run(0, 0.002, 1, 2.0, 100), run(1, 0.002, 2, 3.0, 100),
                   run(2, 0.003, 1, 1.0, 100)};
  // Curves: the two seeds of lr 0.002 average to 5 and 3 at steps 10 and 20.
  write_text(dir / "points/p0000/eval.jsonl",
             "{\"step\":10,\"val_loss\":4}\n{\"step\":20,\"val_loss\":2}\n");
  write_text(dir / "points/p0001/eval.jsonl",
             "{\"step\":10,\"val_loss\":6}\n{\"step\":20,\"val_loss\":4}\n");
  write_text(dir / "points/p0002/eval.jsonl", "{\"step\":10,\"val_loss\":1}\n");
  const Study study = plan_study(folder);
  ASSERT_TRUE(study.present);
  EXPECT_TRUE(study.aggregated);
  ASSERT_EQ(study.table.rows.size(), 2u);
  EXPECT_EQ(study.table.rows[0],
            (std::vector<std::string>{"0.002", "2", "2.500 ± 0.71 [2.000, 3.000]"}));
  EXPECT_EQ(study.table.rows[1], (std::vector<std::string>{"0.003", "1", "1.000"}));
  ASSERT_EQ(study.plots.size(), 2u);
  const PlotJob& curve = study.plots[0].job;
  EXPECT_EQ(curve.name, "plot_curve");
  // Series 0 is lr 0.002: x, mean, sample std of {4, 6} and {2, 4}.
  EXPECT_EQ(curve.data_files.at("series0.tsv"),
            "10\t5\t1.4142135623730951\n20\t3\t1.4142135623730951\n");
  EXPECT_EQ(curve.data_files.at("series1.tsv"), "10\t1\t0\n");
  EXPECT_NE(curve.script.find("yerrorlines"), std::string::npos);
  const PlotJob& final_loss = study.plots[1].job;
  EXPECT_EQ(final_loss.data_files.at("series0.tsv"),
            "0.002\t2.5\t0.70710678118654757\n0.0030000000000000001\t1\t0\n");
}

TEST(Study, TotalsSumEachGroupAndNeedEveryPoint) {
  ResultsFolder folder;
  folder.manifest.swept_keys = {"seed", "workload.train.lr"};
  folder.manifest.report = {{"group_by", {"workload.train.lr"}},
                            {"metrics", json::array()},
                            {"totals", {"tokens_per_s", "layers"}}};
  folder.points = {run(0, 0.002, 1, 2.0, 100.5), run(1, 0.002, 2, 3.0, 20.25),
                   run(2, 0.003, 1, 1.0, 7)};
  folder.points[2].result->metrics["layers"] = 4;  // only one point of lr 0.003 has it
  const Study study = plan_study(folder);
  ASSERT_EQ(study.table.rows.size(), 2u);
  const auto& header = study.table.header;
  ASSERT_GE(header.size(), 2u);
  EXPECT_EQ(header[header.size() - 2], "total tokens_per_s");
  // 100.5 + 20.25 = 120.75; lr 0.002 has no "layers" at all, lr 0.003 has it on every point.
  EXPECT_EQ(study.table.rows[0][study.table.rows[0].size() - 2], "120.750");
  EXPECT_EQ(study.table.rows[0].back(), "—");
  EXPECT_EQ(study.table.rows[1][study.table.rows[1].size() - 2], "7.00000");
  EXPECT_EQ(study.table.rows[1].back(), "4.00000");
}

TEST(Study, ArtifactPlotsDrawOnlyThePointsThatDeclareTheArtifact) {
  TempDir dir;
  ResultsFolder folder;
  folder.dir = dir.path();
  folder.manifest.swept_keys = {"seed", "workload.train.lr"};
  folder.manifest.report = {
      {"plots", {{{"name", "c"}, {"artifact", "admm"}, {"x", "step"}, {"y", "primal"}}}}};
  folder.points = {run(0, 0.002, 1, 2.0, 100), run(1, 0.003, 1, 1.0, 100)};
  folder.points[1].result->artifacts["admm"] = "points/p0001/admm.jsonl";
  write_text(dir / "points/p0001/admm.jsonl", "{\"step\":10,\"primal\":0.5}\n");
  const Study study = plan_study(folder);
  ASSERT_EQ(study.plots.size(), 1u);
  const PlotJob& job = study.plots[0].job;
  ASSERT_EQ(job.data_files.size(), 1u);  // lr 0.003 only: lr 0.002 has no such artifact
  EXPECT_EQ(job.data_files.begin()->second, "10\t0.5\t0\n");
}

TEST(Study, MissingArtifactNamesThePointAndFile) {
  TempDir dir;
  ResultsFolder folder;
  folder.dir = dir.path();
  folder.manifest.swept_keys = {"seed"};
  folder.manifest.report = {
      {"plots", {{{"name", "c"}, {"artifact", "eval"}, {"x", "step"}, {"y", "val_loss"}}}}};
  folder.points = {run(0, 0.002, 1, 2.0, 100)};
  try {
    plan_study(folder);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()),
              dir / "points/p0000/eval.jsonl" + ": cannot open artifact 'eval' of point p0000");
  }
}

}  // namespace
}  // namespace tessel::report
