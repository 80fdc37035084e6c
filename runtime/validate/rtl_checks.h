// Cross-validation of the RTL units against the reference kernels and the SystemC timing.
//
// The GoogleTest testbenches (tests/rtl) and `tessel validate` run the same checks, so the
// report and the tests cannot disagree. Every check drives a Verilated model with a
// deterministic stimulus (seeded random or directed), compares every output with
// models/common/fixed.h, sim/lstm_sharp/mfu.h or models/sparse, measures latency and
// initiation interval, and, when it fails, replays the same stimulus with an FST trace.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessel::rtl {

// Which vectors a check drives.
enum class Suite {
  kRandom,    // seeded random vectors (at least CheckOptions::random_vectors outputs)
  kDirected,  // corners: zeros, saturation, most-negative values, every lane / index pattern
  kGolden,    // tests/models/lstm/golden/*.txt (LSTM-Sharp units only)
  kTiming,    // latency of every output and back-to-back throughput (II)
};
const char* suite_name(Suite s);

struct CheckOptions {
  uint64_t seed = 1;
  int64_t random_vectors = 10000;
  std::string source_dir;    // repository root (golden files, configs); "" = build's root
  std::string trace_dir;     // where an FST trace goes on failure; "" = no trace
  std::string coverage_dir;  // where the coverage database goes; "" = not written
  // Self-test of the failure path: the DPU checks add 1 to the first expected sum, so the
  // check fails and replays with a trace.
  bool corrupt_reference = false;
};

// The outcome of one check of one unit and parameter set.
struct UnitCheck {
  std::string unit;    // "lstm_sharp/dpu"
  std::string params;  // "K=8"
  Suite suite = Suite::kRandom;
  int64_t vectors = 0;     // outputs compared
  int64_t mismatches = 0;  // outputs that differ from the reference
  double max_error = 0;    // largest |rtl - reference|, in LSBs of the output format
  std::string first_mismatch;
  // Timing: measured from the RTL vs the SystemC model's parameter (-1: not measured).
  int64_t latency_rtl = -1, latency_sc = -1;
  int64_t ii_rtl = -1, ii_sc = -1;
  std::string timing_note;  // where the SystemC number comes from
  std::string trace_path;   // the FST written for a failure
  bool passed() const {
    return mismatches == 0 && vectors > 0 && latency_rtl == latency_sc && ii_rtl == ii_sc;
  }
};

// The units and parameter sets that have a Verilated model (rtl/CMakeLists.txt).
UnitCheck check_dpu(int k, Suite suite, const CheckOptions& opt);                // k = 8 or 3
UnitCheck check_mfu(Suite suite, const CheckOptions& opt);                       // LANES = 16
UnitCheck check_sparse_dot(int n, int m, Suite suite, const CheckOptions& opt);  // 2:4, 4:8

// Every check above, in report order.
std::vector<UnitCheck> run_all_checks(const CheckOptions& opt);

}  // namespace tessel::rtl
