// Bookkeeping shared by the unit checks: comparisons, latency, file names, trace replay.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "runtime/validate/rtl_checks.h"

namespace tessel::rtl::detail {

inline std::string source_dir(const CheckOptions& opt) {
  return opt.source_dir.empty() ? std::string(TESSEL_SOURCE_DIR) : opt.source_dir;
}

// Records one compared output; `what` locates it for the first-mismatch message.
inline void compare(UnitCheck& r, int64_t rtl, int64_t ref, const std::string& what) {
  ++r.vectors;
  if (rtl == ref) return;
  ++r.mismatches;
  r.max_error = std::max(r.max_error, static_cast<double>(rtl > ref ? rtl - ref : ref - rtl));
  if (r.first_mismatch.empty())
    r.first_mismatch = what + ": rtl " + std::to_string(rtl) + ", reference " + std::to_string(ref);
}

// Every output's latency must be the same number; a spread is reported as a mismatch.
inline void note_latency(UnitCheck& r, int64_t latency, const std::string& what) {
  if (r.latency_rtl < 0) {
    r.latency_rtl = latency;
  } else if (latency != r.latency_rtl) {
    ++r.mismatches;
    if (r.first_mismatch.empty())
      r.first_mismatch = what + ": latency " + std::to_string(latency) + " after " +
                         std::to_string(r.latency_rtl) + " for earlier outputs";
    r.latency_rtl = std::max(r.latency_rtl, latency);
  }
}

// File stem of a check: lstm_sharp_dpu_K8_random.
inline std::string tag(const UnitCheck& r) {
  std::string t = r.unit + "_" + r.params + "_" + suite_name(r.suite);
  for (char& c : t)
    if (c == '/' || c == '=' || c == ':' || c == ' ' || c == ',') c = '_';
  return t;
}

// Runs `run(trace_path, coverage_path)`; on failure replays the identical stimulus with
// an FST trace (tracing every run would slow the passing case for nothing).
template <typename Run>
UnitCheck run_check(const UnitCheck& header, const CheckOptions& opt, Run run) {
  std::string cov;
  if (!opt.coverage_dir.empty()) {
    std::filesystem::create_directories(opt.coverage_dir);
    cov = opt.coverage_dir + "/" + tag(header) + ".dat";
  }
  UnitCheck r = run(std::string(), cov);
  if (!r.passed() && !opt.trace_dir.empty()) {
    std::filesystem::create_directories(opt.trace_dir);
    const std::string path = opt.trace_dir + "/" + tag(header) + ".fst";
    run(path, std::string());
    r.trace_path = path;
  }
  return r;
}

}  // namespace tessel::rtl::detail
