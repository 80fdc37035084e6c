// The report's plots as gnuplot scripts, rendered to SVG by the gnuplot program.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace tessel::report {

// A gnuplot script and the data files it reads, all named relative to one directory.
// The script writes its SVG to `name` + ".svg".
struct PlotJob {
  std::string name;  // "speedup", "energy_breakdown", "pareto", "area_pareto"
  std::string script;
  std::map<std::string, std::string> data_files;  // file name → contents
};

struct Bar {
  std::string label;
  double value = 0;
};

struct ScatterPoint {
  std::string label;
  double x = 0, y = 0;
};

// Bars of speedup (×) per point, with a dashed line at 1 (the baseline). A max / min
// above 20 gives a log axis with bars from 1×; the title wraps to the plot's width.
PlotJob speedup_plot(const std::vector<Bar>& bars, const std::string& baseline_text);
// Stacked bars: values[point][component], in `unit`. All-zero components are left out;
// past 20 components the lightest are summed into "other", so every series has its own colour.
PlotJob energy_plot(const std::vector<std::string>& labels,
                    const std::vector<std::string>& components,
                    const std::vector<std::vector<double>>& values, const std::string& unit);
// Latency (µs) against another cost, `y_name` (lower case, e.g. "energy", "area") in
// `y_unit`, written to `name`.svg; `front` indexes `points` in drawing order and only front
// points are labelled (labelling every point clutters dense sweeps).
PlotJob pareto_plot(const std::vector<ScatterPoint>& points, const std::vector<size_t>& front,
                    const std::string& name, const std::string& y_name, const std::string& y_unit);

// The executable gnuplot would run as: `program` itself when it holds a '/', else the
// first match on PATH. Empty when there is none.
std::string find_program(const std::string& program);

// gnuplot script text: a single-quoted string literal ('' stands for ', line breaks become
// spaces), and a number with every digit a double holds.
std::string gp_string(const std::string& s);
std::string gp_number(double v);

// Runs `gnuplot` on the job in a fresh temporary directory (removed afterwards) and
// returns the SVG. A non-zero exit or a missing SVG throws IoError naming the plot and
// quoting gnuplot's last error lines.
std::string render_plot(const std::string& gnuplot, const PlotJob& job);

}  // namespace tessel::report
