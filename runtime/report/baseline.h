// Speedup and energy ratio of each design point over its baseline point.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "runtime/core/point_record.h"

namespace tessel::report {

struct Comparison {
  std::optional<size_t> baseline;      // index into the points vector
  std::optional<double> speedup;       // baseline seconds / point seconds
  std::optional<double> energy_ratio;  // baseline energy / point energy (>1: uses less)
  std::string why_not;                 // when there is no speedup: the reason, for the report
};

// A point's baseline is the point whose params equal the point's params except that the
// keys named in `baseline` (key path → value) take the baseline values; a baseline point
// is its own baseline (speedup 1). Parameter values compare as JSON (so 4 equals 4.0);
// Comparison::baseline is set whenever the baseline point exists, even if it failed.
// Failed points, points with no matching or a failed baseline, and zero latency or energy
// get no ratio. With a null `baseline` every point gets none.
std::vector<Comparison> compare_to_baseline(const std::vector<PointRecord>& points,
                                            const nlohmann::json& baseline);

}  // namespace tessel::report
