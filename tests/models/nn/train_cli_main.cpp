// Stand-alone driver of runtime/cli/train_command: `nn_train_cli train <config.yaml> ...`
// behaves as `tessel train`, for builds and tests that do not link the whole tool.
#include <iostream>

#include "runtime/cli/train_command.h"
#include "runtime/core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"tessel train, stand-alone", "nn_train_cli"};
  app.require_subcommand(1);
  auto* train = tessel::cli::add_train_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? tessel::kExitOk : tessel::kExitUsage;
  }
  try {
    if (*train) return tessel::cli::run_train_command();
  } catch (const tessel::Error& e) {
    std::cerr << "tessel: " << e.what() << "\n";
    return e.exit_code();
  }
  return tessel::kExitUsage;
}
