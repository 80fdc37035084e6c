// `tessel report`: turns a results folder into report.md, report.html and SVG plots.
#pragma once

#include <string>
#include <vector>

namespace tessel::report {

struct ReportOptions {
  std::string gnuplot = "gnuplot";  // program name (searched on PATH) or path
};

struct ReportFiles {
  std::string markdown;            // path of report.md
  std::string html;                // path of report.html
  std::vector<std::string> plots;  // paths of the SVGs written beside them
  bool plots_skipped = false;      // gnuplot was not found: the report has tables only
  std::vector<std::string> notes;  // why a plot (or all of them) was left out
};

// Reads `results_dir`/manifest.json and points.jsonl and writes report.md, report.html
// and speedup.svg, energy_breakdown.svg, pareto.svg (and area_pareto.svg when the points
// report a varying area_mm2) into the same folder. Every file is
// written to a temporary name and renamed into place, and nothing is written until all
// of them have been produced, so a failure leaves the previous report intact.
// Throws IoError for a missing or malformed input and when gnuplot fails on a plot.
ReportFiles write_report(const std::string& results_dir, const ReportOptions& options = {});

}  // namespace tessel::report
