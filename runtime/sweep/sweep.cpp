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

#include <nlohmann/json.hpp>

#include "runtime/core/atomic_file.h"
#include "runtime/core/error.h"
#include "runtime/sweep/child_process.h"
#include "runtime/sweep/progress.h"
#include "runtime/sweep/remote.h"
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

std::string scratch_path(const std::string& scratch_dir, size_t index, const char* ext) {
  return scratch_dir + "/" + point_id(index) + ext;
}

std::unique_ptr<Child> start_point(const SweepPlan& plan, size_t i, const std::string& scratch_dir,
                                   const std::string& cache_dir) {
  // The point runs in a fork of this process (the plan is already in memory; nothing is
  // loaded or initialised again), as `tessel point` would run it.
  const std::string result_path = scratch_path(scratch_dir, i, ".json"),
                    artifacts = scratch_path(scratch_dir, i, ".files");
  // A run killed while this point ran may have left part of its files (a store, a
  // temporary): they must not be moved to points/<id>/ with this run's.
  std::error_code ec;
  fs::remove_all(artifacts, ec);
  auto body = [&plan, i, result_path, artifacts, cache_dir]() {
    return point_child(plan, i, result_path, artifacts, cache_dir);
  };
  return std::make_unique<Child>(body, scratch_path(scratch_dir, i, ".stderr"));
}

std::optional<std::string> read_result_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    SimResult::from_json(nlohmann::json::parse(text));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return text;
}

PointRecord outcome_record(const SweepPlan& plan, size_t i, const ChildOutcome& outcome,
                           const std::optional<std::string>& result_text,
                           const std::string& stderr_tail, double timeout_s) {
  PointRecord rec = base_record(make_point(plan, i));
  if (outcome.exited && outcome.exit_code == 0 && result_text) {
    rec.ok = true;
    rec.result = SimResult::from_json(nlohmann::json::parse(*result_text));
  } else {
    rec.exit_status = outcome.exit_status();
    rec.failure = outcome.describe(timeout_s);
    if (outcome.exited && outcome.exit_code == 0) rec.failure = "exit 0 without a result";
    rec.stderr_tail = stderr_tail;
  }
  return rec;
}

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
  return run_sweep(opt, nullptr);
}

SweepSummary run_sweep(const SweepOptions& opt, RemoteRunner* remote) {
  SweepPlan plan = load_sweep(opt.sweep_file, /*expand=*/false);
  const size_t total = plan.point_count;
  // The count first: checking a large sweep takes a while and writes nothing until done.
  std::fprintf(stderr, "sweep %s: %zu points (%s)", plan.name.c_str(), total,
               describe_axes(plan).c_str());
  if (!opt.shard.whole())
    std::fprintf(stderr, "; shard %s runs %zu of them", opt.shard.describe().c_str(),
                 opt.shard.points_in(total));
  std::fprintf(stderr, "\n");
  std::fflush(stderr);
  // The points this run records, in the order points.jsonl lists them.
  std::vector<size_t> owned;
  owned.reserve(opt.shard.points_in(total));
  for (size_t i = opt.shard.index; i < total; i += opt.shard.count) owned.push_back(i);

  SweepSummary summary;
  summary.out_dir = opt.out_dir.empty()
                        ? "results/" + plan.name +
                              (opt.shard.whole() ? std::string()
                                                 : "-shard" + std::to_string(opt.shard.index) +
                                                       "of" + std::to_string(opt.shard.count))
                        : opt.out_dir;
  summary.points = owned.size();
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
    const nlohmann::json no_shard = {{"index", 0}, {"count", 1}};
    if (manifest.value("shard", no_shard) !=
        nlohmann::json{{"index", opt.shard.index}, {"count", opt.shard.count}})
      throw ConfigError(store.manifest_path() + ": written by shard " +
                        manifest.value("shard", no_shard).at("index").dump() + "/" +
                        manifest.value("shard", no_shard).at("count").dump() + ", not shard " +
                        opt.shard.describe() + "; resume it with that --shard");
    records = store.load_existing();
    for (size_t k = 0; k < records.size(); ++k)
      if (k >= owned.size() || records[k].index != owned[k] || records[k].id != point_id(owned[k]))
        throw IoError(store.points_path() + ":" + std::to_string(k + 1) +
                      ": record does not match point " +
                      (k < owned.size() ? std::to_string(owned[k]) : std::string("(none)")) +
                      " of this sweep");
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
  if (opt.shard.whole())
    manifest.erase("shard");
  else
    manifest["shard"] = {{"index", opt.shard.index}, {"count", opt.shard.count}};
  if (remote)
    manifest["ranks"] = remote->start(plan, store.scratch_dir(), store.cache_dir());
  else
    manifest.erase("ranks");
  manifest["finished"] = nullptr;
  store.write_manifest(manifest);

  Progress progress(owned.size(), records.size(), stderr);
  std::map<size_t, PointRecord> finished;  // out-of-order completions awaiting their turn
  std::deque<size_t> queue(owned.begin() + records.size(), owned.end());
  std::map<size_t, Running> running;
  const int jobs = std::max(1, opt.jobs);

  auto scratch = [&](size_t i, const char* ext) {
    return scratch_path(store.scratch_dir(), i, ext);
  };
  // The point whose record is next in points.jsonl.
  auto next_due = [&]() { return records.size() < owned.size() ? owned[records.size()] : total; };
  auto flush_in_order = [&]() {
    for (auto it = finished.find(next_due()); it != finished.end();
         it = finished.find(next_due())) {
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
  std::vector<std::pair<size_t, PointRecord>> remote_done;
  std::vector<size_t> requeue;
  while (!queue.empty() || !running.empty() || (remote && remote->in_flight() > 0)) {
    bool progressed = false;
    while (!queue.empty() && static_cast<int>(running.size()) < jobs) {
      size_t i = queue.front();
      queue.pop_front();
      // A result left by a run that was killed after the point finished is reused.
      if (auto text = read_result_text(scratch(i, ".json"))) {
        PointRecord rec = outcome_record(plan, i, ChildOutcome{true, 0}, text, "", 0);
        progress.point_finished(rec.id, describe_params(rec.params), true, "");
        finished.emplace(i, std::move(rec));
        progressed = true;
        continue;
      }
      running[i] = Running{start_point(plan, i, store.scratch_dir(), store.cache_dir()),
                           std::chrono::steady_clock::now()};
      progressed = true;
    }
    // Other ranks take points as their slots free up (a work queue: a slow point holds one
    // slot, never a fixed share of the sweep).
    while (remote && !queue.empty() && remote->can_take()) {
      remote->assign(queue.front());
      queue.pop_front();
      progressed = true;
    }
    if (remote) {
      remote_done.clear();
      requeue.clear();
      remote->poll(remote_done, requeue);
      for (auto& [i, rec] : remote_done) {
        progress.point_finished(rec.id, describe_params(rec.params), rec.ok, rec.failure);
        finished.emplace(i, std::move(rec));
        progressed = true;
      }
      // Lost points go first, so the records behind them are not held back longer.
      for (auto it = requeue.rbegin(); it != requeue.rend(); ++it) queue.push_front(*it);
      progressed = progressed || !requeue.empty();
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
      auto text = outcome.exited && outcome.exit_code == 0 ? read_result_text(scratch(i, ".json"))
                                                           : std::nullopt;
      PointRecord rec =
          outcome_record(plan, i, outcome, text, text ? "" : file_tail(scratch(i, ".stderr")),
                         opt.point_timeout_s);
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
  if (remote) remote->stop();
  // Every point is recorded: what is left in scratch (a result or stderr file whose record
  // was appended just before a kill) is stale.
  fs::remove_all(store.scratch_dir(), ec);

  for (const auto& r : records)
    if (!r.ok) ++summary.failed;
  store.write_summary(records, plan.swept_keys);
  manifest["finished"] = utc_now();
  manifest["points_failed"] = summary.failed;
  store.write_manifest(manifest);
  return summary;
}

}  // namespace tessel::sweep
