// Testbenches of the RTL units: bit-exact against the references, latency and II against SystemC.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "runtime/validate/rtl_checks.h"

namespace tessel::rtl {
namespace {

CheckOptions options() {
  CheckOptions o;
  o.seed = 20261126;
  o.source_dir = TESSEL_SOURCE_DIR;
  o.trace_dir = std::string(TESSEL_BINARY_DIR) + "/rtl_traces";
  // The rtl_coverage test sets this to collect Verilator coverage from every check.
  if (const char* cov = std::getenv("TESSEL_RTL_COVERAGE_DIR")) o.coverage_dir = cov;
  return o;
}

void expect_pass(const UnitCheck& r) {
  SCOPED_TRACE(r.unit + " " + r.params + " " + suite_name(r.suite));
  EXPECT_GT(r.vectors, 0);
  EXPECT_EQ(r.mismatches, 0) << r.first_mismatch << " (max error " << r.max_error
                             << " LSB; FST trace: " << r.trace_path << ")";
  EXPECT_EQ(r.latency_rtl, r.latency_sc) << r.timing_note;
  EXPECT_EQ(r.ii_rtl, r.ii_sc) << r.timing_note;
}

void expect_random(const UnitCheck& r) {
  expect_pass(r);
  EXPECT_GE(r.vectors, 10000);
}

TEST(RtlDpuK8, RandomRowsMatchFixedDot) {
  expect_random(check_dpu(8, Suite::kRandom, options()));
}
TEST(RtlDpuK8, DirectedCorners) {
  expect_pass(check_dpu(8, Suite::kDirected, options()));
}
TEST(RtlDpuK8, GoldenAccumulators) {
  expect_pass(check_dpu(8, Suite::kGolden, options()));
}
TEST(RtlDpuK8, LatencyAndIiMatchSystemC) {
  const UnitCheck r = check_dpu(8, Suite::kTiming, options());
  expect_pass(r);
  EXPECT_EQ(r.latency_rtl, 4);  // ceil(log2 8) + 1
  EXPECT_EQ(r.ii_rtl, 1);
}

TEST(RtlDpuK3, RandomRowsMatchFixedDot) {
  expect_random(check_dpu(3, Suite::kRandom, options()));
}
TEST(RtlDpuK3, DirectedCorners) {
  expect_pass(check_dpu(3, Suite::kDirected, options()));
}
TEST(RtlDpuK3, GoldenAccumulators) {
  expect_pass(check_dpu(3, Suite::kGolden, options()));
}
TEST(RtlDpuK3, LatencyAndIiMatchSystemC) {
  const UnitCheck r = check_dpu(3, Suite::kTiming, options());
  expect_pass(r);
  EXPECT_EQ(r.latency_rtl, 3);  // ceil(log2 3) + 1
}

TEST(RtlMfu, RandomElementsMatchMfuElement) {
  expect_random(check_mfu(Suite::kRandom, options()));
}
TEST(RtlMfu, ExhaustiveActivationsAndCorners) {
  const UnitCheck r = check_mfu(Suite::kDirected, options());
  expect_pass(r);
  EXPECT_GE(r.vectors, 4 * 65536);
}
TEST(RtlMfu, GoldenCellAndHidden) {
  expect_pass(check_mfu(Suite::kGolden, options()));
}
TEST(RtlMfu, LatencyAndIiMatchSystemC) {
  const UnitCheck r = check_mfu(Suite::kTiming, options());
  expect_pass(r);
  EXPECT_EQ(r.ii_rtl, 1);
}

TEST(RtlSparseDot2of4, RandomRowsMatchReference) {
  expect_random(check_sparse_dot(2, 4, Suite::kRandom, options()));
}
TEST(RtlSparseDot2of4, EveryIndexPatternAndCorners) {
  expect_pass(check_sparse_dot(2, 4, Suite::kDirected, options()));
}
TEST(RtlSparseDot2of4, LatencyAndIiMatchSystemC) {
  expect_pass(check_sparse_dot(2, 4, Suite::kTiming, options()));
}
TEST(RtlSparseDot4of8, RandomRowsMatchReference) {
  expect_random(check_sparse_dot(4, 8, Suite::kRandom, options()));
}
TEST(RtlSparseDot4of8, EveryIndexPatternAndCorners) {
  expect_pass(check_sparse_dot(4, 8, Suite::kDirected, options()));
}
TEST(RtlSparseDot4of8, LatencyAndIiMatchSystemC) {
  expect_pass(check_sparse_dot(4, 8, Suite::kTiming, options()));
}

// The failure path: a check that fails replays its stimulus with an FST trace.
TEST(RtlHarness, FailureWritesFstTrace) {
  CheckOptions o = options();
  o.random_vectors = 20;
  o.corrupt_reference = true;
  o.trace_dir = std::string(TESSEL_BINARY_DIR) + "/rtl_traces/selftest";
  std::filesystem::remove_all(o.trace_dir);
  const UnitCheck r = check_dpu(3, Suite::kRandom, o);
  EXPECT_FALSE(r.passed());
  EXPECT_EQ(r.mismatches, 1);
  EXPECT_EQ(r.max_error, 1);
  ASSERT_FALSE(r.trace_path.empty());
  ASSERT_TRUE(std::filesystem::exists(r.trace_path));
  EXPECT_GT(std::filesystem::file_size(r.trace_path), 0u);
}

}  // namespace
}  // namespace tessel::rtl
