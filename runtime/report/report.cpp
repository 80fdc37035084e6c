// Report generation: tables, speedups and the Pareto front from a results folder.
#include "runtime/report/report.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "runtime/core/atomic_file.h"
#include "runtime/core/error.h"
#include "runtime/report/baseline.h"
#include "runtime/report/document.h"
#include "runtime/report/pareto.h"
#include "runtime/report/plots.h"
#include "runtime/report/results_folder.h"
#include "runtime/report/study.h"

namespace tessel::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* kNone = "—";

std::string format_fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string param_value(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// One energy unit for the whole report: the largest in which the smallest total is >= 1.
struct EnergyUnit {
  std::string name;
  double pj = 1;  // picojoules per unit
};

EnergyUnit pick_energy_unit(const std::vector<PointRecord>& points) {
  double least = 0;
  for (const auto& p : points) {
    double e = p.ok && p.result ? p.result->total_energy_pj() : 0;
    if (e > 0 && (least == 0 || e < least)) least = e;
  }
  if (least >= 1e9) return {"mJ", 1e9};
  if (least >= 1e6) return {"µJ", 1e6};
  if (least >= 1e3) return {"nJ", 1e3};
  return {"pJ", 1};
}

// The manifest's swept keys, then any other key a point's params carry.
std::vector<std::string> param_keys(const Manifest& m, const std::vector<PointRecord>& points) {
  std::vector<std::string> keys = m.swept_keys;
  std::set<std::string> seen(keys.begin(), keys.end());
  for (const auto& p : points)
    if (p.params.is_object())
      for (const auto& kv : p.params.items())
        if (seen.insert(kv.key()).second) keys.push_back(kv.key());
  return keys;
}

// "hw.rows" → "rows", unless another key ends the same way.
std::string short_key(const std::string& key, const std::vector<std::string>& keys) {
  auto last = [](const std::string& k) { return k.substr(k.rfind('.') + 1); };
  for (const auto& other : keys)
    if (other != key && last(other) == last(key)) return key;
  return last(key);
}

std::string params_text(const json& params, const std::vector<std::string>& keys, bool brief) {
  std::string out;
  for (const auto& k : keys) {
    if (!params.is_object() || !params.contains(k)) continue;
    if (!out.empty()) out += brief ? " " : ", ";
    out += (brief ? short_key(k, keys) : k) + "=" + param_value(params[k]);
  }
  return out;
}

std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of("\r\n \t");
  if (end == std::string::npos) return "";
  size_t begin = text.rfind('\n', end);
  return text.substr(begin == std::string::npos ? 0 : begin + 1, end + 1 - begin - 1);
}

bool any_metric(const std::vector<PointRecord>& points, const std::string& name) {
  for (const auto& p : points)
    if (p.ok && p.result && p.result->metrics.count(name)) return true;
  return false;
}

std::string metric(const PointRecord& p, const std::string& name, double scale, int digits,
                   bool fixed) {
  auto it = p.result->metrics.find(name);
  if (it == p.result->metrics.end()) return kNone;
  return fixed ? format_fixed(it->second * scale, digits) : format_sig(it->second * scale, digits);
}

// What the report says about the points, computed once and shared by tables and plots.
struct Analysis {
  Analysis(const Manifest& m, const std::vector<PointRecord>& p) : manifest(m), points(p) {}

  const Manifest& manifest;
  const std::vector<PointRecord>& points;
  bool torn_tail = false;
  std::vector<Comparison> cmp;
  std::vector<std::string> keys;
  EnergyUnit eu;
  bool has_baseline = false;
  std::string baseline_text;                  // "hw.rows=4"
  std::vector<size_t> ok;                     // successful point indices
  std::vector<std::pair<double, double>> le;  // (latency µs, energy in eu) per ok entry
  std::vector<size_t> front;                  // point indices, by increasing latency
  std::set<size_t> on_front;
  // Area: when every successful point reports `area_mm2` (the chip's area proxy) and the
  // sweep varies it, the front over latency, energy and area, and the latency-area front.
  bool area_varies = false;
  std::vector<size_t> front3, area_front;  // point indices, by increasing latency
  std::set<size_t> on_front3;
  bool bars_by_id = false;  // bar labels are point ids: parameter labels would not fit
  std::string dir;          // the results folder, as the user named it
  // Every successful point is an algorithm run on the host (no cycles, no energy): the
  // simulation columns, plots and front do not apply.
  bool algorithm_runs = false;
  std::vector<std::string> metric_columns;  // what the points table shows for such runs
  Study study;

  std::string bar_label(size_t i) const { return bars_by_id ? points[i].id : params(i, true); }

  double latency_us(size_t i) const { return points[i].result->seconds * 1e6; }
  double energy(size_t i) const { return points[i].result->total_energy_pj() / eu.pj; }
  double area_mm2(size_t i) const { return points[i].result->metrics.at("area_mm2"); }
  std::string params(size_t i, bool brief) const {
    return params_text(points[i].params, keys, brief);
  }
};

Analysis analyse(const ResultsFolder& folder) {
  Analysis a(folder.manifest, folder.points);
  a.dir = folder.dir;
  a.torn_tail = folder.torn_tail;
  a.study = plan_study(folder);
  a.cmp = compare_to_baseline(a.points, a.manifest.baseline);
  a.keys = param_keys(a.manifest, a.points);
  a.eu = pick_energy_unit(a.points);
  a.has_baseline = a.manifest.baseline.is_object();
  if (a.has_baseline)
    for (const auto& kv : a.manifest.baseline.items())
      a.baseline_text +=
          (a.baseline_text.empty() ? "" : ", ") + kv.key() + "=" + param_value(kv.value());
  for (size_t i = 0; i < a.points.size(); ++i)
    if (a.points[i].ok && a.points[i].result) a.ok.push_back(i);
  a.algorithm_runs = !a.ok.empty();
  std::set<std::string> metric_names;
  for (size_t i : a.ok) {
    const SimResult& r = *a.points[i].result;
    a.algorithm_runs &= r.cycles == 0 && r.seconds == 0 && r.energy_pj.empty();
    for (const auto& kv : r.metrics) metric_names.insert(kv.first);
  }
  const auto& wanted = a.manifest.report;
  if (wanted.contains("metrics"))
    for (const auto& m : wanted.at("metrics")) a.metric_columns.push_back(m.get<std::string>());
  else
    a.metric_columns.assign(metric_names.begin(), metric_names.end());
  for (size_t i : a.ok) a.le.push_back({a.latency_us(i), a.energy(i)});
  for (size_t j : pareto_front(a.le)) a.front.push_back(a.ok[j]);
  a.on_front.insert(a.front.begin(), a.front.end());
  std::set<double> areas;
  bool every_area = !a.ok.empty();
  for (size_t i : a.ok) {
    auto it = a.points[i].result->metrics.find("area_mm2");
    every_area &= it != a.points[i].result->metrics.end();
    if (it != a.points[i].result->metrics.end()) areas.insert(it->second);
  }
  a.area_varies = every_area && areas.size() > 1;
  if (a.area_varies) {
    std::vector<std::array<double, 3>> lea;
    std::vector<std::pair<double, double>> la;
    for (size_t j = 0; j < a.ok.size(); ++j) {
      lea.push_back({a.le[j].first, a.le[j].second, a.area_mm2(a.ok[j])});
      la.push_back({a.le[j].first, a.area_mm2(a.ok[j])});
    }
    for (size_t j : pareto_front3(lea)) a.front3.push_back(a.ok[j]);
    for (size_t j : pareto_front(la)) a.area_front.push_back(a.ok[j]);
    a.on_front3.insert(a.front3.begin(), a.front3.end());
  }
  // Labels up to ~18 characters stay readable under a bar, even rotated.
  for (size_t i : a.ok) a.bars_by_id |= a.params(i, true).size() > 18;
  return a;
}

struct PlotSpec {
  PlotJob job;
  std::string heading, caption;
};

// The plots the data allows; the reason for each one left out goes to `notes`.
std::vector<PlotSpec> plan_plots(const Analysis& a, std::vector<std::string>& notes) {
  std::vector<PlotSpec> plots;
  for (const auto& p : a.study.plots) plots.push_back({p.job, p.heading, p.caption});
  notes.insert(notes.end(), a.study.notes.begin(), a.study.notes.end());
  if (a.algorithm_runs) {
    notes.push_back(
        "No speedup, energy or latency-energy plots: the points are algorithm runs on the host "
        "(no simulated time or energy).");
    return plots;
  }
  const std::string by_id = a.bars_by_id ? "; bars labelled by point id" : "";
  if (!a.has_baseline) {
    notes.push_back(
        "No speedup plot: manifest.json names no baseline (report.baseline), so speedups "
        "are not computed.");
  } else {
    std::vector<Bar> bars;
    for (size_t i : a.ok)
      if (a.cmp[i].speedup) bars.push_back({a.bar_label(i), *a.cmp[i].speedup});
    if (bars.empty())
      notes.push_back("No speedup plot: no successful point has a successful baseline.");
    else
      plots.push_back({speedup_plot(bars, a.baseline_text), "Speedup",
                       "Speedup of each point over its baseline (" + a.baseline_text +
                           "): baseline latency / latency" + by_id});
  }

  std::set<std::string> component_set;
  for (size_t i : a.ok)
    for (const auto& kv : a.points[i].result->energy_pj) component_set.insert(kv.first);
  if (component_set.empty()) {
    notes.push_back("No energy breakdown plot: no successful point reports energy.");
  } else {
    std::vector<std::string> components(component_set.begin(), component_set.end()), labels;
    std::vector<std::vector<double>> values;
    for (size_t i : a.ok) {
      const auto& e = a.points[i].result->energy_pj;
      labels.push_back(a.bar_label(i));
      values.emplace_back();
      for (const auto& c : components) values.back().push_back(e.count(c) ? e.at(c) / a.eu.pj : 0);
    }
    plots.push_back(
        {energy_plot(labels, components, values, a.eu.name), "Energy breakdown",
         "Energy per component for each successful point, stacked (" + a.eu.name + ")" + by_id});
  }

  if (a.ok.empty()) {
    notes.push_back("No latency-energy plot: no point succeeded.");
  } else {
    std::vector<ScatterPoint> scatter;
    std::vector<size_t> front_local;
    for (size_t j = 0; j < a.ok.size(); ++j)
      scatter.push_back({a.points[a.ok[j]].id, a.le[j].first, a.le[j].second});
    for (size_t i : a.front)
      front_local.push_back(std::find(a.ok.begin(), a.ok.end(), i) - a.ok.begin());
    plots.push_back({pareto_plot(scatter, front_local, "pareto", "energy", a.eu.name),
                     "Latency and energy",
                     "Latency against energy of each successful point; the Pareto front "
                     "(points no other point beats on both) in red and labelled"});
  }
  if (a.area_varies) {
    std::vector<ScatterPoint> scatter;
    std::vector<size_t> front_local;
    for (size_t j = 0; j < a.ok.size(); ++j)
      scatter.push_back({a.points[a.ok[j]].id, a.le[j].first, a.area_mm2(a.ok[j])});
    for (size_t i : a.area_front)
      front_local.push_back(std::find(a.ok.begin(), a.ok.end(), i) - a.ok.begin());
    plots.push_back({pareto_plot(scatter, front_local, "area_pareto", "area", "mm²"),
                     "Latency and area",
                     "Latency against the chip's area proxy (metric area_mm2) of each successful "
                     "point; the points no other point beats on both in red and labelled"});
  }
  return plots;
}

Table facts_table(const Analysis& a) {
  const Manifest& m = a.manifest;
  Table t{{"Item", "Value"}, {false, false}, {}};
  t.rows.push_back({"Name", m.name});
  if (!m.sweep_file.empty()) t.rows.push_back({"Sweep file", m.sweep_file});
  t.rows.push_back({"Git commit", m.git_commit});
  t.rows.push_back({"Config hash", m.config_hash});
  t.rows.push_back({"Seed", std::to_string(m.seed)});
  t.rows.push_back({"Host", m.host});
  t.rows.push_back({"Started (UTC)", m.started});
  t.rows.push_back({"Finished (UTC)", m.finished.empty() ? "not recorded" : m.finished});
  t.rows.push_back({"Points", std::to_string(a.points.size()) + " of " +
                                  std::to_string(m.points_total) +
                                  " recorded: " + std::to_string(a.ok.size()) + " ok, " +
                                  std::to_string(a.points.size() - a.ok.size()) + " failed"});
  return t;
}

std::string checks_text(const SimResult& r) {
  size_t passed = 0;
  std::string first_failed;
  for (const auto& c : r.checks) {
    if (c.passed)
      ++passed;
    else if (first_failed.empty())
      first_failed = c.name;
  }
  return std::to_string(passed) + "/" + std::to_string(r.checks.size()) +
         (first_failed.empty() ? "" : " (failed: " + first_failed + ")");
}

// Algorithm runs: every point with its swept keys, seed and metrics (report.metrics, or
// every metric a point reports). A swept `seed` is already one of the keys.
Table algorithm_points_table(const Analysis& a) {
  const bool seed_swept = std::find(a.keys.begin(), a.keys.end(), "seed") != a.keys.end();
  Table t;
  t.add_column("ID", false);
  for (const auto& k : a.keys) t.add_column(k, false);
  if (!seed_swept) t.add_column("Seed", true);
  t.add_column("Status", false);
  for (const auto& m : a.metric_columns) t.add_column(m, true);
  for (const PointRecord& p : a.points) {
    std::vector<std::string> row{p.id};
    for (const auto& k : a.keys)
      row.push_back(p.params.is_object() && p.params.contains(k) ? param_value(p.params[k])
                                                                 : kNone);
    if (!seed_swept) row.push_back(std::to_string(p.seed));
    row.push_back(p.ok && p.result ? "ok" : "failed");
    for (const auto& m : a.metric_columns)
      row.push_back(p.ok && p.result ? metric(p, m, 1, 4, false) : kNone);
    t.rows.push_back(row);
  }
  return t;
}

// Every point, one row each; optional columns only when some point has the value.
Table points_table(const Analysis& a) {
  const bool has_util = any_metric(a.points, "utilization");
  const bool has_gflops = any_metric(a.points, "gflops");
  const bool has_power = any_metric(a.points, "power_w");
  bool has_checks = false, has_bound = false;
  for (size_t i : a.ok) has_checks |= !a.points[i].result->checks.empty();
  // Models bound to an off-chip port say which resource limits them (sim/system/offchip.h).
  for (size_t i : a.ok) has_bound |= a.points[i].result->labels.count("bound") != 0;

  Table t;
  t.add_column("ID", false);
  for (const auto& k : a.keys) t.add_column(k, false);
  t.add_column("Status", false);
  t.add_column("Cycles", true);
  t.add_column("Latency (µs)", true);
  t.add_column("Energy (" + a.eu.name + ")", true);
  if (a.has_baseline) {
    t.add_column("Baseline", false);
    t.add_column("Speedup (×)", true);
    t.add_column("Energy saving (×)", true);
  }
  if (has_util) t.add_column("Utilization (%)", true);
  if (has_gflops) t.add_column("GFLOP/s", true);
  if (has_power) t.add_column("Power (W)", true);
  if (has_checks) t.add_column("Checks passed", false);
  if (has_bound) t.add_column("Bound by", false);
  t.add_column("Pareto", false);
  if (a.area_varies) t.add_column("Pareto with area", false);

  for (size_t i = 0; i < a.points.size(); ++i) {
    const PointRecord& p = a.points[i];
    std::vector<std::string> row{p.id};
    for (const auto& k : a.keys)
      row.push_back(p.params.is_object() && p.params.contains(k) ? param_value(p.params[k])
                                                                 : kNone);
    if (!p.ok || !p.result) {
      row.push_back("failed");
      row.resize(t.header.size(), kNone);
      t.rows.push_back(row);
      continue;
    }
    const Comparison& c = a.cmp[i];
    row.push_back("ok");
    row.push_back(std::to_string(p.result->cycles));
    row.push_back(format_sig(a.latency_us(i), 4));
    row.push_back(format_sig(a.energy(i), 4));
    if (a.has_baseline) {
      row.push_back(c.speedup ? a.points[*c.baseline].id : kNone);
      row.push_back(c.speedup ? format_fixed(*c.speedup, 2) : kNone);
      row.push_back(c.energy_ratio ? format_fixed(*c.energy_ratio, 2) : kNone);
    }
    if (has_util) row.push_back(metric(p, "utilization", 100, 1, true));
    if (has_gflops) row.push_back(metric(p, "gflops", 1, 4, false));
    if (has_power) row.push_back(metric(p, "power_w", 1, 3, false));
    if (has_checks) row.push_back(checks_text(*p.result));
    if (has_bound) {
      auto it = p.result->labels.find("bound");
      row.push_back(it == p.result->labels.end() ? kNone : it->second);
    }
    row.push_back(a.on_front.count(i) ? "yes" : "");
    if (a.area_varies) row.push_back(a.on_front3.count(i) ? "yes" : "");
    t.rows.push_back(row);
  }
  return t;
}

// Summary statistics of a list of ratios: geometric mean, arithmetic mean, min, max.
std::vector<std::string> ratio_stats(std::vector<double> v) {
  double log_sum = 0, sum = 0;
  for (double x : v) {
    log_sum += std::log(x);
    sum += x;
  }
  const double n = static_cast<double>(v.size());
  return {format_sig(std::exp(log_sum / n), 3), format_sig(sum / n, 3),
          format_sig(*std::min_element(v.begin(), v.end()), 3),
          format_sig(*std::max_element(v.begin(), v.end()), 3)};
}

// Named baselines (report.compare) and metric averages (report.summarize) over the
// subject points (report.subject): the headline numbers of a study.
void add_comparisons(const Analysis& a, Document& doc) {
  const Manifest& m = a.manifest;
  if (m.compare.empty() && m.summarize.empty()) return;
  std::vector<size_t> subject;
  for (size_t i : a.ok) {
    bool match = true;
    for (const auto& [key, value] : m.subject.items())
      match &= a.points[i].params.contains(key) && a.points[i].params.at(key) == value;
    if (match) subject.push_back(i);
  }
  std::string who = "the " + std::to_string(subject.size()) + " successful points";
  if (!m.subject.empty()) {
    std::string filter;
    for (const auto& [key, value] : m.subject.items())
      filter += (filter.empty() ? "" : ", ") + key + "=" + param_value(value);
    who += " with " + filter;
  }
  doc.heading(2, "Comparisons");
  doc.paragraph("Ratios over " + who +
                ". Each point is compared with the point that has the "
                "same parameters except the baseline's; geomean is the geometric mean.");
  const bool paper = !m.reference.empty();
  Table t{{"Compared with", "Points", "Speedup geomean (×)", "mean", "min", "max",
           "Energy saving geomean (×)", "mean", "min", "max"},
          {false, true, true, true, true, true, true, true, true, true},
          {}};
  if (paper) {
    t.add_column("Published", true);
  }
  auto published = [&](const std::string& row) {
    return m.reference.contains(row) ? format_sig(m.reference.at(row).get<double>(), 3)
                                     : std::string();
  };
  for (const auto& [name, keys] : m.compare.items()) {
    const auto cmp = compare_to_baseline(a.points, keys);
    std::vector<double> speedup, saving;
    for (size_t i : subject) {
      if (cmp[i].speedup) speedup.push_back(*cmp[i].speedup);
      if (cmp[i].energy_ratio) saving.push_back(*cmp[i].energy_ratio);
    }
    std::vector<std::string> row = {name, std::to_string(speedup.size())};
    for (const auto& col : speedup.empty() ? std::vector<std::string>(4, "") : ratio_stats(speedup))
      row.push_back(col);
    for (const auto& col : saving.empty() ? std::vector<std::string>(4, "") : ratio_stats(saving))
      row.push_back(col);
    if (paper) row.push_back(published(name));
    t.rows.push_back(row);
  }
  for (const auto& metric : m.summarize) {
    std::vector<double> v;
    for (size_t i : subject) {
      auto it = a.points[i].result->metrics.find(metric);
      if (it != a.points[i].result->metrics.end() && it->second > 0) v.push_back(it->second);
    }
    std::vector<std::string> row = {"metric " + metric, std::to_string(v.size())};
    for (const auto& col : v.empty() ? std::vector<std::string>(4, "") : ratio_stats(v))
      row.push_back(col);
    for (int k = 0; k < 4; ++k) row.push_back("");
    if (paper) row.push_back(published("metric " + metric));
    t.rows.push_back(row);
  }
  doc.table(t);
  for (const auto& note : m.notes) doc.paragraph(note);
}

Document build_document(const Analysis& a, const std::vector<std::string>& notes,
                        const std::vector<std::pair<std::string, Figure>>& figures) {
  const Manifest& m = a.manifest;
  Document doc;
  doc.title = m.title.empty() ? "Sweep " + m.name : m.title;
  doc.paragraph("Report on " + a.dir +
                (m.tessel_version.empty() ? "" : ", tessel " + m.tessel_version) + ".");

  doc.heading(2, "Run");
  doc.paragraph("Command that produced these results:");
  doc.code(m.command);
  doc.table(facts_table(a));
  if (a.torn_tail)
    doc.paragraph("points.jsonl ends in an incomplete line (an interrupted write); it is ignored.");
  if (a.points.size() < m.points_total)
    doc.paragraph("The run is incomplete: " + std::to_string(m.points_total - a.points.size()) +
                  " points have no record (a resumed sweep fills them in).");

  doc.heading(2, "Points");
  if (a.algorithm_runs) {
    doc.paragraph(
        "Algorithm runs on the host: metrics as each run measured them (wall-clock figures "
        "such as QPS and tokens/s vary from run to run; the rest is determined by the seed).");
    doc.table(algorithm_points_table(a));
  } else {
    doc.paragraph("Latency is simulated time. " +
                  (a.has_baseline
                       ? "Speedup is baseline latency / latency and energy saving is baseline "
                         "energy / energy, where a point's baseline is the point with the same "
                         "parameters except " +
                             a.baseline_text + "."
                       : std::string("No baseline is named in manifest.json (report.baseline), "
                                     "so there are no speedups.")));
    doc.table(points_table(a));
    std::vector<std::string> missing;
    for (size_t i : a.ok)
      if (a.has_baseline && !a.cmp[i].speedup)
        missing.push_back(a.points[i].id + " (" + a.params(i, false) + "): " + a.cmp[i].why_not);
    if (!missing.empty()) {
      doc.paragraph("Points without a speedup:");
      doc.list(missing);
    }
  }

  if (a.study.present && (a.study.aggregated || !a.study.group_keys.empty())) {
    doc.heading(2, "Study");
    std::string keys;
    for (const auto& k : a.study.group_keys) keys += (keys.empty() ? "" : ", ") + k;
    doc.paragraph("Points grouped by " +
                  (keys.empty() ? std::string("nothing (one group)") : keys) +
                  "; each cell is mean ± standard deviation [min, max] over the group's runs "
                  "(its seeds), or the single value of a group of one run.");
    if (a.study.aggregated)
      doc.table(a.study.table);
    else
      doc.paragraph(
          "Every group holds a single run, so the points table above is the study's table.");
  }

  add_comparisons(a, doc);

  doc.heading(2, "Failed points");
  if (a.ok.size() == a.points.size()) {
    doc.paragraph("None: every recorded point succeeded.");
  } else {
    Table t{{"ID", "Parameters", "Failure", "Exit status", "Last stderr line"},
            {false, false, false, true, false},
            {}};
    for (size_t i = 0; i < a.points.size(); ++i) {
      const PointRecord& p = a.points[i];
      if (!p.ok || !p.result)
        t.rows.push_back({p.id, a.params(i, false), p.failure, std::to_string(p.exit_status),
                          last_line(p.stderr_tail)});
    }
    doc.table(t);
  }

  doc.heading(2, "Pareto front");
  if (a.algorithm_runs) {
    doc.paragraph(
        "Not applicable: the points are algorithm runs (no simulated latency or energy).");
  } else if (a.front.empty()) {
    doc.paragraph("No point succeeded, so there is no front.");
  } else {
    doc.paragraph(
        "Points that no other point beats on both latency and energy, by increasing latency "
        "(exact duplicates are all kept).");
    Table t{{"ID", "Parameters", "Latency (µs)", "Energy (" + a.eu.name + ")"},
            {false, false, true, true},
            {}};
    for (size_t i : a.front)
      t.rows.push_back({a.points[i].id, a.params(i, false), format_sig(a.latency_us(i), 4),
                        format_sig(a.energy(i), 4)});
    doc.table(t);
    if (a.area_varies) {
      doc.paragraph(
          "With area: points that no other point beats on latency, energy and the chip's area "
          "proxy (metric area_mm2) together, by increasing latency.");
      Table t3{{"ID", "Parameters", "Latency (µs)", "Energy (" + a.eu.name + ")", "Area (mm²)"},
               {false, false, true, true, true},
               {}};
      for (size_t i : a.front3)
        t3.rows.push_back({a.points[i].id, a.params(i, false), format_sig(a.latency_us(i), 4),
                           format_sig(a.energy(i), 4), format_sig(a.area_mm2(i), 4)});
      doc.table(t3);
    }
  }

  doc.heading(2, "Plots");
  if (!notes.empty()) doc.list(notes);
  for (const auto& [heading, figure] : figures) {
    doc.heading(3, heading);
    doc.figure(figure);
  }
  return doc;
}

}  // namespace

ReportFiles write_report(const std::string& results_dir, const ReportOptions& options) {
  const ResultsFolder folder = read_results_folder(results_dir);
  const Analysis a = analyse(folder);

  // Plots first: if gnuplot fails, nothing has been written yet.
  ReportFiles files;
  const std::vector<PlotSpec> plots = plan_plots(a, files.notes);
  std::vector<std::pair<std::string, Figure>> figures;  // heading, figure
  const std::string gnuplot = find_program(options.gnuplot);
  if (gnuplot.empty()) {
    files.plots_skipped = true;
    files.notes.insert(files.notes.begin(),
                       "Plots skipped: gnuplot was not found (looked for '" + options.gnuplot +
                           "'). Install it (Debian: apt-get install gnuplot-nox) and run "
                           "tessel report again; the tables are complete.");
  } else {
    for (const PlotSpec& spec : plots)
      figures.push_back({spec.heading, Figure{spec.job.name + ".svg", spec.caption,
                                              render_plot(gnuplot, spec.job)}});
  }
  const Document doc = build_document(a, files.notes, figures);

  // Everything is rendered: now replace the files, plots before the pages that show them.
  // No fsync: a report can always be regenerated from points.jsonl.
  const fs::path dir(results_dir);
  remove_stale_temps(results_dir);  // what a report or sweep killed mid-write left
  std::set<std::string> written;
  for (const auto& [heading, figure] : figures) {
    const fs::path svg = dir / figure.file;
    write_file_atomic(svg.string(), figure.svg, false);
    files.plots.push_back(svg.string());
    written.insert(figure.file);
  }
  // A plot not made this time must not linger from an earlier report.
  std::error_code ec;
  for (const char* name : {"speedup.svg", "energy_breakdown.svg", "pareto.svg", "area_pareto.svg"})
    if (!written.count(name)) fs::remove(dir / name, ec);
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (file.rfind("plot_", 0) == 0 && entry.path().extension() == ".svg" && !written.count(file))
      fs::remove(entry.path(), ec);
  }
  files.markdown = (dir / "report.md").string();
  files.html = (dir / "report.html").string();
  write_file_atomic(files.markdown, render_markdown(doc), false);
  write_file_atomic(files.html, render_html(doc), false);
  return files;
}

}  // namespace tessel::report
