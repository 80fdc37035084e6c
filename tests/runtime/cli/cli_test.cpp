// The `tessel` command line: exit codes, exact config error messages, --json, --trace, list.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>
#include <utility>
#include <vector>

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
        BadConfig{"unknown_key", "sise: 3\n", "exp.yaml",
                  "hw.yaml:4:1: hw.sise: unknown key (did you mean 'size'?)"},
        BadConfig{"syntax_error", "", "syntax.yaml",
                  "syntax.yaml:2:9: YAML syntax error: end of map flow not found"},
        BadConfig{"base_cycle", "", "cyclic_exp.yaml",
                  "cycle_b.yaml:1:7: base/include cycle: cycle_a.yaml -> cycle_b.yaml -> "
                  "cycle_a.yaml"}),
    [](const auto& info) { return std::string(info.param.name); });

const std::string kSrc = TESSEL_SOURCE_DIR;

// A value out of its documented range (configs/README.md) is a configuration error at
// configure time, located in the file that holds it. Each case writes hw.yaml (a shipped
// hardware file as `base:` plus `hw`), wl.yaml (likewise for the workload) and exp.yaml.
struct OutOfRange {
  const char* name;
  const char* hw_base;  // under configs/hw/
  const char* hw;
  const char* workload_base;  // under configs/workloads/
  const char* workload;
  const char* message;  // after "tessel: "
};

class CliOutOfRange : public ::testing::TestWithParam<OutOfRange> {};

TEST_P(CliOutOfRange, ExitsWithCodeThreeNamingKeyAndRange) {
  const OutOfRange& c = GetParam();
  TempDir dir;
  write_text(dir / "hw.yaml", "base: " + kSrc + "/configs/hw/" + c.hw_base + "\n" + c.hw);
  write_text(dir / "wl.yaml",
             "base: " + kSrc + "/configs/workloads/" + c.workload_base + "\n" + c.workload);
  write_text(dir / "exp.yaml", "hw: hw.yaml\nworkload: wl.yaml\n");
  auto run = run_tool(kTool, "run exp.yaml", dir.path());
  if (run.err.find("unknown model") != std::string::npos) GTEST_SKIP() << "built without SystemC";
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_EQ(run.err, std::string("tessel: ") + c.message + "\n");
  EXPECT_EQ(run.out, "");
}

INSTANTIATE_TEST_SUITE_P(
    Ranges, CliOutOfRange,
    ::testing::Values(
        // The three of issue 14: a clock that reported 12,800% utilisation, a buffer whose
        // size overflowed into "too small", a MAC budget that overflowed the arithmetic.
        OutOfRange{"clock_1e_300", "mac_array/analytical.yaml", "clock_ghz: 1e-300\n",
                   "gemm/square_256.yaml", "",
                   "hw.yaml:2:12: hw.clock_ghz: expected a number from 0.01 to 10, got "
                   "\"1e-300\""},
        OutOfRange{"buffer_1e30", "mac_array/analytical.yaml", "buffer_kib: 1e30\n",
                   "gemm/square_256.yaml", "",
                   "hw.yaml:2:13: hw.buffer_kib: expected a number from 0.001 to 1048576, got "
                   "\"1e30\""},
        OutOfRange{"mac_budget_2_62", "lstm_sharp/analytical.yaml",
                   "mac_budget: 4611686018427387904\n", "lstm/show_tell.yaml", "",
                   "hw.yaml:2:13: hw.mac_budget: expected an integer from 4 to 16777216, got "
                   "\"4611686018427387904\""},
        // One per model and workload kind.
        OutOfRange{"gemm_m", "mac_array/analytical.yaml", "", "gemm/square_256.yaml", "m: 0\n",
                   "wl.yaml:2:4: workload.m: expected an integer from 1 to 1048576, got \"0\""},
        OutOfRange{"lstm_sharp_tiles", "lstm_sharp/analytical.yaml", "tiles: 0\n",
                   "lstm/show_tell.yaml", "",
                   "hw.yaml:2:8: hw.tiles: expected an integer from 1 to 4096, got \"0\""},
        OutOfRange{"lstm_seq_len", "lstm_sharp/analytical.yaml", "", "lstm/show_tell.yaml",
                   "seq_len: 10000000\n",
                   "wl.yaml:2:10: workload.seq_len: expected an integer from 1 to 1000000, got "
                   "\"10000000\""},
        OutOfRange{"nm_unit_decode_latency", "nm_unit/analytical.yaml", "decode_latency: 1.5\n",
                   "nm_unit/small_2of4.yaml", "",
                   "hw.yaml:2:17: hw.decode_latency: expected an integer from 0 to 1024, got "
                   "\"1.5\""},
        OutOfRange{"nm_unit_k", "nm_unit/analytical.yaml", "", "nm_unit/small_2of4.yaml",
                   "k: 2000000\n",
                   "wl.yaml:2:4: workload.k: expected an integer from 1 to 1048576, got "
                   "\"2000000\""},
        OutOfRange{"energy_node", "mac_array/analytical.yaml", "energy: {node_nm: 0.001}\n",
                   "gemm/square_256.yaml", "",
                   "hw.yaml:2:19: hw.energy.node_nm: expected a number from 1 to 1000, got "
                   "\"0.001\""},
        OutOfRange{"dram_rate", "memory/ddr4_3200.yaml", "dram:\n  data_rate_mtps: 1e9\n",
                   "memory/streaming.yaml", "",
                   "hw.yaml:3:19: hw.dram.data_rate_mtps: expected a number from 100 to 40000, "
                   "got \"1e9\""},
        OutOfRange{"memory_interarrival", "memory/ddr4_3200.yaml", "", "memory/streaming.yaml",
                   "interarrival_ns: -1\n",
                   "wl.yaml:2:18: workload.interarrival_ns: expected a number from 0 to 1000000, "
                   "got \"-1\""}),
    [](const auto& info) { return std::string(info.param.name); });

// Memory traces that cannot be replayed say why, naming the file and line.
TEST(Cli, MemoryTraceErrorsNameFileLineAndCapacity) {
  TempDir dir;
  write_text(dir / "exp.yaml", "hw: " + kSrc +
                                   "/configs/hw/memory/ddr4_3200.yaml\n"
                                   "workload: {kind: trace, trace: t.trace}\n");
  const std::vector<std::pair<std::string, std::string>> cases = {
      // An empty trace would report all-zero latency and bandwidth as if measured.
      {"# only a comment\n\n", "t.trace: the trace holds no requests (nothing to simulate)"},
      {"- R 0x0 64\n# gap\n\n- W 0xffffffffffffffff 64\n",
       "t.trace:4: address 0xffffffffffffffff (64 bytes) is outside the memory (tier 'dram' "
       "holds 0x0 to 0x1ffffffff, 8 GiB)"},
      {"- R 0x1ffffffc0 128\n",
       "t.trace:1: address 0x1ffffffc0 (128 bytes) runs past the end of its tier (tier 'dram' "
       "holds 0x0 to 0x1ffffffff, 8 GiB)"},
      {"- R w 64\n- R w+0x200000000 64\n",
       "t.trace:2: object 'w' needs 8589934656 bytes from 0x0, past the end of its tier (tier "
       "'dram' holds 0x0 to 0x1ffffffff, 8 GiB)"},
  };
  for (const auto& [trace, message] : cases) {
    write_text(dir / "t.trace", trace);
    auto run = run_tool(kTool, "run exp.yaml", dir.path());
    if (run.err.find("unknown model") != std::string::npos) GTEST_SKIP() << "no SystemC";
    EXPECT_EQ(run.exit_code, 3) << trace;
    EXPECT_EQ(run.err, "tessel: " + message + "\n");
  }
}

// Files that cannot be read exit with 4 wherever they are named; a folder given for a
// file says so instead of reporting what its empty contents would mean.
TEST(Cli, UnreadableFilesExitWithCodeFour) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "folder");
  write_text(dir / "hw_dir.yaml", "hw: folder\nworkload: {}\n");
  write_text(dir / "inc_dir.yaml", "hw:\n  include: folder\nworkload: {}\n");
  write_text(dir / "hw_missing.yaml", "hw: absent_hw.yaml\nworkload: {}\n");
  // The corpus path is named as tried, in full (the tool runs in the temp folder).
  const std::string here = std::filesystem::canonical(dir.path()).string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"run absent.yaml", "absent.yaml: cannot open config file (No such file or directory)"},
      {"run folder", "folder: is a directory, expected a file"},
      {"run hw_dir.yaml", "hw_dir.yaml:1:5: hw: folder: is a directory, expected a file"},
      {"run inc_dir.yaml", "inc_dir.yaml:2:12: folder: is a directory, expected a file"},
      {"run hw_missing.yaml",
       "hw_missing.yaml:1:5: hw: absent_hw.yaml: cannot open config file (No such file or "
       "directory)"},
      {"sweep folder --out out", "folder: is a directory, expected a file"},
      {"train " + kSrc + "/configs/train/synthetic_char.yaml --out out --set data.corpus=folder",
       "--set data.corpus:1:1: data.corpus: " + here + "/folder: is a directory, expected a file"},
  };
  for (const auto& [args, message] : cases) {
    auto run = run_tool(kTool, args, dir.path());
    EXPECT_EQ(run.exit_code, 4) << args;
    EXPECT_EQ(run.err, "tessel: " + message + "\n") << args;
  }
}

// `base:` inside an inline mapping starts it from the file, as at the root of a file.
TEST(Cli, InlineHwMappingWithBase) {
  TempDir dir;
  write_text(dir / "exp.yaml", "hw: {base: " + kSrc +
                                   "/configs/hw/mac_array/analytical.yaml, rows: 8}\n"
                                   "workload: {kind: gemm, m: 64, n: 64, k: 64}\n");
  auto inline_base = run_tool(kTool, "run exp.yaml --json", dir.path());
  ASSERT_EQ(inline_base.exit_code, 0) << inline_base.err;
  write_text(dir / "plain.yaml", "hw: " + kSrc +
                                     "/configs/hw/mac_array/analytical.yaml\n"
                                     "workload: {kind: gemm, m: 64, n: 64, k: 64}\n");
  auto rows8 = run_tool(kTool, "run plain.yaml --json --set hw.rows=8", dir.path());
  auto rows16 = run_tool(kTool, "run plain.yaml --json", dir.path());
  ASSERT_EQ(rows8.exit_code, 0) << rows8.err;
  const auto a = nlohmann::json::parse(inline_base.out);
  EXPECT_EQ(a.at("cycles"), nlohmann::json::parse(rows8.out).at("cycles"));
  EXPECT_NE(a.at("cycles"), nlohmann::json::parse(rows16.out).at("cycles"));
}

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

// Out-of-range option values say what the option accepts in words (CLI11's own checks
// printed their upper bound, DBL_MAX, as a 309-digit number).
TEST(Cli, OptionRangeErrorsSayWhatIsAccepted) {
  const std::string search = "ann search --index i --base b --queries q ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"sweep x.yaml -j 0", "--jobs: must be a positive integer, got 0"},
      {"sweep x.yaml --jobs 2.5", "--jobs: must be a positive integer, got 2.5"},
      {"sweep x.yaml -j 99999999999", "--jobs: must be at most 2147483647, got 99999999999"},
      {"sweep x.yaml --point-timeout -1", "--point-timeout: must be a non-negative number, got -1"},
      {"sweep x.yaml --point-timeout inf",
       "--point-timeout: must be a non-negative number, got inf"},
      {search + "--L 0", "--L: must be a positive integer, got 0"},
      {search + "-k -3", "-k: must be a positive integer, got -3"},
      {search + "--rerank 2000000", "--rerank: must be an integer from -1 to 1048576, got 2000000"},
      {"ann build --base b -o o --entry-points -1",
       "--entry-points: must be auto or an integer from 0 to 1000000, got -1"},
      {"ann build --base b -o o --threads x", "--threads: must be a non-negative integer, got x"},
      {"validate --vectors 0", "--vectors: must be a positive integer, got 0"},
  };
  for (const auto& [args, message] : cases) {
    auto run = run_tool(kTool, args);
    EXPECT_EQ(run.exit_code, 2) << args;
    EXPECT_EQ(run.err, message + "\nRun with --help for more information.\n") << args;
    EXPECT_EQ(run.out, "") << args;
  }
  // Accepted values still reach the command (here: the missing sweep file).
  auto ok = run_tool(kTool, "sweep absent.yaml -j 2 --point-timeout 0.5");
  EXPECT_EQ(ok.exit_code, 4) << ok.err;
}

TEST(Cli, ListShowsModelsAndShippedConfigs) {
  auto list = run_tool(kTool, "list", TESSEL_SOURCE_DIR);
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("  mac_array_analytical"), std::string::npos);
  EXPECT_NE(list.out.find("configs/sweeps/quickstart.yaml"), std::string::npos);
}

// The key tables of a README come from the declarations: regenerated in place, --check fails
// on a stale table and changes nothing, and a bad marker names the README's line.
TEST(Cli, ListKeysAndGeneratedReadmeTables) {
  TempDir dir;
  auto keys = run_tool(kTool, "list --keys test_fault", dir.path());
  ASSERT_EQ(keys.exit_code, 0) << keys.err;
  // test_fault's declaration, written out by hand (tests/runtime/sweep/fault_models.cpp).
  EXPECT_NE(keys.out.find("| `size` | integer > 0 |  | required | the point's size (cycles = "
                          "1000 x size) |\n"),
            std::string::npos)
      << keys.out;
  EXPECT_NE(keys.out.find("| `sleep_ms` | integer, 0–3600000 | ms | 0 | delay of every point |"),
            std::string::npos)
      << keys.out;
  const std::string stale =
      "# Keys\n\nProse stays.\n<!-- keys: test_fault hw -->\n| old | table |\n"
      "<!-- end keys -->\nMore prose.\n";
  write_text(dir / "README.md", stale);
  auto check = run_tool(kTool, "list --readme README.md --check", dir.path());
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(check.err.find("README.md: the key tables differ"), std::string::npos) << check.err;
  EXPECT_EQ(read_text(dir / "README.md"), stale);
  ASSERT_EQ(run_tool(kTool, "list --readme README.md", dir.path()).exit_code, 0);
  EXPECT_EQ(read_text(dir / "README.md"),
            "# Keys\n\nProse stays.\n<!-- keys: test_fault hw -->\n"
            "| key | type | unit | default | meaning |\n|---|---|---|---|---|\n"
            "| `size` | integer > 0 |  | required | the point's size (cycles = 1000 x size) |\n"
            "<!-- end keys -->\nMore prose.\n");
  EXPECT_EQ(run_tool(kTool, "list --readme README.md --check", dir.path()).exit_code, 0);
  write_text(dir / "bad.md", "a\n<!-- keys: no_such_model hw -->\n<!-- end keys -->\n");
  auto bad = run_tool(kTool, "list --readme bad.md", dir.path());
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_NE(bad.err.find("bad.md:2: unknown model 'no_such_model'"), std::string::npos) << bad.err;
  write_text(dir / "open.md", "<!-- keys: test_fault workload -->\n| x |\n");
  auto open = run_tool(kTool, "list --readme open.md", dir.path());
  EXPECT_NE(open.err.find("open.md:1: section has no '<!-- end keys -->'"), std::string::npos)
      << open.err;
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
