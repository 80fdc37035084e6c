// Sweep expansion: grid order, zip in step, seeds, and errors in sweep files.
#include "runtime/sweep/sweep_plan.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/tool.h"

namespace tessel::sweep {
namespace {

using testing::TempDir;
using testing::write_text;

void write_experiment(const TempDir& dir) {
  write_text(dir / "exp.yaml", "hw:\n  model: test_fault\n  size: 1\n  energy: {table: " +
                                   std::string(TESSEL_SOURCE_DIR) +
                                   "/configs/energy/45nm.yaml}\nworkload: {}\n");
}

TEST(SweepPlan, GridIsCartesianLastKeyFastestZipFastestOfAll) {
  TempDir dir;
  write_experiment(dir);
  write_text(dir / "s.yaml",
             "name: t\nexperiment: exp.yaml\nseed: 5\n"
             "grid:\n  hw.size: [1, 2]\n  workload.sleep_ms: [0, 1, 2]\n"
             "zip:\n  hw.a: [x, y]\n  hw.b: [10, 20]\n");
  SweepPlan plan = load_sweep(dir / "s.yaml");
  ASSERT_EQ(plan.points.size(), 2u * 3u * 2u);
  EXPECT_EQ(describe_params(plan.points[0].params), "hw.a=x hw.b=10 hw.size=1 workload.sleep_ms=0");
  EXPECT_EQ(describe_params(plan.points[1].params), "hw.a=y hw.b=20 hw.size=1 workload.sleep_ms=0");
  EXPECT_EQ(describe_params(plan.points[2].params), "hw.a=x hw.b=10 hw.size=1 workload.sleep_ms=1");
  EXPECT_EQ(describe_params(plan.points[11].params),
            "hw.a=y hw.b=20 hw.size=2 workload.sleep_ms=2");
  EXPECT_EQ(plan.points[7].id, "p0007");
  EXPECT_EQ(plan.swept_keys,
            (std::vector<std::string>{"hw.size", "workload.sleep_ms", "hw.a", "hw.b"}));
  // Seeds differ per point and repeat across loads.
  EXPECT_NE(plan.points[0].seed, plan.points[1].seed);
  EXPECT_EQ(load_sweep(dir / "s.yaml").points[3].seed, plan.points[3].seed);
  EXPECT_EQ(load_sweep(dir / "s.yaml").config_hash, plan.config_hash);
  EXPECT_EQ(plan.point_count, 12u);
  EXPECT_EQ(describe_axes(plan), "grid 2\u00d73, zip 2");
}

// The runner and every child make points one at a time instead of expanding the sweep;
// a point made alone must be the same as the one in the full expansion.
TEST(SweepPlan, PointMadeAloneEqualsTheExpandedPoint) {
  TempDir dir;
  write_experiment(dir);
  write_text(dir / "s.yaml",
             "name: t\nexperiment: exp.yaml\nseed: 5\n"
             "grid:\n  hw.size: [1, 2, 3]\n  seed: [7, 8]\n"
             "zip:\n  hw.a: [x, y]\n  hw.b: [10, 20]\n");
  SweepPlan full = load_sweep(dir / "s.yaml");
  SweepPlan lazy = load_sweep(dir / "s.yaml", /*expand=*/false);
  EXPECT_TRUE(lazy.points.empty());
  ASSERT_EQ(lazy.point_count, full.points.size());
  for (size_t i = 0; i < full.points.size(); ++i) {
    SweepPoint p = make_point(lazy, i);
    EXPECT_EQ(p.index, i);
    EXPECT_EQ(p.id, full.points[i].id);
    EXPECT_EQ(p.params, full.points[i].params);
    EXPECT_EQ(p.seed, full.points[i].seed);
    EXPECT_EQ(point_experiment(lazy, p).to_json(),
              point_experiment(full, full.points[i]).to_json());
  }
  EXPECT_EQ(full.points[3].seed, 8u);
  EXPECT_EQ(describe_axes(lazy), "grid 3\u00d72, zip 2");
  write_text(dir / "z.yaml", "experiment: exp.yaml\nzip:\n  hw.size: [1, 2, 3]\n");
  EXPECT_EQ(describe_axes(load_sweep(dir / "z.yaml", false)), "zip 3");
}

TEST(SweepPlan, OverridesReachTheExperimentAndUnknownKeysPointAtTheSweepFile) {
  TempDir dir;
  write_experiment(dir);
  write_text(dir / "s.yaml", "experiment: exp.yaml\ngrid:\n  hw.size: [3]\n  hw.sise: [4]\n");
  SweepPlan plan = load_sweep(dir / "s.yaml");
  EXPECT_EQ(plan.name, "s");
  Config exp = point_experiment(plan, plan.points[0]);
  EXPECT_EQ(exp.child("hw").get<int>("size"), 3);
  EXPECT_EQ(exp.get<uint64_t>("seed"), plan.points[0].seed);
  exp.child("hw").get<std::string>("model");
  exp.child("hw").child("energy").mark_used();
  exp.child("workload");
  try {
    exp.reject_unused();
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), dir / "s.yaml" + ":4:3: hw.sise: unknown key");
  }
}

TEST(SweepPlan, ZipListsOfDifferentLengthsAreAnError) {
  TempDir dir;
  write_experiment(dir);
  write_text(dir / "s.yaml", "experiment: exp.yaml\nzip:\n  hw.a: [1, 2]\n  hw.b: [1]\n");
  try {
    load_sweep(dir / "s.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), dir / "s.yaml" +
                                         ":4:9: zip.hw.b: zip lists must have equal lengths (1 "
                                         "here, 2 for hw.a)");
  }
}

TEST(SweepPlan, EmptyAxisAndUnknownTopLevelKeyAreErrors) {
  TempDir dir;
  write_experiment(dir);
  write_text(dir / "a.yaml", "experiment: exp.yaml\ngrid:\n  hw.size: []\n");
  EXPECT_THROW(load_sweep(dir / "a.yaml"), ConfigError);
  write_text(dir / "b.yaml", "experiment: exp.yaml\ngird:\n  hw.size: [1]\n");
  try {
    load_sweep(dir / "b.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), dir / "b.yaml" + ":2:1: gird: unknown key");
  }
}

std::string config_error(const std::string& path) {
  try {
    load_sweep(path);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(SweepPlan, SeedAxisGivesEachPointExactlyThatSeed) {
  TempDir dir;
  write_experiment(dir);
  write_text(dir / "s.yaml",
             "experiment: exp.yaml\nseed: 9\ngrid:\n  seed: [11, 12, 13]\n  hw.size: [1, 2]\n");
  SweepPlan plan = load_sweep(dir / "s.yaml");
  ASSERT_EQ(plan.points.size(), 6u);
  EXPECT_EQ(plan.points[0].seed, 11u);
  EXPECT_EQ(plan.points[1].seed, 11u);
  EXPECT_EQ(plan.points[5].seed, 13u);
  EXPECT_EQ(describe_params(plan.points[3].params), "hw.size=2 seed=12");
  Config exp = point_experiment(plan, plan.points[3]);
  EXPECT_EQ(exp.get<uint64_t>("seed"), 12u);
  EXPECT_EQ(exp.child("hw").get<int>("size"), 2);
  // A seed axis under zip: would pair seeds with values instead of repeating them.
  write_text(dir / "z.yaml", "experiment: exp.yaml\nzip:\n  seed: [1, 2]\n  hw.size: [1, 2]\n");
  EXPECT_EQ(config_error(dir / "z.yaml"),
            dir / "z.yaml" +
                ":3:9: zip.seed: a seed axis belongs in grid: (every other point is run with "
                "each seed)");
}

TEST(SweepPlan, SetAppliesToEveryPointAndStaysOutOfTheParameters) {
  TempDir dir;
  write_experiment(dir);
  write_text(dir / "s.yaml",
             "experiment: exp.yaml\nset:\n  workload.sleep_ms: 7\ngrid:\n  hw.size: [1, 2]\n");
  SweepPlan plan = load_sweep(dir / "s.yaml");
  ASSERT_EQ(plan.points.size(), 2u);
  EXPECT_EQ(describe_params(plan.points[1].params), "hw.size=2");
  EXPECT_EQ(point_experiment(plan, plan.points[1]).child("workload").get<int>("sleep_ms"), 7);
  write_text(dir / "b.yaml",
             "experiment: exp.yaml\nset:\n  hw.size: 7\ngrid:\n  hw.size: [1, 2]\n");
  EXPECT_EQ(
      config_error(dir / "b.yaml"),
      dir / "b.yaml" + ":3:12: set.hw.size: also swept as an axis; a key is either set or swept");
}

TEST(SweepPlan, KeyOnBothGridAndZipIsAnError) {
  TempDir dir;
  write_experiment(dir);
  write_text(dir / "s.yaml",
             "experiment: exp.yaml\ngrid:\n  hw.rows: [1, 2]\nzip:\n  hw.rows: [3, 4]\n"
             "  hw.b: [1, 2]\n");
  EXPECT_EQ(
      config_error(dir / "s.yaml"),
      dir / "s.yaml" +
          ":5:12: zip.hw.rows: also swept under grid: (line 3); sweep a key on one axis only");
}

TEST(SweepPlan, StudyReportSectionIsChecked) {
  TempDir dir;
  write_experiment(dir);
  write_text(dir / "s.yaml",
             "experiment: exp.yaml\ngrid:\n  hw.size: [1]\nreport:\n  group_by: [hw.size]\n"
             "  plots:\n    - {name: a, x: hw.size, y: m}\n    - {name: a, x: hw.size, y: n}\n");
  EXPECT_NE(config_error(dir / "s.yaml").find("name: two plots are named 'a'"), std::string::npos)
      << config_error(dir / "s.yaml");
  write_text(dir / "t.yaml",
             "experiment: exp.yaml\ngrid:\n  hw.size: [1]\nreport:\n  plots:\n"
             "    - {name: a, x: hw.size, y: m, colour: red}\n");
  EXPECT_NE(config_error(dir / "t.yaml").find("colour: unknown key"), std::string::npos)
      << config_error(dir / "t.yaml");
}

}  // namespace
}  // namespace tessel::sweep
