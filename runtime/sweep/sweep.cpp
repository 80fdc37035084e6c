// Sweep scheduling: child processes, ordered appends, resume, manifest and summary.
#include "runtime/sweep/sweep.h"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <thread>

#include "runtime/core/atomic_file.h"
#include "runtime/core/error.h"
#include "runtime/sweep/child_process.h"
#include "runtime/sweep/progress.h"
#include "runtime/sweep/results_store.h"

#ifndef TESSEL_VERSION
#define TESSEL_VERSION "unknown"
#endif

namespace tessel::sweep {
namespace fs = std::filesystem;
namespace {

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string command_output(const std::string& cmd) {
  std::string out;
  if (std::FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    if (::pclose(p) != 0) return "";
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string git_commit() {
  std::string commit = command_output("git rev-parse HEAD 2>/dev/null");
  if (commit.empty()) return "unknown";
  if (!command_output("git status --porcelain --untracked-files=no 2>/dev/null").empty())
    commit += "-dirty";
  return commit;
}

std::string host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

struct Running {
  std::unique_ptr<Child> child;
  std::chrono::steady_clock::time_point start;
};

PointRecord base_record(const SweepPoint& p) {
  PointRecord r;
  r.index = p.index;
  r.id = p.id;
  r.params = p.params;
  r.seed = p.seed;
  return r;
}

// A point's result file, or nullopt if absent or unreadable.
std::optional<SimResult> read_result(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  try {
    return SimResult::from_json(nlohmann::json::parse(in));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Moves a finished point's artifacts from its scratch folder to points/<id>/ and rewrites
// their paths relative to the results folder. A failed point's files are dropped.
void keep_artifacts(const ResultsStore& store, const std::string& id, PointRecord& rec) {
  const fs::path scratch = fs::path(store.scratch_dir()) / (id + ".files");
  const fs::path dest = fs::path(store.artifacts_dir()) / id;
  std::error_code ec;
  if (!rec.ok || !rec.result || rec.result->artifacts.empty()) {
    fs::remove_all(scratch, ec);
    return;
  }
  if (fs::exists(scratch)) {
    fs::remove_all(dest, ec);
    fs::create_directories(dest.parent_path(), ec);
    fs::rename(scratch, dest, ec);
    if (ec)
      throw IoError(dest.string() + ": cannot move the point's artifacts (" + ec.message() + ")");
  }
  for (auto& [name, path] : rec.result->artifacts) {
    path = (fs::path("points") / id / path).string();
    if (!fs::exists(fs::path(store.dir()) / path))
      throw IoError(store.dir() + "/" + path + ": artifact '" + name + "' of point " + id +
                    " is missing");
  }
}

IoError results_exist(const std::string& points_path) {
  return IoError(points_path +
                 ": results already exist; pass --resume to continue them, --overwrite to "
                 "replace them, or --out to write elsewhere");
}

// Every point's configuration is checked before anything is written, so a bad value in
// the last point fails the sweep before the first one runs. On a large sweep this takes
// long enough (about 1 ms a point) to need a progress line every second.
void check_points(const SweepPlan& plan, std::FILE* out) {
  using clock = std::chrono::steady_clock;
  auto next_report = clock::now() + std::chrono::seconds(1);
  for (size_t i = 0; i < plan.point_count; ++i) {
    prepare_experiment(point_experiment(plan, make_point(plan, i)));
    if (clock::now() >= next_report) {
      std::fprintf(out, "checked %zu/%zu point configurations\n", i + 1, plan.point_count);
      std::fflush(out);
      next_report = clock::now() + std::chrono::seconds(1);
    }
  }
}

}  // namespace

std::string list_points(const SweepPlan& plan) {
  std::string out;
  for (size_t i = 0; i < plan.point_count; ++i) {
    SweepPoint p = make_point(plan, i);
    out += p.id + "  " + describe_params(p.params) + "\n";
  }
  out += std::to_string(plan.point_count) + " points\n";
  return out;
}

namespace {

// Runs point `index` of `plan` in this process; writes its SimResult JSON atomically.
void run_planned_point(const SweepPlan& plan, size_t index, const std::string& out_path,
                       const std::string& artifact_dir, const std::string& cache_dir) {
  PreparedRun prepared = prepare_experiment(point_experiment(plan, make_point(plan, index)));
  SimResult r = execute(prepared, nullptr, RunOutputs{artifact_dir, cache_dir, &std::cerr});
  // Not fsynced: the file only has to survive this process, not a power cut.
  write_file_atomic(out_path, r.to_json().dump() + "\n", /*durable=*/false);
}

// The body of a forked point: errors are reported on its stderr (the sweep keeps the tail in
// the failed point's record) with the tool's exit codes, as `tessel point` reports them.
int point_child(const SweepPlan& plan, size_t index, const std::string& out_path,
                const std::string& artifact_dir, const std::string& cache_dir) {
  try {
    run_planned_point(plan, index, out_path, artifact_dir, cache_dir);
    return kExitOk;
  } catch (const std::exception&) {
    return report_current_exception(std::cerr);
  }
}

}  // namespace

void run_point(const std::string& sweep_file, size_t index, const std::string& out_path,
               const std::string& artifact_dir, const std::string& cache_dir) {
  // Only this point is made: expanding all of a large sweep in every child would cost each
  // point seconds.
  SweepPlan plan = load_sweep(sweep_file, /*expand=*/false);
  if (index >= plan.point_count)
    throw ConfigError(sweep_file + ": point index " + std::to_string(index) + " out of range (" +
                      std::to_string(plan.point_count) + " points)");
  run_planned_point(plan, index, out_path, artifact_dir, cache_dir);
}

SweepSummary run_sweep(const SweepOptions& opt) {
  SweepPlan plan = load_sweep(opt.sweep_file, /*expand=*/false);
  const size_t total = plan.point_count;
  // The count first: checking a large sweep takes a while and writes nothing until done.
  std::fprintf(stderr, "sweep %s: %zu points (%s)\n", plan.name.c_str(), total,
               describe_axes(plan).c_str());
  std::fflush(stderr);

  SweepSummary summary;
  summary.out_dir = opt.out_dir.empty() ? "results/" + plan.name : opt.out_dir;
  summary.points = total;
  // Refused before the long check; checked again below, under the folder's lock.
  const std::string points_file = (fs::path(summary.out_dir) / "points.jsonl").string();
  std::error_code ec;
  if (!opt.resume && !opt.overwrite && fs::exists(points_file, ec) &&
      fs::file_size(points_file, ec) > 0)
    throw results_exist(points_file);
  check_points(plan, stderr);
  ResultsStore store(summary.out_dir);

  std::vector<PointRecord> records;
  nlohmann::json manifest;
  if (opt.overwrite) store.clear();
  if (store.has_points()) {
    if (!opt.resume) throw results_exist(store.points_path());
    manifest = store.read_manifest();
    if (manifest.value("config_hash", "") != plan.config_hash)
      throw ConfigError(opt.sweep_file + ": the sweep or its experiment changed since " +
                        store.manifest_path() +
                        " was written (config hash differs); write to a new --out folder");
    records = store.load_existing();
    for (size_t i = 0; i < records.size(); ++i)
      if (records[i].index != i || i >= total || records[i].id != point_id(i))
        throw IoError(store.points_path() + ":" + std::to_string(i + 1) +
                      ": record does not match point " + std::to_string(i) + " of this sweep");
  } else {
    manifest["started"] = utc_now();
  }
  manifest["name"] = plan.name;
  manifest["title"] = plan.title;
  manifest["command"] = opt.command_line;
  manifest["sweep_file"] = opt.sweep_file;
  manifest["experiment"] = plan.experiment_path;
  manifest["config_hash"] = plan.config_hash;
  manifest["seed"] = plan.seed;
  manifest["git_commit"] = git_commit();
  manifest["host"] = host_name();
  manifest["tessel_version"] = TESSEL_VERSION;
  manifest["points_total"] = total;
  manifest["swept_keys"] = plan.swept_keys;
  manifest["report"] = plan.report;
  manifest["finished"] = nullptr;
  store.write_manifest(manifest);

  Progress progress(total, records.size(), stderr);
  std::map<size_t, PointRecord> finished;  // out-of-order completions awaiting their turn
  std::deque<size_t> queue;
  for (size_t i = records.size(); i < total; ++i) queue.push_back(i);
  std::map<size_t, Running> running;
  const int jobs = std::max(1, opt.jobs);

  auto scratch = [&](size_t i, const char* ext) {
    return store.scratch_dir() + "/" + point_id(i) + ext;
  };
  auto flush_in_order = [&]() {
    for (auto it = finished.find(records.size()); it != finished.end();
         it = finished.find(records.size())) {
      // Artifacts move to points/<id>/ before the record that names them is appended; a
      // kill in between leaves them in place for the resumed run, never two copies.
      keep_artifacts(store, point_id(it->first), it->second);
      store.append(it->second);
      fs::remove(scratch(it->first, ".json"));
      fs::remove(scratch(it->first, ".stderr"));
      records.push_back(std::move(it->second));
      finished.erase(it);
    }
  };

  auto sleep_us = std::chrono::microseconds(100);
  while (!queue.empty() || !running.empty()) {
    bool progressed = false;
    while (!queue.empty() && static_cast<int>(running.size()) < jobs) {
      size_t i = queue.front();
      queue.pop_front();
      // A result left by a run that was killed after the point finished is reused.
      if (auto r = read_result(scratch(i, ".json"))) {
        PointRecord rec = base_record(make_point(plan, i));
        rec.ok = true;
        rec.result = r;
        progress.point_finished(rec.id, describe_params(rec.params), true, "");
        finished.emplace(i, std::move(rec));
        progressed = true;
        continue;
      }
      // The point runs in a fork of this process (the plan is already in memory; nothing
      // is loaded or initialised again), as `tessel point` would run it.
      const std::string result_path = scratch(i, ".json"), artifacts = scratch(i, ".files");
      auto body = [&plan, &store, i, result_path, artifacts]() {
        return point_child(plan, i, result_path, artifacts, store.cache_dir());
      };
      running[i] = Running{std::make_unique<Child>(body, scratch(i, ".stderr")),
                           std::chrono::steady_clock::now()};
      progressed = true;
    }
    for (auto it = running.begin(); it != running.end();) {
      ChildOutcome outcome;
      if (!it->second.child->poll(outcome)) {
        double age =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - it->second.start)
                .count();
        if (opt.point_timeout_s > 0 && age > opt.point_timeout_s) it->second.child->kill_now();
        ++it;
        continue;
      }
      size_t i = it->first;
      PointRecord rec = base_record(make_point(plan, i));
      auto result = outcome.exited && outcome.exit_code == 0 ? read_result(scratch(i, ".json"))
                                                             : std::nullopt;
      if (result) {
        rec.ok = true;
        rec.result = result;
      } else {
        rec.exit_status = outcome.exit_status();
        rec.failure = outcome.describe(opt.point_timeout_s);
        if (outcome.exited && outcome.exit_code == 0) rec.failure = "exit 0 without a result";
        rec.stderr_tail = file_tail(scratch(i, ".stderr"));
      }
      progress.point_finished(rec.id, describe_params(rec.params), rec.ok, rec.failure);
      finished.emplace(i, std::move(rec));
      it = running.erase(it);
      progressed = true;
    }
    flush_in_order();
    if (progressed) {
      sleep_us = std::chrono::microseconds(100);
    } else {
      std::this_thread::sleep_for(sleep_us);
      sleep_us = std::min(sleep_us * 2, std::chrono::microseconds(1000));
    }
  }
  progress.finish();
  fs::remove(store.scratch_dir(), ec);  // only succeeds when empty

  for (const auto& r : records)
    if (!r.ok) ++summary.failed;
  store.write_summary(records, plan.swept_keys);
  manifest["finished"] = utc_now();
  manifest["points_failed"] = summary.failed;
  store.write_manifest(manifest);
  return summary;
}

}  // namespace tessel::sweep
