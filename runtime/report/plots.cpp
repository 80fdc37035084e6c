// gnuplot scripts for the report plots, and running gnuplot in a scratch directory.
#include "runtime/report/plots.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/core/error.h"

namespace tessel::report {
namespace {

namespace fs = std::filesystem;

constexpr int kFontPx = 14;  // the terminal font; value labels use 12

// Labels go into tab-separated data files: no tabs, line breaks or double quotes.
std::string data_label(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
    if (c == '"') c = '\'';
  }
  return out;
}

// A gnuplot double-quoted string literal; "\n" in `s` becomes a line break.
std::string gp_dq_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c != '\r') {
      out += c;
    }
  }
  return out + "\"";
}

// Twenty distinct series colours: Okabe-Ito's eight (colour-blind safe) first, then twelve
// more hues and shades ordered so neighbours in a stack differ strongly; a breakdown of up
// to 20 components never repeats a colour.
const char* const kSeriesColours[] = {"#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9",
                                      "#d55e00", "#f0e442", "#999999", "#6a3d9a", "#8c510a",
                                      "#a6d96a", "#b2182b", "#80cdc1", "#404040", "#dfc27d",
                                      "#e7298a", "#1b7837", "#f4a582", "#c2a5cf", "#7570b3"};
constexpr size_t kSeriesColourCount = sizeof kSeriesColours / sizeof kSeriesColours[0];

std::string preamble(const std::string& name, int width, int height) {
  std::string s =
      "set encoding utf8\n"
      "set terminal svg size " +
      std::to_string(width) + "," + std::to_string(height) +
      " dynamic noenhanced font 'Helvetica," + std::to_string(kFontPx) +
      "' background rgb 'white'\n"
      "set output '" +
      name +
      ".svg'\n"
      "set datafile separator \"\\t\"\n"
      // Names from the results may hold '#', which gnuplot would take for a comment.
      "set datafile commentschars \"\"\n"
      "set border lw 1.2\n";
  for (size_t i = 0; i < kSeriesColourCount; ++i)
    s += "set linetype " + std::to_string(i + 1) + " lc rgb '" + kSeriesColours[i] + "'\n";
  return s + "set linetype cycle " + std::to_string(kSeriesColourCount) +
         "\n"
         "set grid ytics lc rgb '#dddddd' lt 1\n";
}

// Text width in pixels, estimated at 0.6 em a character (Helvetica averages about 0.5 em;
// the margin covers capitals and wide glyphs). UTF-8 continuation bytes do not count.
double text_px(const std::string& s, int font_px) {
  size_t chars = 0;
  for (unsigned char c : s)
    if ((c & 0xc0) != 0x80) ++chars;
  return 0.6 * font_px * static_cast<double>(chars);
}

// Breaks `text` into lines that fit `width_px`, preferring breaks after ", " and then
// after spaces; a word longer than a line is cut.
std::vector<std::string> wrap(const std::string& text, double width_px, int font_px) {
  const auto fit = static_cast<size_t>(std::max(8.0, width_px / (0.6 * font_px)));
  std::vector<std::string> lines;
  std::string rest = text;
  while (text_px(rest, font_px) > width_px) {
    size_t cut = rest.rfind(", ", fit - 1);
    size_t skip = 2;
    if (cut == std::string::npos || cut == 0) {
      cut = rest.rfind(' ', fit);
      skip = 1;
    }
    if (cut == std::string::npos || cut == 0) {
      cut = fit;  // no break point: cut the word (byte count; names here are ASCII)
      skip = 0;
    }
    lines.push_back(rest.substr(0, cut + (skip == 2 ? 1 : 0)));
    rest = rest.substr(cut + skip);
  }
  if (!rest.empty()) lines.push_back(rest);
  return lines;
}

// Beyond this many bars, per-bar labels overlap whatever the rotation: the bars are then
// drawn in point order without labels, and the points table names them.
constexpr size_t kMaxLabelledBars = 48;

// Bar charts rotate their labels when there are many or long ones.
std::string xtics_for(const std::vector<std::string>& labels) {
  // Histogram ticks come from xtic(): tiny labels keep the axis, without the overlap.
  if (labels.size() > kMaxLabelledBars) return "set xtics scale 0 font ',1'\n";
  size_t longest = 0;
  for (const auto& l : labels) longest = std::max(longest, l.size());
  if (labels.size() * (longest + 2) > 80) return "set xtics rotate by 35 right nomirror\n";
  return "set xtics nomirror\n";
}

// Bars sit at x = 0 .. n-1: the range hugs them (gnuplot's autoscale would widen it to
// the next round tick and leave a fifth of a wide chart empty).
std::string bar_xrange(size_t bars) {
  return "set xrange [-0.6:" + gp_number(static_cast<double>(bars) - 0.4) + "]\n";
}

// Bar charts are drawn 1000 px wide (the width the HTML shows them at, so fonts keep their
// size) and widen only when bars would get thinner than about 24 px.
int bar_chart_width(size_t bars, int legend) {
  return std::min(2400, std::max(1000, 24 * static_cast<int>(bars) + 260 + legend));
}

// Past this max / min the speedup axis is logarithmic: on a linear one bars below about a
// twentieth of the tallest are too short to see.
constexpr double kLogSpeedupRatio = 20;

// Width of a bar chart's plot area: the canvas less the y axis (about 100 px), the right
// margin and the legend.
double plot_width(int width, int legend) {
  return static_cast<double>(width - 100 - legend);
}

// Log axes when the values span more than two decades.
bool wide_range(const std::vector<double>& v) {
  if (v.empty()) return false;
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return *lo > 0 && *hi / *lo > 100;
}

}  // namespace

std::string gp_string(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\n' || c == '\r') c = ' ';
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

std::string gp_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

PlotJob speedup_plot(const std::vector<Bar>& bars, const std::string& baseline_text) {
  PlotJob job;
  job.name = "speedup";
  std::string data = "point\tspeedup\n";
  std::vector<std::string> labels;
  double lo = 0, hi = 0;
  size_t value_chars = 0;  // the longest value label ("14.73×")
  for (const Bar& b : bars) {
    data += data_label(b.label) + "\t" + gp_number(b.value) + "\n";
    labels.push_back(b.label);
    lo = labels.size() == 1 ? b.value : std::min(lo, b.value);
    hi = std::max(hi, b.value);
    char text[48];  // as the value label prints it (kValueLabel)
    std::snprintf(text, sizeof text, b.value >= 0.1 ? "%.2f" : "%.2g", b.value);
    value_chars = std::max(value_chars, std::string(text).size() + 1);
  }
  job.data_files["speedup.dat"] = data;
  const bool labelled = bars.size() <= kMaxLabelledBars;
  const bool log = lo > 0 && hi / lo > kLogSpeedupRatio;
  const int width = bar_chart_width(bars.size(), 160);
  // Value labels stand upright when they are wider than a bar's slot.
  const double slot =
      plot_width(width, 160) / std::max<double>(1, static_cast<double>(bars.size()));
  const bool upright = 0.6 * 12 * static_cast<double>(value_chars) > 0.9 * slot;

  std::string title = "Speedup over the baseline";
  const auto title_more = wrap("baseline: " + baseline_text, plot_width(width, 160), kFontPx);
  for (const std::string& line : title_more) title += "\n" + line;
  const size_t title_lines = 1 + title_more.size();
  std::string script = preamble(job.name, width, 540) + "set title " + gp_dq_string(title) +
                       "\n"
                       "set ylabel 'Speedup (×, baseline latency / latency)'\n" +
                       (labelled ? "set xlabel 'Design point'\n"
                                 : "set xlabel 'Design points, in point order (see the points "
                                   "table)'\n") +
                       xtics_for(labels) + bar_xrange(labels.size()) +
                       "set format y '%g×'\n"
                       "set style fill solid 0.85 border rgb '#2f4b7c'\n"
                       "set key outside right top vertical box\n";
  const std::string xtic = labelled ? ":xtic(1)" : "";
  // Labels above the bar end (below it for log bars under 1×); upright ones start there.
  const std::string up = upright ? "rotate by 90 left offset 0,0.5" : "center offset 0,0.8";
  const std::string down = upright ? "rotate by 90 right offset 0,-0.5" : "center offset 0,-0.8";
  // Two decimals; below 0.1×, two significant digits (0.0095×, not 0.01×).
  const std::string value = "($2 >= 0.1 ? sprintf('%.2f×', $2) : sprintf('%.2g×', $2))";
  const double label_px = upright ? 0.6 * 12 * static_cast<double>(value_chars) + 12 : 24;
  if (log) {
    // Bars grow from 1× (the baseline) up or down, so length shows the ratio either way.
    // The range pads both ends by p decades so the value labels fit inside: with a plot
    // h px tall over s decades of data, p h / (s + 2 p) >= the label's length.
    const double h = 540 - 150 - 21.0 * static_cast<double>(title_lines);
    const double span = std::log10(std::max(hi, 1.0) / std::min(lo, 1.0));
    const double pad = std::pow(10.0, std::max(0.15, label_px * span / (h - 2 * label_px)));
    const double y0 = std::min(lo, 1.0) / pad, y1 = std::max(hi, 1.0) * pad;
    // Decade ticks; a range under three decades would show only two or three of them, so
    // it labels 1-2-5 steps instead.
    std::string ytics = "set ytics 10\n";
    if (y1 / y0 < 1000) {
      ytics = "set ytics (";
      for (int e = static_cast<int>(std::floor(std::log10(y0))); std::pow(10.0, e) <= y1; ++e)
        for (double m : {1.0, 2.0, 5.0}) {
          const double v = m * std::pow(10.0, e);
          char tick[32];
          std::snprintf(tick, sizeof tick, "%g", v);
          if (v >= y0 && v <= y1) ytics += (ytics.back() == '(' ? "" : ", ") + std::string(tick);
        }
      ytics += ")\n";
    }
    script += "set logscale y 10\n" + ytics +
              "set mytics 10\n"
              "set yrange [" +
              gp_number(y0) + ":" + gp_number(y1) +
              "]\n"
              "set offsets 0, 0, 0, 0\n"
              "plot 'speedup.dat' using 0:2:($0-0.35):($0+0.35):($2<1?$2:1):($2<1?1:$2)" +
              xtic + " skip 1 with boxxyerror lc rgb '#4c72b0' title 'speedup', \\\n";
    // One label series per side, each only when it has a bar (gnuplot 5.4 crashes on a
    // label series whose every point is undefined).
    if (labelled && hi >= 1)
      script += "     '' using 0:($2>=1?$2:1/0):" + value + " skip 1 with labels " + up +
                " font ',12' notitle, \\\n";
    if (labelled && lo < 1)
      script += "     '' using 0:($2<1?$2:1/0):" + value + " skip 1 with labels " + down +
                " font ',12' notitle, \\\n";
  } else {
    script +=
        "set yrange [0:*]\n"
        "set offsets 0, 0, graph " +
        std::string(upright ? "0.16" : "0.08") +
        ", 0\n"
        "set boxwidth 0.7\n"
        "plot 'speedup.dat' using 0:2" +
        xtic + " skip 1 with boxes lc rgb '#4c72b0' title 'speedup', \\\n";
    if (labelled)
      script +=
          "     '' using 0:2:" + value + " skip 1 with labels " + up + " font ',12' notitle, \\\n";
  }
  job.script = script + "     1 with lines dt 2 lw 1.5 lc rgb '#c44e52' title 'baseline (1×)'\n";
  return job;
}

PlotJob energy_plot(const std::vector<std::string>& labels,
                    const std::vector<std::string>& components,
                    const std::vector<std::vector<double>>& values, const std::string& unit) {
  PlotJob job;
  job.name = "energy_breakdown";
  // A component's weight: its largest share of any point's total. Components that are zero
  // everywhere only crowd the legend; past the palette's size the lightest are summed into
  // one "other" series, so no two series share a colour.
  std::vector<double> totals(labels.size(), 0), share(components.size(), 0);
  for (size_t p = 0; p < labels.size(); ++p)
    for (size_t c = 0; c < components.size(); ++c) totals[p] += values[p][c];
  for (size_t p = 0; p < labels.size(); ++p)
    for (size_t c = 0; c < components.size(); ++c)
      if (totals[p] > 0) share[c] = std::max(share[c], values[p][c] / totals[p]);
  std::vector<size_t> shown;
  for (size_t c = 0; c < components.size(); ++c)
    if (share[c] > 0) shown.push_back(c);
  std::vector<size_t> other;
  if (shown.size() > kSeriesColourCount) {
    std::vector<size_t> by_weight = shown;
    std::stable_sort(by_weight.begin(), by_weight.end(),
                     [&](size_t a, size_t b) { return share[a] > share[b]; });
    other.assign(by_weight.begin() + kSeriesColourCount - 1, by_weight.end());
    shown.assign(by_weight.begin(), by_weight.begin() + kSeriesColourCount - 1);
    std::sort(shown.begin(), shown.end());  // the caller's order, "other" last
  }
  std::vector<std::string> names;
  for (size_t c : shown) names.push_back(components[c]);
  if (!other.empty()) names.push_back("other (" + std::to_string(other.size()) + " components)");

  std::string data = "point";
  for (const auto& n : names) data += "\t" + data_label(n);
  data += "\n";
  for (size_t p = 0; p < labels.size(); ++p) {
    data += data_label(labels[p]);
    for (size_t c : shown) data += "\t" + gp_number(values[p][c]);
    if (!other.empty()) {
      double sum = 0;
      for (size_t c : other) sum += values[p][c];
      data += "\t" + gp_number(sum);
    }
    data += "\n";
  }
  job.data_files["energy.dat"] = data;
  double legend = 160;
  for (const auto& n : names) legend = std::max(legend, text_px(n, kFontPx) + 90);
  const int width = bar_chart_width(labels.size(), static_cast<int>(legend));
  // The legend keeps one row per series: the chart grows taller rather than cutting it.
  const int height = std::max(540, 140 + 22 * static_cast<int>(names.size()));
  job.script =
      preamble(job.name, width, height) +
      "set title 'Energy per component'\n"
      "set ylabel " +
      gp_string("Energy (" + unit + ")") + "\n" +
      std::string(labels.size() <= kMaxLabelledBars
                      ? "set xlabel 'Design point'\n"
                      : "set xlabel 'Design points, in point order (see the points table)'\n") +
      xtics_for(labels) + bar_xrange(labels.size()) +
      "set yrange [0:*]\n"
      "set style data histograms\n"
      "set style histogram rowstacked\n"
      "set style fill solid 0.85 border rgb '#444444'\n"
      "set boxwidth 0.7\n"
      "set key outside right top vertical title 'Component' box\n";
  if (names.empty()) {
    // Every component is zero: an empty frame says so instead of failing to plot.
    job.script +=
        "set label 1 'every component is 0' at graph 0.5, graph 0.5 center\n"
        "plot 'energy.dat' using 0:(0):xtic(1) skip 1 with points ps 0 notitle\n";
  } else {
    job.script += "plot for [i=2:" + std::to_string(names.size() + 1) +
                  "] 'energy.dat' using i:xtic(1) title columnheader(i)\n";
  }
  return job;
}

PlotJob pareto_plot(const std::vector<ScatterPoint>& points, const std::vector<size_t>& front,
                    const std::string& name, const std::string& y_name, const std::string& y_unit) {
  PlotJob job;
  job.name = name;
  const std::string header = "latency\t" + y_name + "\tpoint\n";
  std::string all = header, best = header;
  std::string y_label = y_name + " (" + y_unit + ")";
  y_label[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(y_label[0])));
  std::vector<double> xs, ys;
  for (const auto& p : points) {
    all += gp_number(p.x) + "\t" + gp_number(p.y) + "\t" + data_label(p.label) + "\n";
    xs.push_back(p.x);
    ys.push_back(p.y);
  }
  for (size_t i : front)
    best += gp_number(points[i].x) + "\t" + gp_number(points[i].y) + "\t" +
            data_label(points[i].label) + "\n";
  job.data_files["points.dat"] = all;
  job.data_files["front.dat"] = best;
  job.script = preamble(job.name, 1000, 600) + "set title " +
               gp_string("Latency against " + y_name + " (lower left is better)") +
               "\n"
               "set xlabel 'Latency (µs)'\n"
               "set ylabel " +
               gp_string(y_label) + "\n" +
               // Log axes hug the data (gnuplot would round them out to whole decades,
               // leaving most of the plot empty); the offsets leave room for labels.
               (wide_range(xs) ? "set logscale x\nset autoscale xfix\n" : "set xrange [0:*]\n") +
               (wide_range(ys) ? "set logscale y\nset autoscale yfix\n" : "set yrange [0:*]\n") +
               "set grid xtics ytics lc rgb '#dddddd' lt 1\n"
               // Linear axes start at 0 exactly; log ones get a margin below and left.
               "set offsets " +
               (wide_range(xs) ? "graph 0.04" : "0") + ", graph 0.12, graph 0.08, " +
               (wide_range(ys) ? "graph 0.06" : "0") +
               "\n"
               "set key outside right top vertical box\n"
               "plot 'points.dat' using 1:2 skip 1 with points pt 7 ps 1.3 lc rgb '#8c8c8c' "
               "title 'design point', \\\n"
               "     'front.dat' using 1:2 skip 1 with linespoints pt 7 ps 1.7 lw 2 "
               "lc rgb '#c44e52' title 'Pareto front', \\\n"
               // Front labels alternate above and below the line, so neighbours along a
               // dense front do not print over each other.
               "     'front.dat' using 1:(int($0) % 2 ? 1/0 : $2):3 skip 1 with labels left "
               "offset 0.9,0.7 font ',11' notitle" +
               // (gnuplot 5.4 crashes on a label series whose every point is undefined.)
               (front.size() > 1 ? ", \\\n     'front.dat' using 1:(int($0) % 2 ? $2 : 1/0):3 "
                                   "skip 1 with labels left offset 0.9,-0.8 font ',11' notitle\n"
                                 : "\n");
  return job;
}

std::string find_program(const std::string& program) {
  auto runnable = [](const fs::path& p) {
    return fs::is_regular_file(p) && ::access(p.c_str(), X_OK) == 0;
  };
  if (program.find('/') != std::string::npos) return runnable(program) ? program : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    fs::path candidate = fs::path(dir.empty() ? "." : dir) / program;
    if (runnable(candidate)) return candidate.string();
  }
  return "";
}

std::string render_plot(const std::string& gnuplot, const PlotJob& job) {
  std::string pattern = (fs::temp_directory_path() / "tessel-report-XXXXXX").string();
  if (!::mkdtemp(pattern.data()))
    throw IoError(pattern + ": cannot create: " + std::strerror(errno));
  const fs::path dir = pattern;
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};

  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream out(dir / name, std::ios::binary);
    out << text;
    if (!out.flush()) throw IoError((dir / name).string() + ": cannot write");
  };
  for (const auto& [name, text] : job.data_files) write(name, text);
  write(job.name + ".gp", job.script);

  const std::string log = (dir / "gnuplot.log").string();
  pid_t pid = ::fork();
  if (pid < 0)
    throw IoError("plot " + job.name + ": cannot start gnuplot: " + std::strerror(errno));
  if (pid == 0) {
    // The child: run in the scratch directory, stdin empty, both outputs to the log.
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || ::chdir(dir.c_str()) != 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    std::string script = job.name + ".gp";
    ::execl(gnuplot.c_str(), gnuplot.c_str(), script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  auto read = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string tail = read(log);
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
    if (tail.size() > 400) tail = "..." + tail.substr(tail.size() - 400);
    std::string how = WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                        : "signal " + std::to_string(WTERMSIG(status));
    throw IoError("plot " + job.name + ": gnuplot (" + gnuplot + ") failed with " + how +
                  (tail.empty() ? "" : ": " + tail));
  }
  std::string svg = read(dir / (job.name + ".svg"));
  if (svg.find("<svg") == std::string::npos)
    throw IoError("plot " + job.name + ": gnuplot wrote no SVG");
  return svg;
}

}  // namespace tessel::report
