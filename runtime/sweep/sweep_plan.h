// A sweep file expanded into its design points (grid = cartesian product, zip = in step).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

// Full header, not json_fwd.hpp: SweepPoint::params, SweepPlan::report are json members by value.
#include <nlohmann/json.hpp>

#include "runtime/core/config.h"
#include "runtime/core/runner.h"

namespace tessel::sweep {

struct SweepPoint {
  size_t index = 0;
  std::string id;                   // "p0007"
  std::vector<Override> overrides;  // swept values, plus the derived `seed`
  nlohmann::json params;            // swept key path → value
  uint64_t seed = 0;
};

// One swept key and its values, as listed in the sweep file.
struct SweepAxis {
  std::string key;
  std::vector<Config> values;
};

struct SweepPlan {
  std::string file;
  std::string name;
  std::string title;
  std::string experiment_path;  // resolved against the sweep file's folder
  uint64_t seed = 1;
  // `set:` — key path → value applied to every point (fixed settings of a study that are
  // not axes, so they stay out of the points' parameters).
  std::vector<Override> fixed;
  std::vector<std::string> swept_keys;  // grid keys then zip keys, in file order
  std::vector<SweepAxis> grid, zip;
  size_t point_count = 0;  // product of the grid lengths times the zip length
  // Every point, expanded by load_sweep unless asked not to: a 10^6-point sweep takes
  // seconds and a gigabyte to expand, so the runner makes each point when it needs it.
  std::vector<SweepPoint> points;
  nlohmann::json report = nlohmann::json::object();  // the `report:` section as JSON
  std::string config_hash;  // FNV-1a over the sweep and its resolved base experiment
};

// Loads a sweep file and, with `expand`, fills `points`. Throws ConfigError naming file,
// line and key.
SweepPlan load_sweep(const std::string& path, bool expand = true);
// Point `index` (< point_count): grid in file order, last key fastest, the zip tuple
// fastest of all.
SweepPoint make_point(const SweepPlan& plan, size_t index);
// "p0007"
std::string point_id(size_t index);
// How the points come about: "grid 3×2, zip 4", "grid 32", "zip 5".
std::string describe_axes(const SweepPlan& plan);
// The experiment tree of one point (base experiment + the point's overrides).
Config point_experiment(const SweepPlan& plan, const SweepPoint& point);
// "hw.rows=8 workload.m=64" for listings.
std::string describe_params(const nlohmann::json& params);

}  // namespace tessel::sweep
