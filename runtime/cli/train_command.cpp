// `tessel train`: config + overrides → Trainer; resume/overwrite rules for the output folder.
#include "runtime/cli/train_command.h"

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "models/nn/trainer.h"
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
  Config cfg = Config::load(o.config);
  for (const auto& s : o.sets) {
    const Override ov = parse_override(s);
    cfg.set(ov.path, ov.value);
  }
  const nn::TrainConfig tc = nn::TrainConfig::from_config(cfg);
  const std::string out =
      o.out.empty() ? (fs::path("results") / "train" / tc.name).string() : o.out;
  const fs::path ckpt = fs::path(out) / "checkpoint.bin";
  if (fs::exists(ckpt) && !o.resume && !o.overwrite)
    throw IoError(ckpt.string() +
                  " exists: pass --resume to continue it or --overwrite to start again");
  if (o.overwrite) fs::remove(ckpt);
  if (o.resume && !fs::exists(ckpt)) throw IoError(ckpt.string() + ": nothing to resume");

  nn::Trainer trainer(tc, out);
  if (o.resume) trainer.resume();
  const nn::TrainResult r = trainer.run(&std::cout);
  std::cout << "done: " << r.steps << " steps, " << static_cast<int64_t>(r.tokens_per_second())
            << (tc.task == "mnist" ? " examples/s" : " tokens/s") << " over "
            << nn::format_duration(r.train_seconds);
  if (!r.evals.empty()) std::cout << ", val_loss " << r.evals.back().val_loss;
  std::cout << "\nwrote " << out << "/{checkpoint.bin, eval.jsonl, summary.json}\n";
  return kExitOk;
}

}  // namespace tessel::cli
