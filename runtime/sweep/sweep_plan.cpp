// Sweep expansion: grid and zip axes over any key path of the experiment.
#include "runtime/sweep/sweep_plan.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "runtime/core/seed.h"

namespace tessel::sweep {
namespace {

std::vector<SweepAxis> read_axes(const Config& sweep, const std::string& section) {
  std::vector<SweepAxis> axes;
  if (!sweep.has(section)) return axes;
  Config s = sweep.child(section);
  for (const auto& key : s.keys()) {
    // A `seed` axis runs each point with exactly the listed seeds (studies aggregate over
    // it); without one every point derives its own from the sweep's `seed:`.
    if (key == "seed" && section != "grid")
      s.fail(key, "a seed axis belongs in grid: (every other point is run with each seed)");
    Config list = s.at(key);
    if (!list.is_sequence()) list.fail("", "expected a list of values to sweep");
    SweepAxis axis{key, list.elements()};
    if (axis.values.empty()) list.fail("", "expected at least one value");
    for (const auto& v : axis.values) {
      v.mark_used();
      // An unknown swept key is reported where the sweep file names it.
      v.node()->key_location = list.node()->key_location;
    }
    axes.push_back(axis);
  }
  return axes;
}

std::string fnv1a64(const std::string& data) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : data) {
    h ^= ch;
    h *= 0x100000001b3ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// The study parts of `report:` (runtime/report/study.h): groupings, metric columns and line
// plots, checked here so a typo fails before any point runs.
void read_study_report(const Config& report) {
  for (const char* list : {"group_by", "metrics", "totals"})
    if (report.has(list))
      for (const auto& item : report.items(list)) item.as<std::string>();
  if (!report.has("plots")) return;
  std::vector<std::string> names;
  for (const auto& plot : report.items("plots")) {
    if (!plot.is_map()) plot.fail("", "expected a mapping (name, x, y, ...)");
    const std::string name = plot.get<std::string>("name");
    for (char ch : name)
      if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-'))
        plot.fail("name", "use letters, digits, '_' and '-' only (it names plot_<name>.svg)");
    if (std::find(names.begin(), names.end(), name) != names.end())
      plot.fail("name", "two plots are named '" + name + "'");
    names.push_back(name);
    plot.get<std::string>("x");
    plot.get<std::string>("y");
    for (const char* key : {"title", "x_label", "y_label", "artifact"})
      plot.get<std::string>(key, "");
    plot.get<bool>("log_x", false);
    plot.get<bool>("log_y", false);
    if (plot.has("series"))
      for (const auto& key : plot.items("series")) key.as<std::string>();
  }
}

}  // namespace

SweepPlan load_sweep(const std::string& path, bool expand) {
  Config sweep = Config::load(path, "");
  if (!sweep.is_map()) sweep.fail("", "a sweep file must be a mapping");
  SweepPlan plan;
  plan.file = path;
  plan.name = sweep.get<std::string>("name", std::filesystem::path(path).stem().string());
  for (char ch : plan.name)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.'))
      sweep.fail("name", "use letters, digits, '_', '-' and '.' only (it names a folder)");
  plan.title = sweep.get<std::string>("title", "");
  sweep.get<std::string>("description", "");
  plan.experiment_path = sweep.get_path("experiment");
  plan.seed = sweep.get<uint64_t>("seed", 1);
  if (sweep.has("report")) {
    Config report = sweep.child("report");
    // Baselines, the subject filter and named comparisons are key path → value maps.
    for (const char* section : {"baseline", "subject"})
      if (report.has(section)) report.child(section).mark_used();
    if (report.has("compare"))
      for (const auto& name : report.child("compare").keys())
        report.child("compare").child(name).mark_used();
    if (report.has("summarize"))
      for (const auto& metric : report.items("summarize")) metric.as<std::string>();
    if (report.has("notes"))
      for (const auto& note : report.items("notes")) note.as<std::string>();
    if (report.has("reference")) {
      Config reference = report.child("reference");
      for (const auto& name : reference.keys()) reference.get<double>(name);
    }
    report.get<std::string>("title", "");
    read_study_report(report);
    report.reject_unused();
    plan.report = report.to_json();
  }

  if (sweep.has("set")) {
    const Config set = sweep.child("set");
    for (const auto& key : set.keys()) {
      if (key == "seed") set.fail(key, "use the sweep's `seed:`, or a seed axis under grid:");
      Config value = set.at(key);
      value.mark_used();
      plan.fixed.push_back({key, value});
    }
  }
  std::vector<SweepAxis> grid = read_axes(sweep, "grid");
  std::vector<SweepAxis> zip = read_axes(sweep, "zip");
  // A key on two axes would expand to duplicate points with one value silently winning.
  for (const auto& z : zip)
    for (const auto& g : grid)
      if (z.key == g.key)
        sweep.child("zip").fail(z.key, "also swept under grid: (line " +
                                           std::to_string(g.values[0].location().line) +
                                           "); sweep a key on one axis only");
  for (const auto& f : plan.fixed)
    for (const auto* axes : {&grid, &zip})
      for (const auto& a : *axes)
        if (a.key == f.path)
          sweep.child("set").fail(f.path, "also swept as an axis; a key is either set or swept");
  size_t zip_len = zip.empty() ? 1 : zip[0].values.size();
  for (const auto& axis : zip)
    if (axis.values.size() != zip_len)
      sweep.child("zip").fail(axis.key, "zip lists must have equal lengths (" +
                                            std::to_string(axis.values.size()) + " here, " +
                                            std::to_string(zip_len) + " for " + zip[0].key + ")");
  sweep.reject_unused();
  for (const auto& a : grid) plan.swept_keys.push_back(a.key);
  for (const auto& a : zip) plan.swept_keys.push_back(a.key);

  size_t total = zip_len;
  for (const auto& a : grid) {
    if (total > SIZE_MAX / a.values.size())
      sweep.fail("grid", "the grid has more points than can be counted");
    total *= a.values.size();
  }
  plan.point_count = total;
  plan.grid = std::move(grid);
  plan.zip = std::move(zip);
  if (expand) {
    plan.points.reserve(total);
    for (size_t i = 0; i < total; ++i) plan.points.push_back(make_point(plan, i));
  }

  Config base = load_experiment(plan.experiment_path);
  plan.config_hash = fnv1a64(sweep.to_json().dump() + "\n" + base.to_json().dump());
  return plan;
}

std::string point_id(size_t index) {
  char id[24];
  std::snprintf(id, sizeof id, "p%04zu", index);
  return id;
}

SweepPoint make_point(const SweepPlan& plan, size_t index) {
  const size_t zip_len = plan.zip.empty() ? 1 : plan.zip[0].values.size();
  SweepPoint p;
  p.index = index;
  p.id = point_id(index);
  size_t rest = index;
  const size_t zip_i = rest % zip_len;
  rest /= zip_len;
  std::vector<Override> grid_overrides(plan.grid.size());
  for (size_t g = plan.grid.size(); g-- > 0;) {
    const SweepAxis& axis = plan.grid[g];
    grid_overrides[g] = {axis.key, axis.values[rest % axis.values.size()]};
    rest /= axis.values.size();
  }
  p.overrides = std::move(grid_overrides);
  for (const auto& a : plan.zip) p.overrides.push_back({a.key, a.values[zip_i]});
  p.params = nlohmann::json::object();
  for (const auto& o : p.overrides) p.params[o.path] = o.value.to_json();
  p.seed = derive_seed(plan.seed, index);
  // A swept seed is the point's seed (point_experiment sets it), not an ordinary key.
  for (auto it = p.overrides.begin(); it != p.overrides.end(); ++it)
    if (it->path == "seed") {
      p.seed = it->value.as<uint64_t>();
      p.overrides.erase(it);
      break;
    }
  return p;
}

std::string describe_axes(const SweepPlan& plan) {
  std::string out;
  for (const auto& a : plan.grid)
    out += (out.empty() ? "grid " : "\u00d7") + std::to_string(a.values.size());
  if (!plan.zip.empty())
    out += (out.empty() ? "zip " : ", zip ") + std::to_string(plan.zip[0].values.size());
  return out;
}

Config point_experiment(const SweepPlan& plan, const SweepPoint& point) {
  std::vector<Override> overrides = plan.fixed;
  overrides.insert(overrides.end(), point.overrides.begin(), point.overrides.end());
  overrides.push_back({"seed", Config::parse(std::to_string(point.seed), plan.file + " (seed)")});
  return load_experiment(plan.experiment_path, overrides);
}

std::string describe_params(const nlohmann::json& params) {
  std::string out;
  for (const auto& [key, value] : params.items())
    out += (out.empty() ? "" : " ") + key + "=" +
           (value.is_string() ? value.get<std::string>() : value.dump());
  return out;
}

}  // namespace tessel::sweep
