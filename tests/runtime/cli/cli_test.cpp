// The `tessel` command line: exit codes, exact config error messages, --json, --trace, list.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/tool.h"

namespace tessel {
namespace {

using testing::read_text;
using testing::run_tool;
using testing::TempDir;
using testing::write_text;

const std::string kTool = std::string(TESSEL_BINARY_DIR) + "/tessel_fault_tool";
const std::string kEnergy = std::string(TESSEL_SOURCE_DIR) + "/configs/energy/45nm.yaml";

void write_experiment(const TempDir& dir, const std::string& hw_extra) {
  write_text(dir / "hw.yaml",
             "model: test_fault\nsize: 4\nenergy: {table: " + kEnergy + "}\n" + hw_extra);
  write_text(dir / "exp.yaml", "seed: 11\nhw: hw.yaml\nworkload: {}\n");
}

TEST(Cli, RunPrintsSummaryAndJson) {
  TempDir dir;
  write_experiment(dir, "");
  auto run = run_tool(kTool, "run exp.yaml", dir.path());
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("latency      4,011 cycles @ 1 GHz = 4.011 µs"), std::string::npos)
      << run.out;
  auto json = run_tool(kTool, "run exp.yaml --json --set hw.size=2", dir.path());
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j.at("cycles"), 2011);
  EXPECT_EQ(j.at("counters").at("core.mac_int8"), 200);
  EXPECT_DOUBLE_EQ(j.at("energy_pj").at("core").get<double>(), 200 * 0.3);
}

struct BadConfig {
  const char* name;
  const char* hw_extra;
  const char* args;
  const char* message;  // after "tessel: <dir>/"
};

class CliConfigError : public ::testing::TestWithParam<BadConfig> {};

TEST_P(CliConfigError, ExitsWithCodeThreeAndExactMessage) {
  TempDir dir;
  write_experiment(dir, GetParam().hw_extra);
  write_text(dir / "cycle_a.yaml", "base: cycle_b.yaml\nsize: 1\n");
  write_text(dir / "cycle_b.yaml", "base: cycle_a.yaml\n");
  write_text(dir / "cyclic_exp.yaml", "hw: cycle_a.yaml\nworkload: {}\n");
  write_text(dir / "syntax.yaml", "hw: {model: test_fault\nworkload: {}\n");
  auto run = run_tool(kTool, std::string("run ") + GetParam().args, dir.path());
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_EQ(run.err, std::string("tessel: ") + GetParam().message + "\n");
  EXPECT_EQ(run.out, "");
}

INSTANTIATE_TEST_SUITE_P(
    Messages, CliConfigError,
    ::testing::Values(
        BadConfig{"wrong_type", "", "exp.yaml --set hw.size=four",
                  "--set hw.size:1:1: hw.size: expected a positive integer, got \"four\""},
        BadConfig{"unknown_key", "sise: 3\n", "exp.yaml", "hw.yaml:4:1: hw.sise: unknown key"},
        BadConfig{"missing_file", "", "absent.yaml",
                  "absent.yaml: cannot open config file (No such file or directory)"},
        BadConfig{"syntax_error", "", "syntax.yaml",
                  "syntax.yaml:2:9: YAML syntax error: end of map flow not found"},
        BadConfig{"base_cycle", "", "cyclic_exp.yaml",
                  "cycle_b.yaml:1:7: base/include cycle: cycle_a.yaml -> cycle_b.yaml -> "
                  "cycle_a.yaml"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Cli, UnknownModelListsTheRegisteredOnes) {
  TempDir dir;
  write_experiment(dir, "");
  auto run = run_tool(kTool, "run exp.yaml --set hw.model=nope", dir.path());
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_EQ(run.err.rfind("tessel: --set hw.model:1:1: hw.model: unknown model 'nope' "
                          "(registered: ",
                          0),
            0u)
      << run.err;
  EXPECT_NE(run.err.find("mac_array_analytical"), std::string::npos);
  EXPECT_NE(run.err.find("test_fault"), std::string::npos);
}

TEST(Cli, UsageErrorsExitWithCodeTwo) {
  EXPECT_EQ(run_tool(kTool, "run").exit_code, 2);
  EXPECT_EQ(run_tool(kTool, "frobnicate").exit_code, 2);
  EXPECT_EQ(run_tool(kTool, "sweep x.yaml -j 0").exit_code, 2);
  auto help = run_tool(kTool, "sweep --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--point-timeout"), std::string::npos);
  EXPECT_NE(run_tool(kTool, "--version").out.find("tessel "), std::string::npos);
}

TEST(Cli, ListShowsModelsAndShippedConfigs) {
  auto list = run_tool(kTool, "list", TESSEL_SOURCE_DIR);
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("  mac_array_analytical"), std::string::npos);
  EXPECT_NE(list.out.find("configs/sweeps/quickstart.yaml"), std::string::npos);
}

TEST(Cli, TraceIsChromeTraceEventJsonWithOneTrackPerBlock) {
  TempDir dir;
  auto run = run_tool(
      kTool,
      "run configs/experiments/mac_array_gemm.yaml --set workload.m=64 --trace " + dir / "t.json",
      TESSEL_SOURCE_DIR);
  if (run.err.find("unknown model 'mac_array'") != std::string::npos)
    GTEST_SKIP() << "built without SystemC";
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto j = nlohmann::json::parse(read_text(dir.path() / "t.json"));
  std::set<std::string> tracks;
  size_t spans = 0;
  for (const auto& e : j.at("traceEvents")) {
    if (e.at("ph") == "M" && e.at("name") == "thread_name")
      tracks.insert(e.at("args").at("name").get<std::string>());
    if (e.at("ph") == "X") ++spans;
  }
  EXPECT_EQ(tracks, (std::set<std::string>{"loader", "pe_array", "storer"}));
  // 64x256 output in 16x16 tiles with the K dimension in one chunk: 64 tiles, each loaded,
  // computed and stored once.
  EXPECT_EQ(spans, 3u * 64u);
}

}  // namespace
}  // namespace tessel
