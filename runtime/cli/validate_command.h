// `tessel validate`: cross-validation of reference, SystemC and RTL, and of twins vs SystemC.
#pragma once

#include <CLI/CLI.hpp>

namespace tessel::cli {

// Registers the `validate` subcommand on `app` and returns it; after app.parse(), if it was
// chosen (`*sub`), call run_validate_command().
CLI::App* add_validate_command(CLI::App& app);

// Runs every check, writes <out>/report.md and prints the table; returns kExitOk when
// every check passed and kExitFailure otherwise. Throws tessel::Error on unreadable
// configs or an unwritable output folder.
int run_validate_command();

}  // namespace tessel::cli
