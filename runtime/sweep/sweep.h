// Runs every point of a sweep in its own child process (a fork of the sweep) and records the
// results.
#pragma once

#include <string>

#include "runtime/sweep/shard.h"
#include "runtime/sweep/sweep_plan.h"

namespace tessel::sweep {

struct SweepOptions {
  std::string sweep_file;
  std::string out_dir;         // default: results/<name>
  int jobs = 1;                // points at once
  double point_timeout_s = 0;  // 0: no limit
  bool resume = false;
  bool overwrite = false;      // discard earlier results in the folder first
  std::string command_line;    // recorded in the manifest
  Shard shard;                 // --shard i/n: only the points with index mod n == i
  double rank_timeout_s = 60;  // --mpi: silence after which a rank counts as lost
};

struct SweepSummary {
  std::string out_dir;
  size_t points = 0;
  size_t failed = 0;
  bool writer = true;  // false on MPI ranks other than 0: they write nothing
};

// Validates every point's configuration first (nothing is written if one is bad), then
// runs the points not yet finished. Throws ConfigError / IoError.
SweepSummary run_sweep(const SweepOptions& options);

// The body of `tessel point`: runs point `index` of the sweep in this process and writes
// its SimResult JSON atomically to `out_path`; the point's own files go to `artifact_dir`
// and files shared between points to `cache_dir` (either may be empty: none).
void run_point(const std::string& sweep_file, size_t index, const std::string& out_path,
               const std::string& artifact_dir = "", const std::string& cache_dir = "");

// Dry run: one line per point.
std::string list_points(const SweepPlan& plan);

}  // namespace tessel::sweep
