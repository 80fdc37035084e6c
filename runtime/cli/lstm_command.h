// `tessel lstm run`: the LSTM reference kernels on a user's .npz weights and .npy input.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace tessel::cli {

// Registers the `lstm` subcommand (with `run` under it) on `app`. When the command line selects
// it, parsing stores its work in `action`; main() then calls it inside its usual error handling
// and returns its exit code.
void add_lstm_command(CLI::App& app, std::function<int()>& action);

}  // namespace tessel::cli
