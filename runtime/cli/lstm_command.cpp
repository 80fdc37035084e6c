// `tessel lstm run`: a front end that runs the registered experiment lstm.reference
// (models/lstm/lstm_reference_experiment.cpp) on the files named on the command line.
#include "runtime/cli/lstm_command.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "runtime/core/runner.h"

namespace tessel::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct LstmRunOptions {
  std::string weights, input, precision = "fixed", prefix, out;
};

double metric(const SimResult& r, const std::string& key) {
  const auto it = r.metrics.find(key);
  return it == r.metrics.end() ? 0 : it->second;
}

// The output file is checked before the run: its folder must exist and be writable, and the
// path must not be a folder.
void check_output_path(const std::string& path) {
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string what = "lstm run: -o " + path + ": ";
  if (fs::is_directory(p)) throw IoError(what + "is a directory, expected a file");
  if (!fs::is_directory(dir)) throw IoError(what + "folder " + dir.string() + " does not exist");
  if (::access(dir.c_str(), W_OK) != 0)
    throw IoError(what + "folder " + dir.string() + " is not writable");
  if (fs::exists(p) && ::access(p.c_str(), W_OK) != 0) throw IoError(what + "is not writable");
}

int run_lstm(const LstmRunOptions& o) {
  if (!o.out.empty()) check_output_path(o.out);
  // Paths stay as typed: a configuration parsed from text resolves them against the working
  // directory, so messages name the files as the user wrote them.
  const json hw = {{"model", "lstm.reference"}, {"precision", o.precision}};
  json w = {{"weights", o.weights}, {"input", o.input}, {"prefix", o.prefix}};
  if (!o.out.empty()) w["output"] = o.out;
  PreparedRun run = prepare_run(Config::parse(hw.dump(), "tessel lstm run", "hw"),
                                Config::parse(w.dump(), "tessel lstm run"), 1);
  const SimResult r = execute(run, nullptr, RunOutputs{"", "", nullptr});
  const bool fixed = o.precision == "fixed";
  std::cout << "lstm run: " << (fixed ? "fixed point" : "float32") << ", "
            << static_cast<int64_t>(metric(r, "steps")) << " steps x batch "
            << static_cast<int64_t>(metric(r, "batch")) << ", nn.LSTM("
            << static_cast<int64_t>(metric(r, "input_size")) << ", "
            << static_cast<int64_t>(metric(r, "hidden"))
            << ", num_layers=" << static_cast<int64_t>(metric(r, "layers"))
            << (metric(r, "directions") == 2 ? ", bidirectional=True" : "") << ") in "
            << metric(r, "wall_s") << " s\n";
  if (fixed)
    std::cout << "error vs float32: max_abs " << metric(r, "max_abs_error") << ", rms "
              << metric(r, "rms_error") << " (h_n max_abs " << metric(r, "h_n_max_abs_error")
              << ", c_n max_abs " << metric(r, "c_n_max_abs_error") << ")\n";
  if (!o.out.empty()) std::cout << "wrote " << o.out << "\n";
  return kExitOk;
}

}  // namespace

void add_lstm_command(CLI::App& app, std::function<int()>& action) {
  auto* lstm = app.add_subcommand("lstm", "LSTM reference kernels (models/lstm) on your weights");
  lstm->require_subcommand(1);
  auto o = std::make_shared<LstmRunOptions>();
  auto* run = lstm->add_subcommand(
      "run", "Run nn.LSTM weights (.npz) on an input (.npy) in fixed point or float32");
  run->add_option("--weights", o->weights,
                  "np.savez of the LSTM's state_dict (weight_ih_l0, ..., bias_hh_l0)")
      ->required();
  run->add_option("--input", o->input, "Input .npy, [steps, batch, input_size] or [steps, input]")
      ->required();
  run->add_option("--precision", o->precision,
                  "fixed (default: the accelerator's Q2.13 / Q4.11 formats, error vs float32 "
                  "reported) or float")
      ->check(CLI::IsMember({"fixed", "float"}));
  run->add_option("--prefix", o->prefix, "State_dict prefix of the arrays, e.g. encoder.lstm.");
  run->add_option("-o,--out", o->out, "Write the outputs here (.npy, [steps, batch, D*H])");
  run->callback([o, &action] { action = [o] { return run_lstm(*o); }; });
}

}  // namespace tessel::cli
