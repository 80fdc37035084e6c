// Config loading: typed getters, exact error messages, base/include, unknown keys.
#include "runtime/core/config.h"

#include <gtest/gtest.h>

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

TEST(Config, MissingFile) {
  EXPECT_EQ(error_of([&] { Config::load("/nonexistent/hw.yaml"); }),
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
  EXPECT_EQ(error_of([&] { Config::load(dir / "hw.yaml"); }),
            dir / "hw.yaml" + ":3:12: cannot open config file \"" + dir / "nope.yaml" +
                "\" (No such file or directory)");
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
