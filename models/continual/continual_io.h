// Reading a continual-learning workload from YAML and reporting a run as SimResult metrics,
// shared by the `continual` experiment and sim/carm's storage-timing experiment.
#pragma once

#include <string>
#include <vector>

#include "models/continual/learner.h"
#include "runtime/core/config.h"
#include "runtime/core/keys.h"
#include "runtime/core/sim_result.h"

namespace tessel::continual {

struct ContinualWorkload {
  std::string kind = "mnist";  // mnist | shakespeare
  std::string images, labels;  // mnist
  int64_t train_count = 8000;  // mnist (0 for shakespeare: set by the split)
  std::string text;            // shakespeare
  std::vector<std::vector<int32_t>> tasks;
  ContinualConfig config;
  std::string store_path;  // carm.store as given (resolved against the config file); may be empty
};

// The keys of a continual-learning workload (the `continual` model's; sim/carm's adds its own).
const KeySet& continual_workload_keys();
// Reads a workload through continual_workload_keys(); errors name file:line and key (tau
// outside [0, 1], em_size above store_capacity...). The runner has checked it against the
// model's declaration.
ContinualWorkload read_continual_workload(const Config& w);
// The workload's stream (load_mnist_stream or load_shakespeare_stream, 10 speakers); throws
// Error (kExitConfig) where Carousel Memory's em_size exceeds the stream's training rows.
TaskStream load_stream(const ContinualWorkload& w);
// The store path of a run: carm.store when given, else <artifact_dir>/carm_store.bin, else
// a file in $TMPDIR (or /tmp) named after the process.
std::string resolve_store_path(const ContinualWorkload& w, const std::string& artifact_dir);
// Metrics, labels and the accuracy artifact (accuracy.jsonl in artifact_dir) of a run.
void report_continual(const ContinualResult& r, const ContinualWorkload& w,
                      const std::string& artifact_dir, SimResult& out);

}  // namespace tessel::continual
