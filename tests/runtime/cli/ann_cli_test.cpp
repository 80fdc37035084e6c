// `tessel ann build|search` end to end: an index file, both layouts, traces, and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>

#include "models/ann/nsg.h"
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

// n vectors of dim floats as fvecs bytes, and the FNV-1a 64 of n (int64), dim (int32) and the
// floats' bits, the base checksum docs/ann.md specifies, computed here from the values.
struct Fvecs {
  std::string bytes;
  uint64_t checksum = 0xcbf29ce484222325ull;
};
Fvecs make_fvecs(int n, int dim, float bump) {
  Fvecs f;
  auto le = [](uint64_t v, int width, std::string& out) {
    for (int k = 0; k < width; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xFF));
  };
  std::string hashed;
  le(static_cast<uint64_t>(n), 8, hashed);
  le(static_cast<uint64_t>(dim), 4, hashed);
  for (int i = 0; i < n; ++i) {
    le(static_cast<uint64_t>(dim), 4, f.bytes);
    for (int d = 0; d < dim; ++d) {
      float x =
          static_cast<float>(std::sin(0.37 * i + 1.3 * d)) + (i == n - 1 && d == 0 ? bump : 0);
      uint32_t bits;
      std::memcpy(&bits, &x, 4);
      le(bits, 4, f.bytes);
      le(bits, 4, hashed);
    }
  }
  for (unsigned char c : hashed) f.checksum = (f.checksum ^ c) * 0x100000001b3ull;
  return f;
}

std::string hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

TEST(AnnCliBase, IndexRefusesABaseOfTheSameShapeWithOtherContent) {
  TempDir dir;
  const Fvecs a = make_fvecs(300, 8, 0), b = make_fvecs(300, 8, 0.5f);
  std::ofstream(dir.path() / "a.fvecs", std::ios::binary) << a.bytes;
  std::ofstream(dir.path() / "B.FVEC", std::ios::binary) << b.bytes;  // upper case, short name
  auto run = run_tool(kTool, "ann build --base a.fvecs --kind mrng -j 1 -o a.tann", dir.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string queries = " --queries a.fvecs --queries-rows 0:20 --L 20 -k 5";
  run = run_tool(kTool, "ann search --index a.tann --base B.FVEC" + queries, dir.path());
  EXPECT_EQ(run.exit_code, 2);
  const std::string refused =
      "tessel: ann search: index a.tann was built from another base: "
      "B.FVEC has the same shape but other content (checksum " +
      hex16(b.checksum) + ", the index records " + hex16(a.checksum) + ")\n";
  ASSERT_GE(run.err.size(), refused.size()) << run.err;
  EXPECT_EQ(run.err.substr(run.err.size() - refused.size()), refused);

  run = run_tool(kTool, "ann search --index a.tann --base a.fvecs --recall" + queries, dir.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("mrng search (packed): 20 queries"), std::string::npos) << run.out;
  EXPECT_EQ(run.err.find("warning"), std::string::npos) << run.err;

  // A version 1 index (no checksum field) still searches, with a one-line warning.
  std::string v2 = read_text(dir.path() / "a.tann");
  std::string v1 = v2.substr(0, 40) + v2.substr(48, v2.size() - 48 - 8);
  v1[8] = 1;
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : v1) h = (h ^ c) * 0x100000001b3ull;
  for (int k = 0; k < 8; ++k) v1.push_back(static_cast<char>((h >> (8 * k)) & 0xFF));
  std::ofstream(dir.path() / "old.tann", std::ios::binary) << v1;
  run = run_tool(kTool, "ann search --index old.tann --base B.FVEC" + queries, dir.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("warning: old.tann records no base checksum; B.FVEC is not verified "
                         "against it\n"),
            std::string::npos)
      << run.err;
}

// Builder parameters the command line does not give take the library's defaults
// (models/ann/nsg.h NsgParams): the index equals one built with every default spelled out, and
// differs when one of them (C) is changed. The CLI once kept a stale copy (C 300, not 500).
TEST(AnnCliDefaults, UnsetBuilderParametersAreTheLibrarysDefaults) {
  TempDir dir;
  const ann::NsgParams d;
  const std::string base = "ann build --base mixture:2000 -j 1 --recall-sample 0 ";
  const std::string spelled =
      "--knn-k " + std::to_string(d.knn.k) + " --L " + std::to_string(d.L) + " --R " +
      std::to_string(d.R) + " --passes " + std::to_string(d.passes) + " --random-edges " +
      std::to_string(d.random_edges) +
      " --alpha 1 --entry-points auto --path-candidates true --slot-fill true ";
  auto run = run_tool(kTool, base + "-o plain.tann", dir.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  run = run_tool(kTool, base + spelled + "--C " + std::to_string(d.C) + " -o spelled.tann",
                 dir.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  run = run_tool(kTool, base + spelled + "--C " + std::to_string(d.C / 4) + " -o other.tann",
                 dir.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string plain = read_text(dir.path() / "plain.tann");
  ASSERT_FALSE(plain.empty());
  EXPECT_EQ(plain, read_text(dir.path() / "spelled.tann"));
  EXPECT_NE(plain, read_text(dir.path() / "other.tann"));
}

TEST_F(AnnCli, FlagsAreCheckedBeforeAnyFileIsLoaded) {
  // Every file named here is missing: the flag error must come first.
  auto run = run_tool(kTool,
                      "ann search --kind nsgg --index none.tann --base none.fvecs --queries "
                      "none.fvecs",
                      dir_->path());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.err, "tessel: ann search: --kind must be nsg, hnsw or mrng, got 'nsgg'\n");
  run = run_tool(kTool, "ann build --kind hnsww --base none.fvecs -o x.tann", dir_->path());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.err, "tessel: ann build: --kind must be nsg, hnsw or mrng, got 'hnsww'\n");
  run = run_tool(kTool, "ann build --entry-points many --base none.fvecs -o x.tann", dir_->path());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--entry-points: must be auto or an integer from 0 to 1000000, got many"),
            std::string::npos)
      << run.err;
  run = run_tool(kTool, "ann build --reverse prune --base none.fvecs -o x.tann", dir_->path());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--reverse: prune not in {auto,reprune,append,fill,slack}"),
            std::string::npos)
      << run.err;
  run = run_tool(kTool, "ann build --rp-trees 65 --base none.fvecs -o x.tann", dir_->path());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--rp-trees"), std::string::npos) << run.err;
  run = run_tool(kTool, "ann build --path-candidates maybe --base none.fvecs -o x.tann",
                 dir_->path());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--path-candidates"), std::string::npos) << run.err;
  run = run_tool(kTool, "ann build --slot-fill maybe --base none.fvecs -o x.tann", dir_->path());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--slot-fill"), std::string::npos) << run.err;
  run = run_tool(kTool, "ann build --reverse-slack 0.5 --base none.fvecs -o x.tann", dir_->path());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--reverse-slack"), std::string::npos) << run.err;
  // Input files are checked before the base is loaded (no "loaded" line).
  const std::string search =
      "ann search --index idx.tann --base mixture:3000 --queries "
      "mixture:10:1 ";
  run = run_tool(kTool, search + "--truth none.ivecs", dir_->path());
  EXPECT_EQ(run.exit_code, 4);
  EXPECT_EQ(run.err, "tessel: ann search: --truth none.ivecs: no such file\n");
  run = run_tool(kTool, "ann search --index none.tann --base mixture:3000 --queries mixture:10:1",
                 dir_->path());
  EXPECT_EQ(run.exit_code, 4);
  EXPECT_EQ(run.err, "tessel: ann search: --index none.tann: no such file\n");
  // A valid --kind that the index does not match fails after reading the index, before the base.
  run = run_tool(kTool, search + "--kind hnsw", dir_->path());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.err,
            "tessel: ann search: index idx.tann holds a graph built by nsg, not by hnsw\n");
  run = run_tool(kTool, search + "--kind nsg", dir_->path());
  EXPECT_EQ(run.exit_code, 0) << run.err;
}

}  // namespace
}  // namespace tessel
