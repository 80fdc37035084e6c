// `tessel ann build|search` end to end: an index file, both layouts, traces, and bad input.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "tests/support/tool.h"

namespace tessel {
namespace {

using testing::read_text;
using testing::run_tool;
using testing::TempDir;

const std::string kTool = std::string(TESSEL_BINARY_DIR) + "/tessel_fault_tool";

// The number after `label` in `text`, or -1.
double number_after(const std::string& text, const std::string& label) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(label + " ([0-9.]+)"))) return -1;
  return std::stod(m[1]);
}

class AnnCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const auto run = run_tool(kTool,
                              "ann build --base mixture:3000 --knn-k 12 --L 30 --R 16 --C 120 "
                              "--entry-points 16 -j 1 -o idx.tann",
                              dir_->path());
    ASSERT_EQ(run.exit_code, 0) << run.err;
    ASSERT_NE(run.out.find("built nsg over 3000 vectors"), std::string::npos) << run.out;
  }
  static void TearDownTestSuite() { delete dir_; }
  static TempDir* dir_;
};
TempDir* AnnCli::dir_ = nullptr;

TEST_F(AnnCli, PackedAndPlainSearchFindTheSameNeighbours) {
  const std::string common =
      "ann search --index idx.tann --base mixture:3000 --queries mixture:200:1 --L 40 --recall ";
  const auto packed = run_tool(kTool, common + "--out packed.ivecs", dir_->path());
  const auto plain = run_tool(kTool, common + "--layout plain --out plain.ivecs", dir_->path());
  ASSERT_EQ(packed.exit_code, 0) << packed.err;
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_NE(packed.out.find("nsg search (packed): 200 queries, L 40, k 10"), std::string::npos)
      << packed.out;
  EXPECT_NE(packed.err.find("lossy 8-bit codes"), std::string::npos) << packed.err;
  EXPECT_EQ(number_after(packed.out, "mean re-ranked"), 30);
  EXPECT_EQ(number_after(plain.out, "mean re-ranked"), 0);
  const double r_packed = number_after(packed.out, "recall@10"),
               r_plain = number_after(plain.out, "recall@10");
  EXPECT_GT(r_plain, 0.9) << plain.out;
  EXPECT_GE(r_packed, r_plain - 0.02) << packed.out;
  EXPECT_EQ(read_text(dir_->path() / "packed.ivecs").size(), 200u * (4 + 10 * 4));
}

TEST_F(AnnCli, PackedTraceReadsCodes) {
  const auto run = run_tool(kTool,
                            "ann search --index idx.tann --base mixture:3000 --queries "
                            "mixture:5:1 --L 20 --trace t.txt --trace-text",
                            dir_->path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string trace = read_text(dir_->path() / "t.txt");
  EXPECT_NE(trace.find("ann.codes"), std::string::npos);
  EXPECT_NE(trace.find("ann.vectors"), std::string::npos);
  EXPECT_EQ(trace.find("ann.offsets"), std::string::npos);  // slots need no offset array
}

TEST_F(AnnCli, BadInputNamesTheProblem) {
  const std::string search = "ann search --index idx.tann --queries mixture:10:1 ";
  auto run = run_tool(kTool, search + "--base mixture:3000 --layout fast", dir_->path());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.err, "tessel: ann search: --layout must be packed or plain, got 'fast'\n");
  run = run_tool(kTool, search + "--base mixture:3000 --L 5 -k 10", dir_->path());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.err, "tessel: ann search: --L 5 is smaller than -k 10\n");
  run = run_tool(kTool, search + "--base mixture:2000", dir_->path());
  EXPECT_EQ(run.exit_code, 2);
  // The vectors are loaded (and the load reported) before the index is checked against them.
  const std::string mismatch =
      "tessel: ann search: index idx.tann was built over 3000 x 128 vectors but the base has "
      "2000 x 128\n";
  ASSERT_GE(run.err.size(), mismatch.size()) << run.err;
  EXPECT_EQ(run.err.substr(run.err.size() - mismatch.size()), mismatch);
  std::ofstream(dir_->path() / "bad.tann", std::ios::binary) << "TSLANNG";
  run = run_tool(kTool, "ann search --index bad.tann --base mixture:3000 --queries mixture:10:1",
                 dir_->path());
  EXPECT_EQ(run.exit_code, 4);
  EXPECT_NE(run.err.find("bad.tann"), std::string::npos) << run.err;
  run = run_tool(kTool, search + "--base mixture:3000 --width 0", dir_->path());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--width"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace tessel
