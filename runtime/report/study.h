// Study sections of a report: points grouped by keys and aggregated over the seed axis
// (mean, std, min, max, n), and line plots of metrics or artifact curves per group.
#pragma once

#include <map>
#include <string>
#include <vector>

// Full header, not json_fwd.hpp: PointGroup::key is a json member held by value.
#include <nlohmann/json.hpp>

#include "runtime/core/point_record.h"
#include "runtime/report/document.h"
#include "runtime/report/line_plot.h"
#include "runtime/report/results_folder.h"

namespace tessel::report {

// Statistics of one metric over the runs (seeds) of a group. `std` is the sample standard
// deviation (n - 1 in the denominator), 0 for a single run.
struct SeedStats {
  double mean = 0, std = 0, min = 0, max = 0;
  double sum = 0;  // the group's total (report.totals: a model's layers summed, say)
  size_t n = 0;
};
SeedStats seed_stats(const std::vector<double>& values);

// Successful points that agree on `keys` (every other swept key, the seed included, is
// aggregated over), in order of first appearance.
struct PointGroup {
  nlohmann::json key = nlohmann::json::object();  // key path → value
  std::string label;                              // "lr=0.002 layers=4"
  std::vector<size_t> points;                     // indices into the folder's points
  std::map<std::string, SeedStats> metrics;       // every metric any member reports
};
std::vector<PointGroup> group_points(const std::vector<PointRecord>& points,
                                     const std::vector<std::string>& keys);

// A plot of the study, ready for gnuplot.
struct StudyPlot {
  std::string heading, caption;
  PlotJob job;
};

struct Study {
  bool present = false;  // the sweep asked for study sections (or swept seeds)
  std::vector<std::string> group_keys;
  bool aggregated = false;  // some group holds more than one run
  // One row per group: its keys, n, then mean ± std [min, max] per metric, then the total
  // of each report.totals metric over the group's points.
  Table table;
  std::vector<StudyPlot> plots;
  std::vector<std::string> notes;  // plots left out, and why
};

// Reads report.group_by / report.metrics / report.plots from the manifest (defaults: group
// by every swept key but seed; every metric) and computes the study. Artifacts named by a
// plot are read from `folder.dir`; a missing or malformed one throws IoError naming it.
Study plan_study(const ResultsFolder& folder);

}  // namespace tessel::report
