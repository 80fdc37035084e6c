// Tests that read ../shared/data (MNIST, SpamAssassin, tinyshakespeare): where a file is,
// and what a test does when it is missing.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace tessel::testing {

// The shared data folder beside the checkout (../shared/data, the layout of this project's
// machines and of CI).
inline std::string shared_data_dir() {
  return std::string(TESSEL_SOURCE_DIR) + "/../shared/data";
}

inline std::string shared_data(const std::string& relative) {
  return shared_data_dir() + "/" + relative;
}

// Why a test that needs `path` cannot run, or "" when it can. A missing file inside a
// present data folder is never a skip under CI (CI=true): that machine has the data, so
// the file's absence is a broken checkout or a renamed file, and the test must fail.
inline std::string missing_shared_data(const std::string& path) {
  if (std::filesystem::exists(path)) return "";
  return path + " is missing";
}

inline bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

}  // namespace tessel::testing

// Skips the calling test, printing one line that says so and why, when `path` is missing;
// fails it instead under CI when the shared data folder is there but the file is not.
#define TESSEL_REQUIRE_SHARED_DATA(path)                                            \
  do {                                                                              \
    const std::string tessel_why_ = ::tessel::testing::missing_shared_data(path);   \
    if (!tessel_why_.empty()) {                                                     \
      if (::tessel::testing::running_in_ci() &&                                     \
          std::filesystem::exists(::tessel::testing::shared_data_dir()))            \
        FAIL() << "CI=true and the shared data folder exists, but " << tessel_why_; \
      std::fprintf(stderr, "SKIPPED %s: %s\n",                                      \
                   ::testing::UnitTest::GetInstance()->current_test_info()->name(), \
                   tessel_why_.c_str());                                            \
      GTEST_SKIP() << tessel_why_;                                                  \
    }                                                                               \
  } while (0)
