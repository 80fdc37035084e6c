// A sweep file expanded into its design points (grid = cartesian product, zip = in step).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
  std::vector<SweepPoint> points;
  nlohmann::json report = nlohmann::json::object();  // the `report:` section as JSON
  std::string config_hash;  // FNV-1a over the sweep and its resolved base experiment
};

// Loads and expands a sweep file. Throws ConfigError naming file, line and key.
SweepPlan load_sweep(const std::string& path);
// The experiment tree of one point (base experiment + the point's overrides).
Config point_experiment(const SweepPlan& plan, const SweepPoint& point);
// "hw.rows=8 workload.m=64" for listings.
std::string describe_params(const nlohmann::json& params);

}  // namespace tessel::sweep
