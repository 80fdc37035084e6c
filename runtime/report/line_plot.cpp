// gnuplot script for study line plots (metric against key or metric, one line per group).
#include "runtime/report/line_plot.h"

#include "runtime/report/plots.h"

namespace tessel::report {

PlotJob line_plot(const LinePlotSpec& spec, const std::vector<LineSeries>& series) {
  PlotJob job;
  job.name = "plot_" + spec.name;
  bool error_bars = false;
  for (const auto& s : series)
    for (const auto& p : s.points) error_bars |= p.n > 1;

  // One data file per series: x, mean y, std y.
  for (size_t i = 0; i < series.size(); ++i) {
    std::string data;
    for (const auto& p : series[i].points)
      data += gp_number(p.x) + "\t" + gp_number(p.y) + "\t" + gp_number(p.y_std) + "\n";
    job.data_files["series" + std::to_string(i) + ".tsv"] = data;
  }
  std::string s =
      "set encoding utf8\n"
      "set terminal svg size 900,560 dynamic noenhanced font 'Helvetica,14' background rgb "
      "'white'\n"
      "set output '" +
      job.name +
      ".svg'\n"
      "set datafile separator \"\\t\"\n"
      "set border lw 1.2\n"
      "set grid lc rgb '#dddddd' lt 1\n"
      "set key outside right top vertical Left reverse noautotitle\n"
      "set lmargin 12\nset bmargin 5\n"
      "set title " +
      gp_string(spec.title) + "\nset xlabel " + gp_string(spec.x_label) + "\nset ylabel " +
      gp_string(spec.y_label) + "\n";
  if (spec.log_x) s += "set logscale x\n";
  if (spec.log_y) s += "set logscale y\n";
  s += "plot ";
  for (size_t i = 0; i < series.size(); ++i) {
    // Okabe-Ito colours (colour-blind safe), then gnuplot's own.
    static const char* const kColours[] = {"#0072b2", "#e69f00", "#009e73", "#cc79a7",
                                           "#56b4e9", "#d55e00", "#f0e442", "#000000"};
    const std::string colour = kColours[i % 8];
    const std::string file = gp_string("series" + std::to_string(i) + ".tsv");
    if (i) s += ", \\\n     ";
    s += file + " using 1:2" +
         std::string(error_bars ? ":3 with yerrorlines" : " with linespoints") + " lw 2 pt " +
         std::to_string(5 + static_cast<int>(i % 8)) + " ps 0.9 lc rgb '" + colour + "' title " +
         gp_string(series[i].label);
  }
  job.script = s + "\n";
  return job;
}

}  // namespace tessel::report
