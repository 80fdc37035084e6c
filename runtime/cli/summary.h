// Human-readable summary of one SimResult for `tessel run`.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/core/sim_result.h"

namespace tessel::cli {

std::string format_summary(const std::string& experiment_file, uint64_t seed, const SimResult& r);
// 1234567 → "1,234,567"; 3.2e-6 s → "3.200 µs"; 1.5e6 pJ → "1.500 µJ".
std::string group_digits(uint64_t v);
std::string format_seconds(double s);
std::string format_energy_pj(double pj);

}  // namespace tessel::cli
