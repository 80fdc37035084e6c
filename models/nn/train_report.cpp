#include "models/nn/train_report.h"

#include <filesystem>

#include "runtime/core/cpu_time.h"

namespace tessel::nn {

namespace fs = std::filesystem;

void report_training(Trainer& trainer, const TrainResult& t, bool resumed, double cpu_start,
                     const std::string& artifact_dir, SimResult& r) {
  const TrainConfig& config = trainer.config();
  r.metrics["steps"] = static_cast<double>(t.steps);
  // Totals from step 0 and of the training loop (evaluations and checkpoints included, the
  // set-up before the first step not): a run resumed from a checkpoint reports the whole
  // training, as an uninterrupted run does, and its own part as session_*.
  // process_cpu_s is this process's CPU time, set-up included.
  r.metrics["tokens"] = static_cast<double>(t.tokens_total);
  r.metrics["wall_s"] = t.wall_total_s;
  r.metrics["cpu_s"] = t.cpu_total_s;
  r.metrics["process_cpu_s"] = process_cpu_seconds() - cpu_start;
  if (resumed) {
    r.metrics["session_tokens"] = static_cast<double>(t.tokens);
    r.metrics["session_wall_s"] = t.train_seconds;
  }
  r.metrics[config.task == "mnist" ? "examples_per_s" : "tokens_per_s"] = t.tokens_per_second();
  r.metrics["parameters"] = static_cast<double>(trainer.params().size());
  if (!t.losses.empty()) r.metrics["train_loss"] = t.losses.back();
  if (!t.evals.empty()) {
    r.metrics["val_loss"] = t.evals.back().val_loss;
    if (t.evals.back().val_accuracy >= 0) r.metrics["val_accuracy"] = t.evals.back().val_accuracy;
    if (t.evals.back().val_f1 >= 0) r.metrics["val_f1"] = t.evals.back().val_f1;
  }
  if (t.test_accuracy >= 0) {
    r.metrics["test_accuracy"] = t.test_accuracy;
    r.metrics["test_f1"] = t.test_f1;
  }
  if (t.test_loss >= 0) r.metrics["test_loss"] = t.test_loss;
  // Pre-training methods (docs/pretraining.md): time per sample (a sequence, or an image),
  // the share of Transformer blocks that ran and that PLD's schedule expects, loss spikes
  // and divergence, and the cost of reaching eval.target_loss.
  const int64_t samples = (t.steps - t.first_step) * config.batch_size;
  if (samples > 0 && !t.diverged)
    r.metrics["ms_per_sample"] = 1e3 * t.step_seconds / static_cast<double>(samples);
  if (t.block_slots > 0) {
    const auto slots = static_cast<double>(t.block_slots);
    r.metrics["blocks_executed_fraction"] = static_cast<double>(t.blocks_executed) / slots;
    r.metrics["blocks_expected_fraction"] = t.blocks_expected / slots;
  }
  r.metrics["loss_spikes"] = static_cast<double>(t.loss_spikes);
  r.metrics["spike_steps"] = static_cast<double>(t.spike_steps);
  r.metrics["diverged"] = t.diverged ? 1 : 0;
  if (t.diverged) r.metrics["diverged_step"] = static_cast<double>(t.diverged_step);
  if (config.target_loss > 0) {
    // Never reached: reached_target 0 and no *_to_target metrics (a mean over seeds then
    // covers the runs that reached it; the table's n says how many).
    r.metrics["reached_target"] = t.reached_target ? 1 : 0;
    if (t.reached_target) {
      r.metrics["steps_to_target"] = static_cast<double>(t.target.step);
      r.metrics["tokens_to_target"] = static_cast<double>(t.target.tokens);
      r.metrics["time_to_target_s"] = t.target.train_s;
      r.metrics["wall_to_target_s"] = t.target.wall_s;
      r.metrics["cpu_to_target_s"] = t.target.cpu_s;
    }
  }
  if (config.task != "mnist") r.labels["method"] = method_name(config);
  if (trainer.document_split()) r.labels["split_hash"] = trainer.split_hash();
  if (resumed) r.metrics["resumed_from_step"] = static_cast<double>(t.first_step);
  r.labels["train_time"] = format_duration(t.train_seconds);
  r.labels["backend"] = config.backend;
  r.labels["task"] = config.task;
  if (!artifact_dir.empty())
    for (const char* name :
         {"eval.jsonl", "summary.json", "checkpoint.bin", "split.txt", "offload_timeline.json"})
      if (fs::exists(fs::path(artifact_dir) / name))
        r.artifacts[fs::path(name).stem().string()] = name;
}

}  // namespace tessel::nn
