// Config loading: typed getters, exact error messages, base/include, unknown keys.
#include "runtime/core/config.h"

#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "tests/support/tool.h"

namespace tessel {
namespace {

using testing::TempDir;
using testing::write_text;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

// The message of an IoError (a file that cannot be read: exit code 4, not 3).
std::string io_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const IoError& e) {
    return e.what();
  } catch (const Error& e) {
    return std::string("(not an IoError) ") + e.what();
  }
  return "(no error)";
}

TEST(Config, TypedGettersReadScalars) {
  Config c = Config::parse("tiles: 16\nclock: 1.5\nname: sharp\non: true\nquoted: \"8\"\n",
                           "hw.yaml", "hw");
  EXPECT_EQ(c.get<int>("tiles"), 16);
  EXPECT_EQ(c.get_positive_int("tiles"), 16);
  EXPECT_DOUBLE_EQ(c.get<double>("clock"), 1.5);
  EXPECT_EQ(c.get<std::string>("name"), "sharp");
  EXPECT_TRUE(c.get<bool>("on"));
  EXPECT_EQ(c.get<int>("missing", 7), 7);
  EXPECT_EQ(error_of([&] { c.get<int>("quoted"); }),
            "hw.yaml:5:9: hw.quoted: expected an integer, got \"8\"");
  c.reject_unused();  // every key was read
}

TEST(Config, WrongTypeNamesFileLineColumnAndKeyPath) {
  Config c = Config::parse("model: x\ntiles: sixteen\n", "configs/hw/x.yaml", "hw");
  EXPECT_EQ(error_of([&] { c.get_positive_int("tiles"); }),
            "configs/hw/x.yaml:2:8: hw.tiles: expected a positive integer, got \"sixteen\"");
  Config n = Config::parse("dpu:\n  width: -4\n", "hw.yaml", "hw");
  EXPECT_EQ(error_of([&] { n.child("dpu").get_positive_int("width"); }),
            "hw.yaml:2:10: hw.dpu.width: expected a positive integer, got \"-4\"");
  EXPECT_EQ(error_of([&] {
              n.get_choice("mode", {"a", "b"});
            }),
            "hw.yaml:1:1: hw.mode: missing required key");
}

TEST(Config, UnknownKeyIsAnError) {
  Config c = Config::parse("tiles: 4\ntlies: 8\n", "hw.yaml", "hw");
  c.get<int>("tiles");
  EXPECT_EQ(error_of([&] { c.reject_unused(); }), "hw.yaml:2:1: hw.tlies: unknown key");
}

TEST(Config, NestedUnknownKeyIsAnError) {
  Config c = Config::parse("offchip:\n  read_gbps: 4\n  latncy_ns: 2\n", "hw.yaml", "hw");
  c.child("offchip").get<double>("read_gbps");
  EXPECT_EQ(error_of([&] { c.reject_unused(); }), "hw.yaml:3:3: hw.offchip.latncy_ns: unknown key");
}

TEST(Config, YamlSyntaxErrorNamesPosition) {
  TempDir dir;
  write_text(dir / "bad.yaml", "tiles: [1, 2\nclock: 1\n");
  std::string msg = error_of([&] { Config::load(dir / "bad.yaml", "hw"); });
  EXPECT_EQ(msg, dir / "bad.yaml" + ":2:6: YAML syntax error: end of sequence flow not found");
}

TEST(Config, MissingFileIsAnIoError) {
  EXPECT_EQ(io_error_of([&] { Config::load("/nonexistent/hw.yaml"); }),
            "/nonexistent/hw.yaml: cannot open config file (No such file or directory)");
}

TEST(Config, BaseInheritanceMergesMappings) {
  TempDir dir;
  write_text(dir / "base.yaml", "tiles: 4\noffchip:\n  gbps: 10\n  latency: 100\n");
  write_text(dir / "big.yaml", "base: base.yaml\ntiles: 16\noffchip:\n  gbps: 40\n");
  Config c = Config::load(dir / "big.yaml", "hw");
  EXPECT_EQ(c.get<int>("tiles"), 16);
  EXPECT_EQ(c.child("offchip").get<int>("gbps"), 40);
  EXPECT_EQ(c.child("offchip").get<int>("latency"), 100);
  // Values keep the location of the file they came from.
  EXPECT_EQ(c.child("offchip").at("latency").location().str(), dir / "base.yaml" + ":4:12");
  EXPECT_EQ(c.at("tiles").location().str(), dir / "big.yaml" + ":2:8");
}

TEST(Config, BaseCycleIsAnError) {
  TempDir dir;
  write_text(dir / "a.yaml", "base: b.yaml\nx: 1\n");
  write_text(dir / "b.yaml", "base: a.yaml\ny: 2\n");
  EXPECT_EQ(error_of([&] { Config::load(dir / "a.yaml"); }),
            dir / "b.yaml" + ":1:7: base/include cycle: a.yaml -> b.yaml -> a.yaml");
}

TEST(Config, IncludeMergesFragmentsUnderOwnKeys) {
  TempDir dir;
  write_text(dir / "frag.yaml", "gbps: 10\nlatency: 100\n");
  write_text(dir / "hw.yaml", "offchip:\n  include: frag.yaml\n  gbps: 20\n");
  Config c = Config::load(dir / "hw.yaml", "hw");
  EXPECT_EQ(c.child("offchip").get<int>("gbps"), 20);
  EXPECT_EQ(c.child("offchip").get<int>("latency"), 100);
  EXPECT_FALSE(c.child("offchip").has("include"));
}

TEST(Config, MissingIncludeNamesTheReferringLine) {
  TempDir dir;
  write_text(dir / "hw.yaml", "a: 1\nb:\n  include: nope.yaml\n");
  EXPECT_EQ(io_error_of([&] { Config::load(dir / "hw.yaml"); }),
            dir / "hw.yaml" + ":3:12: cannot open config file \"" + dir / "nope.yaml" +
                "\" (No such file or directory)");
}

TEST(Config, DirectoryIsNamedAsSuch) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "sub");
  EXPECT_EQ(io_error_of([&] { Config::load(dir / "sub", "hw"); }),
            dir / "sub" + ": is a directory, expected a file");
  write_text(dir / "hw.yaml", "a: 1\nb:\n  include: sub\n");
  EXPECT_EQ(io_error_of([&] { Config::load(dir / "hw.yaml"); }),
            dir / "hw.yaml" + ":3:12: " + dir / "sub" + ": is a directory, expected a file");
}

TEST(Config, BaseInAnInlineMappingMergesLikeAtTheRoot) {
  TempDir dir;
  write_text(dir / "hw/big.yaml", "tiles: 16\noffchip: {gbps: 40, latency: 100}\n");
  write_text(dir / "exp.yaml",
             "seed: 1\nhw: {base: hw/big.yaml, offchip: {gbps: 10}}\nworkload:\n  base: w.yaml\n");
  write_text(dir / "w.yaml", "kind: gemm\nm: 4\n");
  Config c = Config::load(dir / "exp.yaml");
  Config hw = c.child("hw");
  EXPECT_FALSE(hw.has("base"));
  EXPECT_EQ(hw.get<int>("tiles"), 16);
  EXPECT_EQ(hw.child("offchip").get<int>("gbps"), 10);
  EXPECT_EQ(hw.child("offchip").get<int>("latency"), 100);
  EXPECT_EQ(hw.at("tiles").location().str(), dir / "hw/big.yaml" + ":1:8");
  EXPECT_EQ(c.child("workload").get<int>("m"), 4);
  write_text(dir / "bad.yaml", "hw: {base: [a.yaml]}\n");
  EXPECT_EQ(error_of([&] { Config::load(dir / "bad.yaml"); }),
            dir / "bad.yaml" + ":1:12: hw.base: expected a file path, got a list");
}

TEST(Config, RangeGettersStateTheRange) {
  Config c = Config::parse(
      "clock_ghz: 1e-300\nbuffer_kib: 1e30\nmac_budget: 4611686018427387904\nrows: 16\n"
      "ghz: 2.5\nhalf: 4.5\nhuge: 1e999\nlist: [8, 9000]\nword: \"3\"\n",
      "hw.yaml", "hw");
  EXPECT_EQ(error_of([&] { c.get_number_range("clock_ghz", 0.01, 10); }),
            "hw.yaml:1:12: hw.clock_ghz: expected a number from 0.01 to 10, got \"1e-300\"");
  EXPECT_EQ(error_of([&] { c.get_number_range("buffer_kib", 0.001, 1048576); }),
            "hw.yaml:2:13: hw.buffer_kib: expected a number from 0.001 to 1048576, got \"1e30\"");
  EXPECT_EQ(error_of([&] { c.get_int_range("mac_budget", 4, 1 << 24); }),
            "hw.yaml:3:13: hw.mac_budget: expected an integer from 4 to 16777216, got "
            "\"4611686018427387904\"");
  EXPECT_EQ(c.get_int_range("rows", 1, 16), 16);
  EXPECT_DOUBLE_EQ(c.get_number_range("ghz", 0.01, 10), 2.5);
  EXPECT_EQ(error_of([&] { c.get_int_range("half", 1, 16); }),
            "hw.yaml:6:7: hw.half: expected an integer from 1 to 16, got \"4.5\"");
  EXPECT_EQ(error_of([&] { c.get_number_range("huge", 0, 1e6); }),
            "hw.yaml:7:7: hw.huge: expected a number from 0 to 1000000, got \"1e999\"");
  EXPECT_EQ(error_of([&] { c.get_int_range("word", 1, 16); }),
            "hw.yaml:9:7: hw.word: expected an integer from 1 to 16, got \"3\"");
  auto items = c.items("list");
  EXPECT_EQ(items[0].as_int_range(1, 4096), 8);
  EXPECT_EQ(error_of([&] { items[1].as_int_range(1, 4096); }),
            "hw.yaml:8:11: hw.list[1]: expected an integer from 1 to 4096, got \"9000\"");
  // Absent keys take the fallback; present ones are checked.
  EXPECT_EQ(c.get_int_range("absent", 1, 16, 3), 3);
  EXPECT_DOUBLE_EQ(c.get_number_range("absent2", 0, 1, 0.5), 0.5);
  EXPECT_EQ(error_of([&] { c.get_int_range("rows", 1, 8, 3); }),
            "hw.yaml:4:7: hw.rows: expected an integer from 1 to 8, got \"16\"");
}

TEST(Config, DuplicateKeyIsAnError) {
  EXPECT_EQ(error_of([&] { Config::parse("a: 1\nb: 2\na: 3\n", "x.yaml"); }),
            "x.yaml:3:1: a: duplicate key (first at line 1)");
}

TEST(Config, SetOverridesAndCreates) {
  Config c = Config::parse("hw:\n  tiles: 4\n", "exp.yaml");
  c.set("hw.tiles", Config::parse("8", "sweep.yaml"));
  c.set("hw.new.key", Config::parse("x", "sweep.yaml"));
  EXPECT_EQ(c.child("hw").get<int>("tiles"), 8);
  EXPECT_EQ(c.child("hw").child("new").get<std::string>("key"), "x");
  EXPECT_EQ(c.to_json().dump(), R"({"hw":{"new":{"key":"x"},"tiles":8}})");
}

TEST(Config, ListsAndChoices) {
  Config c = Config::parse("sizes: [1, 2, 3]\nmode: fast\n", "w.yaml", "workload");
  int sum = 0;
  for (const auto& item : c.items("sizes")) sum += item.as<int>();
  EXPECT_EQ(sum, 6);
  EXPECT_EQ(error_of([&] {
              c.get_choice("mode", {"sequential", "sharp"});
            }),
            "w.yaml:2:7: workload.mode: expected one of sequential, sharp, got \"fast\"");
}

}  // namespace
}  // namespace tessel

namespace tessel {
namespace {

TEST(ConfigFileCache, EveryLoadIsAnIndependentTree) {
  TempDir dir;
  write_text(dir / "base.yaml", "tiles: 4\nclock_ghz: 1.0\n");
  write_text(dir / "hw.yaml", "base: base.yaml\nrows: 8\n");
  Config first = Config::load(dir / "hw.yaml", "hw");
  first.set("rows", Config::parse("16", "test"));
  EXPECT_EQ(first.get<int>("rows"), 16);
  EXPECT_EQ(first.get<int>("tiles"), 4);
  // The second load sees the file, not the first load's override or its used marks.
  Config second = Config::load(dir / "hw.yaml", "hw");
  EXPECT_EQ(second.get<int>("rows"), 8);
  EXPECT_EQ(error_of([&] { second.reject_unused(); }),
            dir / "base.yaml" + ":1:1: hw.tiles: unknown key");
}

TEST(ConfigFileCache, AChangedFileIsReadAgain) {
  TempDir dir;
  write_text(dir / "hw.yaml", "rows: 8\n");
  EXPECT_EQ(Config::load(dir / "hw.yaml").get<int>("rows"), 8);
  write_text(dir / "hw.yaml", "rows: 32\ncols: 2\n");  // another size, whatever the clock
  EXPECT_EQ(Config::load(dir / "hw.yaml").get<int>("rows"), 32);
}

TEST(ConfigFileCache, ACycleIsFoundAfterTheFileWasCached) {
  TempDir dir;
  write_text(dir / "a.yaml", "x: 1\n");
  write_text(dir / "b.yaml", "base: a.yaml\ny: 2\n");
  EXPECT_EQ(Config::load(dir / "b.yaml").get<int>("x"), 1);  // both now cached
  write_text(dir / "a.yaml", "base: b.yaml\nx: 10\n");       // a now closes a cycle
  EXPECT_NE(error_of([&] { Config::load(dir / "a.yaml"); }).find("base/include cycle"),
            std::string::npos);
}

}  // namespace
}  // namespace tessel
