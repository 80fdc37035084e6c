// Fuzz target: the results-folder reader of `tessel report` (manifest.json and points.jsonl,
// which a crashed or hand-edited run may leave in any state). The input is the two files
// separated by a NUL byte.
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/report/results_folder.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessel;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto cut = input.find('\0');
  static const bool made = std::filesystem::create_directories(fuzz::temp_dir() + "/results");
  (void)made;
  fuzz::write_temp("results/manifest.json", input.substr(0, cut));
  fuzz::write_temp("results/points.jsonl",
                   cut == std::string::npos ? std::string() : input.substr(cut + 1));
  fuzz::expect_clean(fuzz::temp_dir(), [&] {
    report::ResultsFolder f = report::read_results_folder(fuzz::temp_dir() + "/results");
    for (const auto& p : f.points) p.to_json().dump();
  });
  return 0;
}
