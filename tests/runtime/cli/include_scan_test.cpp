// The tool reaches models and simulators only through the experiment registry: no source of
// runtime/ includes a header from models/ or sim/ (the registered experiments live beside their
// models and are linked in whole-archive). runtime/validate is the exception by design: the RTL
// cross-validation checks that `tessel validate` drives compare the Verilated units with
// models/ and sim/; they are a test harness, not experiments.
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// Every `#include "models/..."` or `"sim/..."` in the sources under `root` (but not under
// `exempt`), as "file:line: text".
std::vector<std::string> forbidden_includes(const fs::path& root, const fs::path& exempt = {}) {
  const std::regex include(R"(^\s*#\s*include\s*["<](models|sim)/)");
  std::vector<std::string> found;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const fs::directory_entry& entry = *it;
    if (!exempt.empty() && entry.path() == exempt) {
      it.disable_recursion_pending();
      continue;
    }
    const std::string ext = entry.path().extension().string();
    if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".h" && ext != ".cuh")) continue;
    std::ifstream in(entry.path());
    int line_no = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_no;
      if (std::regex_search(line, include))
        found.push_back(entry.path().string() + ":" + std::to_string(line_no) + ": " + line);
    }
  }
  return found;
}

TEST(IncludeScan, RuntimeReachesModelsOnlyThroughTheRegistry) {
  const fs::path runtime = fs::path(TESSEL_SOURCE_DIR) / "runtime";
  ASSERT_TRUE(fs::is_directory(runtime / "cli"));
  std::string list;
  for (const auto& f : forbidden_includes(runtime, runtime / "validate")) list += f + "\n";
  EXPECT_TRUE(list.empty()) << list;
}

TEST(IncludeScan, TheScanFindsAnInclude) {
  // The scanner itself: a file with a forbidden include is reported with its line.
  const fs::path dir = fs::temp_directory_path() / ("include_scan_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "a.cpp") << "#include <vector>\n  #include \"models/ann/nsg.h\"\n";
  // The exempt folder (runtime/validate in the real scan) is skipped, and only it.
  fs::create_directories(dir / "validate");
  std::ofstream(dir / "validate" / "b.cpp") << "#include \"sim/nm_unit/nm_unit_params.h\"\n";
  const auto found = forbidden_includes(dir, dir / "validate");
  const auto all = forbidden_includes(dir);
  fs::remove_all(dir);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].find("a.cpp:2:"), std::string::npos) << found[0];
  EXPECT_EQ(all.size(), 2u);
}

}  // namespace
