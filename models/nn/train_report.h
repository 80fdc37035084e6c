// What every training experiment (train.transformer, train.mlp, nm_sparsify.*) reports
// from a finished Trainer run, in one place so that they all report the same metrics.
#pragma once

#include <string>

#include "models/nn/trainer.h"
#include "runtime/core/sim_result.h"

namespace tessel::nn {

// User + system CPU seconds of this process so far (getrusage).
double process_cpu_seconds();

// Adds to `r` the trainer's metrics (steps, tokens, wall_s, cpu_s = process CPU seconds
// since `cpu_start`, tokens_per_s or examples_per_s for mnist, parameters, train_loss,
// val_loss, val_accuracy, val_f1, test_accuracy, test_f1, resumed_from_step when
// `resumed`), its labels (train_time, backend, task, split_hash for labelled documents) and
// the files it wrote into `artifact_dir` (eval.jsonl, summary.json, checkpoint.bin,
// split.txt; none when the directory is empty).
void report_training(Trainer& trainer, const TrainResult& t, bool resumed, double cpu_start,
                     const std::string& artifact_dir, SimResult& r);

}  // namespace tessel::nn
