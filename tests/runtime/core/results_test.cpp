// SimResult and points.jsonl serialisation, torn-line recovery, trace output.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/core/point_record.h"
#include "runtime/core/trace_writer.h"
#include "tests/support/tool.h"

namespace tessel {
namespace {

SimResult sample() {
  SimResult r;
  r.model = "m";
  r.cycles = 1234;
  r.clock_ghz = 1.5;
  r.seconds = 1234 / 1.5e9;
  r.counters = {{"a.mac_int8", 7}};
  r.energy_pj = {{"a", 2.1}, {"b", 0.4}};
  r.metrics = {{"utilization", 0.5}};
  r.checks = {{"x", true, 0.0, 1e-6, ""}};
  return r;
}

// The points.jsonl record of sample(), written out by hand: what other tools (and older
// results folders) read, so neither direction may drift without this text changing.
const char* kSampleRecord = R"({
  "model": "m", "cycles": 1234, "clock_ghz": 1.5, "seconds": 8.226666666666667e-07,
  "counters": {"a.mac_int8": 7},
  "energy_pj": {"a": 2.1, "b": 0.4}, "energy_total_pj": 2.5,
  "metrics": {"utilization": 0.5},
  "checks": [{"name": "x", "passed": true, "max_error": 0.0, "tolerance": 1e-06, "detail": ""}]
})";

TEST(SimResult, WritesTheDocumentedRecord) {
  const nlohmann::json want = nlohmann::json::parse(kSampleRecord);
  const nlohmann::json got = sample().to_json();
  EXPECT_EQ(got, want) << got.dump(1);
}

TEST(SimResult, ReadsTheDocumentedRecord) {
  SimResult r = SimResult::from_json(nlohmann::json::parse(kSampleRecord));
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(r.cycles, 1234u);
  EXPECT_EQ(r.clock_ghz, 1.5);
  EXPECT_EQ(r.counters, (std::map<std::string, uint64_t>{{"a.mac_int8", 7}}));
  EXPECT_EQ(r.energy_pj, (std::map<std::string, double>{{"a", 2.1}, {"b", 0.4}}));
  EXPECT_EQ(r.metrics, (std::map<std::string, double>{{"utilization", 0.5}}));
  ASSERT_EQ(r.checks.size(), 1u);
  EXPECT_EQ(r.checks[0].name, "x");
  EXPECT_TRUE(r.checks[0].passed);
  EXPECT_EQ(r.checks[0].tolerance, 1e-6);
  EXPECT_TRUE(r.labels.empty());
  // energy_total_pj is derived, not stored: the reader recomputes it from the components.
  EXPECT_DOUBLE_EQ(r.total_energy_pj(), 2.5);
}

TEST(PointRecord, ReadSkipsTornFinalLineAndReportsBadLines) {
  testing::TempDir dir;
  PointRecord ok;
  ok.index = 0;
  ok.id = "p0000";
  ok.params = {{"hw.tiles", 4}};
  ok.seed = 9;
  ok.ok = true;
  ok.result = sample();
  PointRecord failed = ok;
  failed.index = 1;
  failed.id = "p0001";
  failed.ok = false;
  failed.result.reset();
  failed.exit_status = 139;
  failed.failure = "signal SIGSEGV";
  std::string good = ok.to_line() + "\n" + failed.to_line() + "\n";
  testing::write_text(dir.path() / "points.jsonl", good + "{\"index\":2,\"id");
  size_t valid = 0;
  auto records = read_points(dir / "points.jsonl", &valid);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(valid, good.size());
  EXPECT_EQ(records[1].failure, "signal SIGSEGV");
  EXPECT_EQ(records[0].to_line(), ok.to_line());

  testing::write_text(dir.path() / "bad.jsonl", good + "not json\n");
  try {
    read_points(dir / "bad.jsonl");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(dir / "bad.jsonl" + ":3: malformed point record", 0), 0u)
        << e.what();
  }
}

TEST(TraceWriter, WritesValidTraceEventJson) {
  testing::TempDir dir;
  {
    TraceWriter t(dir / "t.json");
    int a = t.track("tile0");
    int b = t.track("tile1");
    EXPECT_EQ(t.track("tile0"), a);
    t.span(a, "mac", 0, 10);
    t.span(b, "mac", 5, 2.5);
    t.counter("queue", 3, 7);
    t.close();
  }
  auto j = nlohmann::json::parse(testing::read_text(dir.path() / "t.json"));
  const auto& ev = j.at("traceEvents");
  int spans = 0;
  for (const auto& e : ev)
    if (e.at("ph") == "X") {
      ++spans;
      if (e.at("tid") == 2) {
        EXPECT_DOUBLE_EQ(e.at("ts").get<double>(), 0.005);  // 5 ns in µs
        EXPECT_DOUBLE_EQ(e.at("dur").get<double>(), 0.0025);
      }
    }
  EXPECT_EQ(spans, 2);
}

}  // namespace
}  // namespace tessel
