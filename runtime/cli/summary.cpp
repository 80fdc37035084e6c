// Summary formatting with units.
#include "runtime/cli/summary.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace tessel::cli {
namespace {

std::string fixed3(double v, const char* unit) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f %s", v, unit);
  return buf;
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

std::string group_digits(uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(i, ",");
  return s;
}

std::string format_seconds(double s) {
  if (s >= 1) return fixed3(s, "s");
  if (s >= 1e-3) return fixed3(s * 1e3, "ms");
  if (s >= 1e-6) return fixed3(s * 1e6, "µs");
  return fixed3(s * 1e9, "ns");
}

std::string format_energy_pj(double pj) {
  if (pj >= 1e12) return fixed3(pj * 1e-12, "J");
  if (pj >= 1e9) return fixed3(pj * 1e-9, "mJ");
  if (pj >= 1e6) return fixed3(pj * 1e-6, "µJ");
  if (pj >= 1e3) return fixed3(pj * 1e-3, "nJ");
  return fixed3(pj, "pJ");
}

std::string format_summary(const std::string& experiment_file, uint64_t seed, const SimResult& r) {
  std::string out;
  auto line = [&](const std::string& key, const std::string& value) {
    out += key + std::string(13 - std::min<size_t>(12, key.size()), ' ') + value + "\n";
  };
  line("experiment",
       experiment_file + " (model " + r.model + ", seed " + std::to_string(seed) + ")");
  // An algorithm experiment runs on the host: no simulated time, no energy table.
  const bool simulated = r.cycles > 0 || r.clock_ghz > 0 || !r.energy_pj.empty();
  if (!simulated) {
    for (const auto& kv : r.labels) line(kv.first, kv.second);
    std::string metrics;
    for (const auto& kv : r.metrics)
      metrics += (metrics.empty() ? "" : ", ") + kv.first + " " + number(kv.second);
    if (!metrics.empty()) line("metrics", metrics);
    for (const auto& kv : r.artifacts) line("artifact", kv.first + ": " + kv.second);
    for (const auto& c : r.checks)
      line("check", std::string(c.passed ? "PASS " : "FAIL ") + c.name + " (max error " +
                        number(c.max_error) + ", tolerance " + number(c.tolerance) + ")");
    return out;
  }
  line("latency", group_digits(r.cycles) + " cycles @ " + number(r.clock_ghz) +
                      " GHz = " + format_seconds(r.seconds));
  double total = r.total_energy_pj();
  std::vector<std::pair<double, std::string>> parts;
  for (const auto& kv : r.energy_pj) parts.emplace_back(kv.second, kv.first);
  std::sort(parts.rbegin(), parts.rend());
  std::string breakdown;
  for (const auto& p : parts) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s%s %.1f%%", breakdown.empty() ? "" : ", ", p.second.c_str(),
                  total > 0 ? 100 * p.first / total : 0.0);
    breakdown += buf;
  }
  line("energy", format_energy_pj(total) + (breakdown.empty() ? "" : "  (" + breakdown + ")"));
  std::string metrics;
  for (const auto& kv : r.metrics)
    metrics += (metrics.empty() ? "" : ", ") + kv.first + " " + number(kv.second);
  if (!metrics.empty()) line("metrics", metrics);
  for (const auto& c : r.checks)
    line("check", std::string(c.passed ? "PASS " : "FAIL ") + c.name + " (max error " +
                      number(c.max_error) + ", tolerance " + number(c.tolerance) + ")" +
                      (c.detail.empty() ? "" : ": " + c.detail));
  if (r.checks.empty()) line("check", "none (timing-only run)");
  return out;
}

}  // namespace tessel::cli
