// `tessel validate`: every check passes and the report has a row per unit, suite and model.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "runtime/cli/validate_command.h"
#include "runtime/core/error.h"

namespace tessel::cli {
namespace {

TEST(Validate, AllChecksPassAndTheReportListsThem) {
  // TESSEL_VALIDATE_OUT=results/validation regenerates the committed report from this test
  // (the same function `tessel validate` runs).
  const char* env = std::getenv("TESSEL_VALIDATE_OUT");
  const std::string out = env ? env : std::string(TESSEL_BINARY_DIR) + "/validation";
  CLI::App app{"tessel"};
  CLI::App* sub = add_validate_command(app);
  const std::string args = "validate --out " + out;
  app.parse(args, false);
  ASSERT_TRUE(*sub);
  EXPECT_EQ(run_validate_command(), kExitOk);
  std::ifstream in(out + "/report.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string md = ss.str();
  for (const char* row :
       {"| lstm_sharp/dpu | K=8 | random |", "| lstm_sharp/dpu | K=3 | golden |",
        "| lstm_sharp/mfu | LANES=16 | directed |", "| nm_unit/sparse_dot | 2:4 G=4 | timing |",
        "| lstm_sharp + Verilated DPU |", "| nm_unit_analytical |",
        "| mac_array_analytical 100x70x130 |", "| memory hbm3 (SystemC) |", "**Overall: pass**"})
    EXPECT_NE(md.find(row), std::string::npos) << row;
}

}  // namespace
}  // namespace tessel::cli
