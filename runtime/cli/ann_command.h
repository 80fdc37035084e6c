// `tessel ann build|search`: graph indexes over vector files, built and searched from the shell.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace tessel::cli {

// Registers the `ann` subcommand (with `build` and `search` under it) on `app`. When the command
// line selects one of them, parsing stores its work in `action`; main() then calls it inside its
// usual error handling and returns its exit code.
void add_ann_command(CLI::App& app, std::function<int()>& action);

}  // namespace tessel::cli
