// Line plots for studies: a metric against a swept key or another metric, one line per
// group, with error bars where points were aggregated over seeds.
#pragma once

#include <string>
#include <vector>

#include "runtime/report/plots.h"

namespace tessel::report {

struct LinePoint {
  double x = 0;
  double y = 0;      // mean over the seeds aggregated into this point
  double y_std = 0;  // sample standard deviation (0 for a single run)
  size_t n = 1;
};

struct LineSeries {
  std::string label;              // "lr=0.002"
  std::vector<LinePoint> points;  // in increasing x
};

struct LinePlotSpec {
  std::string name;  // file stem: plot_<name>.svg
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;
};

// The gnuplot job for `series`; error bars appear when any point aggregates n > 1 runs.
PlotJob line_plot(const LinePlotSpec& spec, const std::vector<LineSeries>& series);

}  // namespace tessel::report
