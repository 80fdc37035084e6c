// Declared keys: checking configs against a declaration, reading through it, the generated
// Markdown. Expected messages and tables are written out by hand here.
#include "runtime/core/keys.h"

#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>

namespace tessel {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

// A small declaration with each kind of key.
const KeySet& accel_keys() {
  static const KeySet keys = [] {
    static const KeySet port = [] {
      KeySet p("port");
      p.positive_integer("width", "bytes per cycle").in("B");
      return p;
    }();
    KeySet k("accel hw");
    k.integer("tiles", 1, 64, "number of tiles");
    k.number("clock_ghz", 0.01, 10, "clock").in("GHz").def("1");
    k.choice("schedule", {"sharp", "sequential"}, "order of work").def("sharp");
    k.flag("functional", "compute values").def("true");
    k.section("sram", "weight SRAM");
    k.integer("sram.banks", 1, 512, "banks").opt("one per lane");
    k.list("layers", "the layers");
    k.positive_integer("layers[].units", "hidden units");
    k.list("dims", "shape");
    k.integer("dims[]", 1, 8, "one dimension");
    k.nested("port", port, "the port").path_too = true;
    k.open("notes", "free text for people");
    return k;
  }();
  return keys;
}

Config parse(const std::string& text) {
  return Config::parse(text, "hw.yaml", "hw");
}

TEST(Keys, AcceptsEveryDeclaredForm) {
  Config c = parse(
      "tiles: 4\nclock_ghz: 2\nschedule: sequential\nfunctional: false\nsram: {banks: 8}\n"
      "layers: [{units: 3}, {units: 5}]\ndims: [2, 3]\nport: {width: 16}\n"
      "notes: {anything: [1, 2]}\n");
  accel_keys().check(c);
  EXPECT_NO_THROW(c.reject_unused());  // check() marks what it checked
  Config as_path = parse("tiles: 1\nport: fast_port.yaml\n");
  EXPECT_NO_THROW(accel_keys().check(as_path));
}

TEST(Keys, UnknownKeyNamesFileLineAndNearestKey) {
  EXPECT_EQ(error_of([] { accel_keys().check(parse("tiles: 4\ntilez: 5\n")); }),
            "hw.yaml:2:1: hw.tilez: unknown key (did you mean 'tiles'?)");
  EXPECT_EQ(error_of([] { accel_keys().check(parse("tiles: 4\nsram: {bank: 2}\n")); }),
            "hw.yaml:2:8: hw.sram.bank: unknown key (did you mean 'banks'?)");
  // Two neighbours swapped is one edit.
  EXPECT_EQ(error_of([] { accel_keys().check(parse("tiels: 4\n")); }),
            "hw.yaml:1:1: hw.tiels: unknown key (did you mean 'tiles'?)");
  // Far from every name: no suggestion.
  EXPECT_EQ(error_of([] { accel_keys().check(parse("tiles: 4\nvoltage: 1\n")); }),
            "hw.yaml:2:1: hw.voltage: unknown key");
  // Inside list elements and nested sets.
  EXPECT_EQ(error_of([] { accel_keys().check(parse("layers: [{units: 3, unit: 4}]\n")); }),
            "hw.yaml:1:21: hw.layers[0].unit: unknown key (did you mean 'units'?)");
  EXPECT_EQ(error_of([] { accel_keys().check(parse("port: {width: 2, depth: 3}\n")); }),
            "hw.yaml:1:18: hw.port.depth: unknown key");
}

TEST(Keys, ChecksTypesAndRangesOfKeysNobodyReads) {
  EXPECT_EQ(error_of([] { accel_keys().check(parse("tiles: 65\n")); }),
            "hw.yaml:1:8: hw.tiles: expected an integer from 1 to 64, got \"65\"");
  EXPECT_EQ(error_of([] { accel_keys().check(parse("clock_ghz: fast\n")); }),
            "hw.yaml:1:12: hw.clock_ghz: expected a number from 0.01 to 10, got \"fast\"");
  EXPECT_EQ(error_of([] { accel_keys().check(parse("schedule: random\n")); }),
            "hw.yaml:1:11: hw.schedule: expected one of sharp, sequential, got \"random\"");
  EXPECT_EQ(error_of([] { accel_keys().check(parse("dims: [2, 9]\n")); }),
            "hw.yaml:1:11: hw.dims[1]: expected an integer from 1 to 8, got \"9\"");
  EXPECT_EQ(error_of([] { accel_keys().check(parse("layers: [{units: 0}]\n")); }),
            "hw.yaml:1:18: hw.layers[0].units: expected a positive integer, got \"0\"");
  EXPECT_EQ(error_of([] { accel_keys().check(parse("tiles:\n")); }),
            "hw.yaml:1:1: hw.tiles: missing required value");
}

TEST(Keys, ReadsDefaultsAndValuesThroughTheDeclaration) {
  const Keyed empty(accel_keys(), parse("tiles: 2\n"));
  EXPECT_EQ(empty.integer("tiles"), 2);
  EXPECT_DOUBLE_EQ(empty.number("clock_ghz"), 1.0);
  EXPECT_EQ(empty.choice("schedule"), "sharp");
  EXPECT_TRUE(empty.flag("functional"));
  const Keyed full(accel_keys(),
                   parse("tiles: 2\nsram: {banks: 8}\nlayers: [{units: 7}]\ndims: [3, 4]\n"));
  EXPECT_EQ(full.child("sram").integer("banks"), 8);
  ASSERT_EQ(full.items("layers").size(), 1u);
  EXPECT_EQ(full.items("layers")[0].integer("units"), 7);
  EXPECT_EQ(full.items("dims")[1].as_integer(), 4);
  // A required key that is absent is the usual config error, not a crash.
  EXPECT_EQ(error_of([] { Keyed(accel_keys(), parse("clock_ghz: 1\n")).integer("tiles"); }),
            "hw.yaml:1:1: hw.tiles: missing required key");
}

TEST(Keys, ReadingAnUndeclaredKeyIsAProgrammingError) {
  const Keyed k(accel_keys(), parse("tiles: 2\n"));
  EXPECT_THROW(k.integer("banks"), std::logic_error);
  EXPECT_THROW(k.number("tiles"), std::logic_error);  // declared as an integer
  KeySet twice("twice");
  twice.flag("a", "first");
  EXPECT_THROW(twice.flag("a", "again"), std::logic_error);
}

TEST(Keys, IncludeAddsAFragmentUnderAPrefix) {
  KeySet fragment("fragment");
  fragment.number("read_gbps", 0.001, 100, "read bandwidth").in("GB/s");
  KeySet k("with fragment");
  k.section("link", "the link");
  k.include("link", fragment);
  ASSERT_NE(k.find("link.read_gbps"), nullptr);
  EXPECT_EQ(error_of([&] { k.check(parse("link: {read_gbps: 0}\n")); }),
            "hw.yaml:1:19: hw.link.read_gbps: expected a number from 0.001 to 100, got \"0\"");
}

TEST(Keys, MarkdownTableListsEveryKeyOnce) {
  KeySet k("doc");
  k.integer("tiles", 1, 64, "number of tiles");
  k.number("clock_ghz", 0.01, 10, "clock").in("GHz").def("1");
  k.integer("sram.banks", 1, 512, "banks | ports").opt("one per lane");
  k.list("dims", "shape");
  k.integer("dims[]", 1, 8, "one dimension");
  k.positive_number("scale", "a factor");
  EXPECT_EQ(k.markdown(),
            "| key | type | unit | default | meaning |\n"
            "|---|---|---|---|---|\n"
            "| `tiles` | integer, 1–64 |  | required | number of tiles |\n"
            "| `clock_ghz` | number, 0.01–10 | GHz | 1 | clock |\n"
            "| `sram.banks` | integer, 1–512 |  | one per lane | banks \\| ports |\n"
            "| `dims` | list of integer, 1–8 |  | required | shape |\n"
            "| `scale` | number > 0 |  | required | a factor |\n");
}

TEST(Keys, SummarisedFragmentIsOneRowButStillChecked) {
  KeySet fragment("device");
  fragment.integer("banks", 1, 64, "banks");
  fragment.integer("ranks", 1, 8, "ranks");
  KeySet k("with device");
  k.flag("on", "switch").def("true");
  k.include("", fragment, "a device: see Memory");
  EXPECT_EQ(k.markdown(),
            "| key | type | unit | default | meaning |\n"
            "|---|---|---|---|---|\n"
            "| `on` | bool |  | true | switch |\n"
            "| `…` | keys of another form |  |  | a device: see Memory |\n");
  EXPECT_EQ(error_of([&] { k.check(parse("ranks: 9\n")); }),
            "hw.yaml:1:8: hw.ranks: expected an integer from 1 to 8, got \"9\"");
}

TEST(Keys, ConditionalKeyIsAnErrorUnderAnotherChoice) {
  KeySet k("workload");
  k.choice("kind", {"synthetic", "trace"}, "source").def("synthetic");
  k.file("trace", "trace file").opt("required with kind: trace").when("kind", {"trace"});
  k.integer("requests", 1, 100, "requests").def("10").when("kind", {"synthetic"});
  EXPECT_NO_THROW(k.check(parse("kind: trace\ntrace: t.bin\n")));
  EXPECT_NO_THROW(k.check(parse("requests: 5\n")));  // kind's default is synthetic
  EXPECT_EQ(error_of([&] { k.check(parse("kind: synthetic\ntrace: t.bin\n")); }),
            "hw.yaml:2:1: hw.trace: applies only with kind: trace (here kind: synthetic)");
  EXPECT_EQ(error_of([&] { k.check(parse("requests: 5\nkind: trace\ntrace: t\n")); }),
            "hw.yaml:1:1: hw.requests: applies only with kind: synthetic (here kind: trace)");
  EXPECT_NE(k.markdown().find("| trace file (only with kind: `trace`) |"), std::string::npos)
      << k.markdown();
}

}  // namespace
}  // namespace tessel
