// Seed aggregation, grouped tables and line plots for algorithm studies.
#include "runtime/report/study.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"

namespace tessel::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string value_text(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string label_of(const json& key) {
  std::string out;
  for (const auto& [k, v] : key.items())
    out += (out.empty() ? "" : " ") + k.substr(k.rfind('.') + 1) + "=" + value_text(v);
  return out.empty() ? "all points" : out;
}

std::vector<std::string> strings(const json& report, const char* name) {
  std::vector<std::string> out;
  if (report.contains(name))
    for (const auto& v : report.at(name)) out.push_back(v.get<std::string>());
  return out;
}

std::string stats_text(const SeedStats& s) {
  if (s.n == 1) return format_sig(s.mean, 4);
  return format_sig(s.mean, 4) + " ± " + format_sig(s.std, 2) + " [" + format_sig(s.min, 4) + ", " +
         format_sig(s.max, 4) + "]";
}

// Points sharing the values of `keys` (swept keys, else result labels) within `members`, in
// order of first appearance.
std::vector<std::vector<size_t>> split_by(const std::vector<PointRecord>& points,
                                          const std::vector<size_t>& members,
                                          const std::vector<std::string>& keys,
                                          std::vector<json>* key_values) {
  std::vector<std::vector<size_t>> out;
  std::vector<json> seen;
  for (size_t i : members) {
    json key = json::object();
    for (const auto& k : keys) {
      if (points[i].params.contains(k)) {
        key[k] = points[i].params[k];
      } else if (points[i].result) {
        // Not swept: a label the experiment reports (method, pattern, ...), so a study can
        // group by what a point is rather than by the file that configured it.
        const auto& labels = points[i].result->labels;
        if (const auto it = labels.find(k); it != labels.end()) key[k] = it->second;
      }
    }
    auto it = std::find(seen.begin(), seen.end(), key);
    if (it == seen.end()) {
      seen.push_back(key);
      out.push_back({i});
    } else {
      out[it - seen.begin()].push_back(i);
    }
  }
  if (key_values) *key_values = seen;
  return out;
}

// Every number a point reports under the names summary.csv gives them: its metrics and,
// for a simulation, cycles, simulated seconds and energy (total and per component).
std::map<std::string, double> point_numbers(const SimResult& r) {
  std::map<std::string, double> out = r.metrics;
  if (r.cycles > 0 || !r.energy_pj.empty()) {
    out["cycles"] = static_cast<double>(r.cycles);
    out["seconds"] = r.seconds;
    out["energy_total_pj"] = r.total_energy_pj();
    for (const auto& [component, pj] : r.energy_pj) out["energy_" + component + "_pj"] = pj;
  }
  return out;
}

// A point's value of `name`: a swept key (numeric), else a number it reports.
bool point_value(const PointRecord& p, const std::string& name, double* out) {
  if (p.params.contains(name)) {
    if (!p.params[name].is_number()) return false;
    *out = p.params[name].get<double>();
    return true;
  }
  // Metrics first: the plot loops ask for them per point, and only the simulation's
  // cycles and energy need the flattened view.
  const auto& metrics = p.result->metrics;
  if (const auto it = metrics.find(name); it != metrics.end()) {
    *out = it->second;
    return true;
  }
  const auto numbers = point_numbers(*p.result);
  const auto it = numbers.find(name);
  if (it == numbers.end()) return false;
  *out = it->second;
  return true;
}

// Rows (x, y) of a point's JSON-lines artifact.
std::vector<std::pair<double, double>> artifact_rows(const std::string& dir, const PointRecord& p,
                                                     const std::string& artifact,
                                                     const std::string& x, const std::string& y) {
  const auto it = p.result->artifacts.find(artifact);
  if (it == p.result->artifacts.end())
    throw IoError(dir + ": point " + p.id + " has no artifact '" + artifact + "'");
  const std::string path = (fs::path(dir) / it->second).string();
  std::ifstream in(path);
  if (!in) throw IoError(path + ": cannot open artifact '" + artifact + "' of point " + p.id);
  std::vector<std::pair<double, double>> rows;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (line.empty()) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      throw IoError(path + ":" + std::to_string(line_no) + ": not a JSON line (" + e.what() + ")");
    }
    if (j.contains(x) && j.contains(y) && j[x].is_number() && j[y].is_number())
      rows.push_back({j[x].get<double>(), j[y].get<double>()});
  }
  return rows;
}

// Buckets (x, y) samples by x and reduces each bucket to its seed statistics.
std::vector<LinePoint> reduce(const std::vector<std::pair<double, double>>& samples) {
  std::map<double, std::vector<double>> by_x;
  for (const auto& [x, y] : samples) by_x[x].push_back(y);
  std::vector<LinePoint> out;
  for (const auto& [x, ys] : by_x) {
    const SeedStats s = seed_stats(ys);
    out.push_back({x, s.mean, s.std, s.n});
  }
  return out;
}

}  // namespace

SeedStats seed_stats(const std::vector<double>& values) {
  SeedStats s;
  s.n = values.size();
  if (values.empty()) return s;
  double sum = 0;
  for (double v : values) sum += v;
  s.sum = sum;
  s.mean = sum / static_cast<double>(s.n);
  double sq = 0;
  for (double v : values) sq += (v - s.mean) * (v - s.mean);
  s.std = s.n > 1 ? std::sqrt(sq / static_cast<double>(s.n - 1)) : 0;
  s.min = *std::min_element(values.begin(), values.end());
  s.max = *std::max_element(values.begin(), values.end());
  return s;
}

std::vector<PointGroup> group_points(const std::vector<PointRecord>& points,
                                     const std::vector<std::string>& keys) {
  std::vector<size_t> ok;
  for (size_t i = 0; i < points.size(); ++i)
    if (points[i].ok && points[i].result) ok.push_back(i);
  std::vector<json> key_values;
  const auto members = split_by(points, ok, keys, &key_values);
  std::vector<PointGroup> groups;
  for (size_t g = 0; g < members.size(); ++g) {
    PointGroup group;
    group.key = key_values[g];
    group.label = label_of(group.key);
    group.points = members[g];
    std::map<std::string, std::vector<double>> values;
    for (size_t i : group.points)
      for (const auto& [name, v] : point_numbers(*points[i].result)) values[name].push_back(v);
    for (const auto& [name, v] : values) group.metrics[name] = seed_stats(v);
    groups.push_back(std::move(group));
  }
  return groups;
}

Study plan_study(const ResultsFolder& folder) {
  Study study;
  const json& report = folder.manifest.report;
  const auto& swept = folder.manifest.swept_keys;
  const bool seeds_swept = std::find(swept.begin(), swept.end(), "seed") != swept.end();
  study.present = seeds_swept || report.contains("group_by") || report.contains("metrics") ||
                  report.contains("totals") || report.contains("plots");
  if (!study.present) return study;
  const auto& points = folder.points;

  study.group_keys = report.contains("group_by") ? strings(report, "group_by") : swept;
  study.group_keys.erase(std::remove(study.group_keys.begin(), study.group_keys.end(), "seed"),
                         study.group_keys.end());
  const std::vector<PointGroup> groups = group_points(points, study.group_keys);
  std::vector<std::string> metrics = strings(report, "metrics");
  if (metrics.empty()) {
    std::set<std::string> all;
    for (const auto& g : groups)
      for (const auto& kv : g.metrics) all.insert(kv.first);
    metrics.assign(all.begin(), all.end());
  }
  for (const auto& k : study.group_keys) study.table.add_column(k, false);
  study.table.add_column("Runs", true);
  for (const auto& m : metrics) study.table.add_column(m, true);
  const std::vector<std::string> totals = strings(report, "totals");
  for (const auto& m : totals) study.table.add_column("total " + m, true);
  for (const auto& g : groups) {
    study.aggregated |= g.points.size() > 1;
    std::vector<std::string> row;
    for (const auto& k : study.group_keys)
      row.push_back(g.key.contains(k) ? value_text(g.key[k]) : "—");
    row.push_back(std::to_string(g.points.size()));
    for (const auto& m : metrics) {
      const auto it = g.metrics.find(m);
      row.push_back(it == g.metrics.end() ? "—" : stats_text(it->second));
    }
    // A total is only meaningful when every point of the group reports the metric.
    for (const auto& m : totals) {
      const auto it = g.metrics.find(m);
      const bool complete = it != g.metrics.end() && it->second.n == g.points.size();
      row.push_back(complete ? format_sig(it->second.sum, 6) : "—");
    }
    study.table.rows.push_back(row);
  }

  if (!report.contains("plots")) return study;
  for (const auto& p : report.at("plots")) {
    LinePlotSpec spec;
    spec.name = p.at("name").get<std::string>();
    const std::string x = p.at("x").get<std::string>(), y = p.at("y").get<std::string>();
    const std::string artifact = p.value("artifact", "");
    spec.x_label = p.value("x_label", x);
    spec.y_label = p.value("y_label", y);
    spec.title = p.value("title", y + " against " + x);
    spec.log_x = p.value("log_x", false);
    spec.log_y = p.value("log_y", false);
    std::vector<std::string> series_keys;
    if (p.contains("series")) {
      for (const auto& k : p.at("series")) series_keys.push_back(k.get<std::string>());
    } else {
      for (const auto& k : study.group_keys)
        if (k != x) series_keys.push_back(k);
    }

    // An artifact plot draws the points that declare the artifact (a study's dense reference
    // has no ADMM residuals); a declared artifact whose file is missing is still an error.
    std::vector<size_t> ok;
    for (size_t i = 0; i < points.size(); ++i)
      if (points[i].ok && points[i].result &&
          (artifact.empty() || points[i].result->artifacts.count(artifact)))
        ok.push_back(i);
    std::vector<json> series_values;
    const auto members = split_by(points, ok, series_keys, &series_values);
    std::vector<LineSeries> lines;
    for (size_t s = 0; s < members.size(); ++s) {
      LineSeries line;
      line.label = label_of(series_values[s]);
      std::vector<std::pair<double, double>> samples;
      if (!artifact.empty()) {
        for (size_t i : members[s])
          for (const auto& row : artifact_rows(folder.dir, points[i], artifact, x, y))
            samples.push_back(row);
        line.points = reduce(samples);
      } else if (std::find(swept.begin(), swept.end(), x) != swept.end()) {
        // x is a swept key: the runs at each x value (its seeds) become one point.
        for (size_t i : members[s]) {
          double xv, yv;
          if (point_value(points[i], x, &xv) && point_value(points[i], y, &yv))
            samples.push_back({xv, yv});
        }
        line.points = reduce(samples);
      } else {
        // x is a metric: each group's means give one point, the groups joined by x.
        for (const auto& sub : split_by(points, members[s], study.group_keys, nullptr)) {
          std::vector<double> xs, ys;
          for (size_t i : sub) {
            double xv, yv;
            if (point_value(points[i], x, &xv) && point_value(points[i], y, &yv))
              xs.push_back(xv), ys.push_back(yv);
          }
          if (xs.empty()) continue;
          const SeedStats sx = seed_stats(xs), sy = seed_stats(ys);
          line.points.push_back({sx.mean, sy.mean, sy.std, sy.n});
        }
        std::sort(line.points.begin(), line.points.end(),
                  [](const LinePoint& a, const LinePoint& b) { return a.x < b.x; });
      }
      if (!line.points.empty()) lines.push_back(std::move(line));
    }
    if (lines.empty()) {
      study.notes.push_back("No plot '" + spec.name + "': no successful point reports both " + x +
                            " and " + y + (artifact.empty() ? "" : " in artifact " + artifact) +
                            ".");
      continue;
    }
    std::string caption = spec.y_label + " against " + spec.x_label + ", one line per " +
                          (series_keys.empty() ? std::string("study") : "value of the series keys");
    bool aggregated = false;
    for (const auto& l : lines)
      for (const auto& lp : l.points) aggregated |= lp.n > 1;
    if (aggregated) caption += "; points are means over runs, error bars one standard deviation";
    study.plots.push_back({spec.title, caption, line_plot(spec, lines)});
  }
  return study;
}

}  // namespace tessel::report
