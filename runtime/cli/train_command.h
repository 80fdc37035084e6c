// `tessel train <config.yaml>`: trains a model of models/nn with progress, eval, checkpoints.
#pragma once

#include <CLI/CLI.hpp>

namespace tessel::cli {

// Registers the `train` subcommand on `app` and returns it; after app.parse(), if it was
// chosen (`*sub`), call run_train_command().
CLI::App* add_train_command(CLI::App& app);

// Runs the parsed train command; returns the exit code. Throws tessel::Error (ConfigError,
// IoError...) for the caller's usual one-line report.
int run_train_command();

}  // namespace tessel::cli
