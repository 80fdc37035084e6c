// gnuplot scripts for the report plots, and running gnuplot in a scratch directory.
#include "runtime/report/plots.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

// Labels go into tab-separated data files: no tabs, line breaks or double quotes.
std::string data_label(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
    if (c == '"') c = '\'';
  }
  return out;
}

// A gnuplot single-quoted string literal (no escapes inside except '' for ').
std::string gp_string(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\n' || c == '\r') c = ' ';
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string preamble(const std::string& name, int width, int height) {
  return "set encoding utf8\n"
         "set terminal svg size " +
         std::to_string(width) + "," + std::to_string(height) +
         " dynamic noenhanced font 'Helvetica,14' background rgb 'white'\n"
         "set output '" +
         name +
         ".svg'\n"
         "set datafile separator \"\\t\"\n"
         // Names from the results may hold '#', which gnuplot would take for a comment.
         "set datafile commentschars \"\"\n"
         "set border lw 1.2\n"
         // Colour-blind-safe series colours (Okabe-Ito) instead of gnuplot's defaults.
         "set linetype 1 lc rgb '#0072b2'\nset linetype 2 lc rgb '#e69f00'\n"
         "set linetype 3 lc rgb '#009e73'\nset linetype 4 lc rgb '#cc79a7'\n"
         "set linetype 5 lc rgb '#56b4e9'\nset linetype 6 lc rgb '#d55e00'\n"
         "set linetype 7 lc rgb '#f0e442'\nset linetype 8 lc rgb '#999999'\n"
         "set linetype cycle 8\n"
         "set grid ytics lc rgb '#dddddd' lt 1\n";
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

// Bar charts are drawn 1000 px wide (the width the HTML shows them at, so fonts keep their
// size) and widen only when bars would get thinner than about 24 px.
int bar_chart_width(size_t bars, int legend) {
  return std::min(2400, std::max(1000, 24 * static_cast<int>(bars) + 260 + legend));
}

// Log axes when the values span more than two decades.
bool wide_range(const std::vector<double>& v) {
  if (v.empty()) return false;
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return *lo > 0 && *hi / *lo > 100;
}

}  // namespace

PlotJob speedup_plot(const std::vector<Bar>& bars, const std::string& baseline_text) {
  PlotJob job;
  job.name = "speedup";
  std::string data = "point\tspeedup\n";
  std::vector<std::string> labels;
  for (const Bar& b : bars) {
    data += data_label(b.label) + "\t" + num(b.value) + "\n";
    labels.push_back(b.label);
  }
  job.data_files["speedup.dat"] = data;
  job.script =
      preamble(job.name, bar_chart_width(bars.size(), 160), 540) + "set title " +
      gp_string("Speedup over the baseline (" + baseline_text + ")") +
      "\n"
      "set ylabel 'Speedup (×, baseline latency / latency)'\n" +
      std::string(bars.size() > kMaxLabelledBars
                      ? "set xlabel 'Design points, in point order (see the points table)'\n"
                      : "set xlabel 'Design point'\n") +
      xtics_for(labels) +
      "set yrange [0:*]\n"
      "set offsets 0.5, 0.5, graph 0.08, 0\n"
      "set style fill solid 0.85 border rgb '#2f4b7c'\n"
      "set boxwidth 0.7\n"
      "set key outside right top vertical box\n"
      "plot 'speedup.dat' using " +
      std::string(bars.size() > kMaxLabelledBars ? "0:2" : "0:2:xtic(1)") +
      " skip 1 with boxes lc rgb '#4c72b0' "
      "title 'speedup', \\\n" +
      std::string(bars.size() > kMaxLabelledBars
                      ? ""
                      : "     '' using 0:2:(sprintf('%.2f×', $2)) skip 1 with labels "
                        "offset 0,0.8 font ',12' notitle, \\\n") +
      "     1 with lines dt 2 lw 1.5 lc rgb '#c44e52' title 'baseline (1×)'\n";
  return job;
}

PlotJob energy_plot(const std::vector<std::string>& labels,
                    const std::vector<std::string>& components,
                    const std::vector<std::vector<double>>& values, const std::string& unit) {
  PlotJob job;
  job.name = "energy_breakdown";
  std::string data = "point";
  for (const auto& c : components) data += "\t" + data_label(c);
  data += "\n";
  for (size_t p = 0; p < labels.size(); ++p) {
    data += data_label(labels[p]);
    for (size_t c = 0; c < components.size(); ++c) data += "\t" + num(values[p][c]);
    data += "\n";
  }
  job.data_files["energy.dat"] = data;
  job.script = preamble(job.name, bar_chart_width(labels.size(), 160), 540) +
               "set title 'Energy per component'\n"
               "set ylabel " +
               gp_string("Energy (" + unit + ")") +
               "\n"
               "set xlabel 'Design point'\n" +
               xtics_for(labels) +
               "set yrange [0:*]\n"
               "set style data histograms\n"
               "set style histogram rowstacked\n"
               "set style fill solid 0.85 border rgb '#444444'\n"
               "set boxwidth 0.7\n"
               "set key outside right top vertical title 'Component' box\n"
               "plot for [i=2:" +
               std::to_string(components.size() + 1) +
               "] 'energy.dat' using i:xtic(1) title columnheader(i)\n";
  return job;
}

PlotJob pareto_plot(const std::vector<ScatterPoint>& points, const std::vector<size_t>& front,
                    const std::string& energy_unit) {
  PlotJob job;
  job.name = "pareto";
  std::string all = "latency\tenergy\tpoint\n", best = "latency\tenergy\tpoint\n";
  std::vector<double> xs, ys;
  for (const auto& p : points) {
    all += num(p.x) + "\t" + num(p.y) + "\t" + data_label(p.label) + "\n";
    xs.push_back(p.x);
    ys.push_back(p.y);
  }
  for (size_t i : front)
    best += num(points[i].x) + "\t" + num(points[i].y) + "\t" + data_label(points[i].label) + "\n";
  job.data_files["points.dat"] = all;
  job.data_files["front.dat"] = best;
  job.script = preamble(job.name, 1000, 600) +
               "set title 'Latency against energy (lower left is better)'\n"
               "set xlabel 'Latency (µs)'\n"
               "set ylabel " +
               gp_string("Energy (" + energy_unit + ")") + "\n" +
               (wide_range(xs) ? "set logscale x\n" : "set xrange [0:*]\n") +
               (wide_range(ys) ? "set logscale y\n" : "set yrange [0:*]\n") +
               "set grid xtics ytics lc rgb '#dddddd' lt 1\n"
               "set offsets 0, graph 0.12, graph 0.08, 0\n"
               "set key outside right top vertical box\n"
               "plot 'points.dat' using 1:2 skip 1 with points pt 7 ps 1.3 lc rgb '#8c8c8c' "
               "title 'design point', \\\n"
               "     'front.dat' using 1:2 skip 1 with linespoints pt 7 ps 1.7 lw 2 "
               "lc rgb '#c44e52' title 'Pareto front', \\\n"
               "     'front.dat' using 1:2:3 skip 1 with labels left offset 0.9,0.7 "
               "font ',11' notitle\n";
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
