// What every training experiment (train.transformer, train.mlp, nm_sparsify.*) reports
// from a finished Trainer run, in one place so that they all report the same metrics.
#pragma once

#include <string>

#include "models/nn/trainer.h"
#include "runtime/core/sim_result.h"

namespace tessel::nn {

// Adds to `r` the trainer's metrics (steps, tokens, wall_s, cpu_s = process CPU seconds
// since `cpu_start`, tokens_per_s or examples_per_s for mnist, parameters, train_loss,
// val_loss, val_accuracy, val_f1, test_accuracy, test_f1, test_loss, resumed_from_step when
// `resumed`; ms_per_sample, blocks_executed_fraction, blocks_expected_fraction, loss_spikes,
// spike_steps, diverged, diverged_step, reached_target, steps_to_target, tokens_to_target,
// time_to_target_s, wall_to_target_s: docs/pretraining.md), its labels (train_time,
// backend, task, method for Transformers, split_hash for labelled documents) and
// the files it wrote into `artifact_dir` (eval.jsonl, summary.json, checkpoint.bin,
// split.txt; none when the directory is empty).
void report_training(Trainer& trainer, const TrainResult& t, bool resumed, double cpu_start,
                     const std::string& artifact_dir, SimResult& r);

}  // namespace tessel::nn
