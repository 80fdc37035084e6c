// `tessel validate` end to end: the rows for the MAC array, the memory models and every
// analytical twin exist and pass (the RTL half is tests/rtl/validate_test.cpp).
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "tests/support/tool.h"

namespace tessel {
namespace {

using testing::read_text;
using testing::run_tool;
using testing::TempDir;

const std::string kTool = std::string(TESSEL_BINARY_DIR) + "/tessel_fault_tool";

// The report line whose first cell is `model`, or "".
std::string row(const std::string& md, const std::string& model) {
  const auto at = md.find("\n| " + model + " |");
  if (at == std::string::npos) return "";
  return md.substr(at + 1, md.find('\n', at + 1) - at - 1);
}

TEST(ValidateCli, ModelRowsExistAndPass) {
  TempDir dir;
  // Run outside the checkout: the shipped configs come from the source tree.
  const auto run = run_tool(kTool, "validate --vectors 200 --out " + dir / "v", dir.path());
  const std::string md = read_text(dir / "v/report.md");
  if (md.find("no SystemC") != std::string::npos) GTEST_SKIP() << "built without SystemC";
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("wrote " + dir / "v/report.md"), std::string::npos) << run.out;
  for (const char* model :
       {"lstm_sharp (SystemC)", "lstm_sharp_analytical", "nm_unit (SystemC)", "nm_unit_analytical",
        "mac_array (SystemC) 256x256x256", "mac_array_analytical 256x256x256",
        "mac_array (SystemC) 100x70x130", "mac_array_analytical 100x70x130",
        "memory ddr4_3200 (SystemC)", "memory ddr5_4800 (SystemC)", "memory hbm3 (SystemC)",
        "memory dram+nvm+ssd (SystemC)"}) {
    const std::string line = row(md, model);
    ASSERT_FALSE(line.empty()) << model << " missing from\n" << md;
    EXPECT_NE(line.find("| pass |"), std::string::npos) << line;
  }
  // Twins: cycle counts side by side; the MAC array's must be equal.
  std::smatch m;
  const std::string mac = row(md, "mac_array_analytical 100x70x130");
  ASSERT_TRUE(std::regex_search(mac, m, std::regex("\\| ([0-9]+) / ([0-9]+) \\|"))) << mac;
  EXPECT_EQ(m[1], m[2]);
  EXPECT_NE(mac.find("| exact |"), std::string::npos) << mac;
  EXPECT_NE(row(md, "nm_unit_analytical").find("tolerance 5%"), std::string::npos);
  // Memory: the timing checker replayed a real number of DRAM commands.
  for (const char* model : {"memory ddr4_3200 (SystemC)", "memory ddr5_4800 (SystemC)",
                            "memory hbm3 (SystemC)", "memory dram+nvm+ssd (SystemC)"}) {
    const std::string line = row(md, model);
    ASSERT_TRUE(std::regex_search(line, m, std::regex("([0-9]+) commands checked, 0 violations")))
        << line;
    EXPECT_GT(std::stoll(m[1]), 100) << line;
  }
  EXPECT_NE(md.find("**Overall: pass**"), std::string::npos);
}

}  // namespace
}  // namespace tessel
