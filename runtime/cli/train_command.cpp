// `tessel train`: a front end that runs a training file as the registered experiment
// train.transformer or train.mlp; resume/overwrite rules for the output folder.
#include "runtime/cli/train_command.h"

#include <cmath>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "runtime/core/runner.h"

namespace tessel::cli {
namespace {

namespace fs = std::filesystem;

struct TrainOptions {
  std::string config;
  std::string out;
  std::vector<std::string> sets;
  bool resume = false;
  bool overwrite = false;
};

TrainOptions& options() {
  static TrainOptions o;
  return o;
}

}  // namespace

CLI::App* add_train_command(CLI::App& app) {
  TrainOptions& o = options();
  auto* sub = app.add_subcommand(
      "train", "Train a Transformer or MLP (models/nn) from a configs/train/*.yaml file");
  sub->add_option("config", o.config, "Training YAML file")->required();
  sub->add_option("--out", o.out,
                  "Output folder for checkpoint.bin, eval.jsonl, summary.json "
                  "(default: results/train/<name>)");
  sub->add_option("--set", o.sets, "Override a key, e.g. --set train.steps=50 (repeatable)");
  sub->add_flag("--resume", o.resume, "Continue from <out>/checkpoint.bin");
  sub->add_flag("--overwrite", o.overwrite, "Discard an earlier checkpoint in <out>")
      ->excludes(sub->get_option("--resume"));
  return sub;
}

int run_train_command() {
  const TrainOptions& o = options();
  // The training file is the workload as it stands (its own key paths in messages); its
  // `seed:` becomes the experiment's seed, as `tessel run` and sweeps set it.
  Config workload = Config::load(o.config);
  for (const auto& s : o.sets) {
    const Override ov = parse_override(s);
    workload.set(ov.path, ov.value);
  }
  const uint64_t seed = workload.get<uint64_t>("seed", 1);
  workload.erase("seed");
  const bool mnist = workload.has("task") && workload.at("task").scalar() == "mnist";
  const std::string model = mnist ? "train.mlp" : "train.transformer";
  const Config hw = Config::parse("{model: " + model + "}", "tessel train", "hw");
  const std::string name =
      workload.has("name") ? workload.at("name").scalar() : fs::path(o.config).stem().string();
  PreparedRun run = prepare_run(hw, workload, seed);

  const std::string out = o.out.empty() ? (fs::path("results") / "train" / name).string() : o.out;
  const fs::path ckpt = fs::path(out) / "checkpoint.bin";
  if (fs::exists(ckpt) && !o.resume && !o.overwrite)
    throw IoError(ckpt.string() +
                  " exists: pass --resume to continue it or --overwrite to start again");
  if (o.overwrite) fs::remove(ckpt);
  if (o.resume && !fs::exists(ckpt)) throw IoError(ckpt.string() + ": nothing to resume");

  // The experiment continues from a checkpoint in its folder: --resume is that case.
  const SimResult r = execute(run, nullptr, RunOutputs{out, "", &std::cout});
  const auto metric = [&](const char* key) {
    const auto it = r.metrics.find(key);
    return it == r.metrics.end() ? NAN : it->second;
  };
  // The rate is of the training steps alone; the time is the whole run's.
  std::cout << "done: " << static_cast<int64_t>(metric("steps")) << " steps in "
            << r.labels.at("train_time") << ", "
            << static_cast<int64_t>(mnist ? metric("examples_per_s") : metric("tokens_per_s"))
            << (mnist ? " examples/s" : " tokens/s") << " excluding evaluation and checkpoints";
  if (r.metrics.count("val_loss")) std::cout << ", val_loss " << metric("val_loss");
  std::string files;
  for (const auto& kv : r.artifacts) files += (files.empty() ? "" : ", ") + kv.second;
  std::cout << "\nwrote " << out << "/{" << files << "}\n";
  return kExitOk;
}

}  // namespace tessel::cli
