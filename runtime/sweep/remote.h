// What the sweep loop shares with points run elsewhere (MPI ranks): starting a point in a
// child, turning its outcome into a record, and the interface of the remote side.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "runtime/core/point_record.h"
#include "runtime/sweep/child_process.h"
#include "runtime/sweep/sweep.h"

namespace tessel::sweep {

// <scratch_dir>/p0007.json, p0007.stderr, p0007.files
std::string scratch_path(const std::string& scratch_dir, size_t index, const char* ext);
// Runs point `index` in a fork of this process (the plan is already in memory), its result
// JSON written to scratch_path(.json), its stderr to .stderr and its files under .files.
std::unique_ptr<Child> start_point(const SweepPlan& plan, size_t index,
                                   const std::string& scratch_dir, const std::string& cache_dir);
// The text of a point's result file if it holds a valid SimResult, else nullopt.
std::optional<std::string> read_result_text(const std::string& path);
// A finished point's record: ok with `result_text` parsed when the child exited 0 with a
// result, failed otherwise (as a local sweep records it).
PointRecord outcome_record(const SweepPlan& plan, size_t index, const ChildOutcome& outcome,
                           const std::optional<std::string>& result_text,
                           const std::string& stderr_tail, double timeout_s);

// Points run by other processes (the MPI ranks); run_sweep drives it from its loop.
class RemoteRunner {
 public:
  virtual ~RemoteRunner() = default;
  // The plan is checked and the results folder is ready (`scratch_dir`, `cache_dir` inside
  // it); returns what the manifest records about the runners (ranks, hosts).
  virtual nlohmann::json start(const SweepPlan& plan, const std::string& scratch_dir,
                               const std::string& cache_dir) = 0;
  virtual bool can_take() = 0;  // a remote slot is free
  virtual void assign(size_t index) = 0;
  // Finished points, and points lost with their runner that should run again.
  virtual void poll(std::vector<std::pair<size_t, PointRecord>>& done,
                    std::vector<size_t>& requeue) = 0;
  virtual size_t in_flight() const = 0;
  virtual void stop() = 0;  // every point is recorded: release the runners
};

// run_sweep with points also handed to `remote` (nullptr: local only).
SweepSummary run_sweep(const SweepOptions& options, RemoteRunner* remote);

}  // namespace tessel::sweep
