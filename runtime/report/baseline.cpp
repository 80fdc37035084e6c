// Baseline lookup by parameter substitution.
#include "runtime/report/baseline.h"

#include <map>

#include <nlohmann/json.hpp>

namespace tessel::report {

std::vector<Comparison> compare_to_baseline(const std::vector<PointRecord>& points,
                                            const nlohmann::json& baseline) {
  std::vector<Comparison> out(points.size());
  if (!baseline.is_object()) return out;
  // json's ordering compares numbers by value, so 4 and 4.0 find the same point.
  std::map<nlohmann::json, size_t> by_params;
  for (size_t i = 0; i < points.size(); ++i) by_params.emplace(points[i].params, i);

  for (size_t i = 0; i < points.size(); ++i) {
    Comparison& c = out[i];
    const PointRecord& p = points[i];
    if (!p.ok || !p.result) {
      c.why_not = "point failed";
      continue;
    }
    nlohmann::json target = p.params;
    std::string unswept;
    for (const auto& kv : baseline.items()) {
      if (!p.params.contains(kv.key())) unswept = kv.key();
      target[kv.key()] = kv.value();
    }
    if (!unswept.empty()) {
      c.why_not = "baseline key " + unswept + " is not a parameter of this point";
      continue;
    }
    auto it = by_params.find(target);
    if (it == by_params.end()) {
      c.why_not = "no baseline point with these parameters";
      continue;
    }
    c.baseline = it->second;
    const PointRecord& base = points[it->second];
    if (!base.ok || !base.result) {
      c.why_not = "baseline " + base.id + " failed";
      continue;
    }
    if (p.result->seconds <= 0 || base.result->seconds <= 0) {
      c.why_not = "zero latency";
      continue;
    }
    c.speedup = base.result->seconds / p.result->seconds;
    double e = p.result->total_energy_pj(), be = base.result->total_energy_pj();
    if (e > 0 && be > 0) c.energy_ratio = be / e;
  }
  return out;
}

}  // namespace tessel::report
