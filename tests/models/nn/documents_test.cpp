// Classify on labelled documents (data.documents): F1 against a hand-counted confusion
// matrix, the configuration keys and their errors, and a small run on a subset of the
// shared SpamAssassin corpus that must beat chance.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "models/data/archive.h"
#include "models/nn/trainer.h"
#include "runtime/core/error.h"
#include "tests/support/shared_data.h"
#include "tests/support/ustar.h"

namespace tessel::nn {
namespace {

namespace fs = std::filesystem;
using tessel::testing::ustar_file;

const std::string kArchive =
    std::string(TESSEL_SOURCE_DIR) + "/../shared/data/spamassassin/spamassassin.tar.gz";

TEST(Documents, F1MatchesAHandCountedConfusionMatrix) {
  // truth 1 1 1 0 0 0 0 1 / predicted 1 0 1 1 0 0 1 1: TP 3, FN 1, FP 2, TN 2;
  // precision 3/5, recall 3/4, F1 = 2·0.6·0.75 / 1.35 = 2/3.
  const std::vector<int32_t> truth = {1, 1, 1, 0, 0, 0, 0, 1};
  const std::vector<int32_t> pred = {1, 0, 1, 1, 0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(f1_score(truth, pred, 1), 2.0 / 3.0);
  // Class 0: TP 2, FN 2 (3, 6), FP 1 (1): 4 / 7.
  EXPECT_DOUBLE_EQ(f1_score(truth, pred, 0), 4.0 / 7.0);
  EXPECT_DOUBLE_EQ(f1_score({0, 0}, {0, 0}, 1), 0.0);        // 0/0: neither present nor predicted
  EXPECT_DOUBLE_EQ(f1_score({2, 1, 2}, {2, 2, 0}, 2), 0.5);  // TP 1, FP 1, FN 1: 2 / 4
}

std::string yaml(const std::string& archive, const std::string& data_extra = "", int steps = 120) {
  return "task: classify\nseed: 3\ndata:\n  documents: spamassassin\n  archive: " + archive +
         "\n  val_fraction: 0.25\n  test_fraction: 0.1\n" + data_extra +
         "model:\n  layers: 1\n  width: 32\n  heads: 4\ntrain:\n  batch_size: 16\n"
         "  seq_len: 64\n  steps: " +
         std::to_string(steps) +
         "\n  lr: 3.0e-3\n  warmup: 10\n  threads: 1\n  log_every: 1000\neval:\n  every: 1000\n";
}

TEST(Documents, ConfigKeysAndErrors) {
  const TrainConfig c = TrainConfig::from_config(Config::parse(yaml("/x/a.tar.gz"), "d.yaml"));
  EXPECT_EQ(c.documents, "spamassassin");
  EXPECT_EQ(c.archive, "/x/a.tar.gz");
  EXPECT_EQ(c.classes, 2);
  EXPECT_DOUBLE_EQ(c.test_fraction, 0.1);
  EXPECT_EQ(c.split_seed, 2026u);
  EXPECT_EQ(c.archive_source, "d.yaml:5:12: data.archive");
  auto config_error = [](const std::string& text, const std::string& want) {
    try {
      TrainConfig::from_config(Config::parse(text, "d.yaml"));
      ADD_FAILURE() << "no error, wanted " << want;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  std::string too_much = yaml("a.tgz");
  too_much.replace(too_much.find("test_fraction: 0.1"), 18, "test_fraction: 0.8");
  config_error(too_much, "data.val_fraction: val_fraction + test_fraction must be below 1");
  config_error(yaml("a.tgz", "  classes: 3\n"), "data.classes");  // unknown here
  config_error(yaml("a.tgz", "  synthetic_chars: 9\n"), "data.synthetic_chars");
  std::string other = yaml("a.tgz");
  other.replace(other.find("spamassassin"), 12, "enron");
  config_error(other, "data.documents");
  // A missing archive: an IoError (exit 4) naming the key and the path, at construction.
  try {
    Trainer t(TrainConfig::from_config(Config::parse(yaml("/nonexistent/sa.tar.gz"), "d.yaml")),
              "");
    FAIL() << "no error";
  } catch (const IoError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("d.yaml:5:12: data.archive: /nonexistent/sa.tar.gz"), std::string::npos) << m;
  }
}

// The two-class synthetic task reports F1 as well; more classes do not.
TEST(Documents, SyntheticTwoClassesReportF1) {
  for (const int k : {2, 3}) {
    const std::string text =
        "task: classify\ndata:\n  synthetic_chars: 3000\n  classes: " + std::to_string(k) +
        "\nmodel:\n  layers: 1\n  width: 16\n  heads: 2\ntrain:\n"
        "  batch_size: 4\n  seq_len: 16\n  steps: 2\n  lr: 1.0e-3\n";
    Trainer t(TrainConfig::from_config(Config::parse(text, "s.yaml")), "");
    const EvalPoint e = t.run(nullptr).evals.back();
    EXPECT_EQ(e.val_f1 >= 0, k == 2) << k;
  }
}

// 240 ham (easy-ham-1) and 240 spam (spam-2) messages of the shared corpus in a small tar:
// 120 steps of a 1-layer, 32-wide model on 64 characters beat chance on the validation
// split (120 messages, balanced, so chance is 50% ± 4.6% and a majority guess 50%).
TEST(Documents, SmallSpamAssassinSubsetBeatsChance) {
  TESSEL_REQUIRE_SHARED_DATA(kArchive);
  const auto entries = data::read_tar(data::read_maybe_gzip(kArchive), kArchive);
  std::map<std::string, int> taken;
  std::string tar;
  for (const auto& e : entries) {
    const std::string folder = e.name.substr(0, e.name.rfind('/'));
    const bool want = folder.find("easy-ham-1") != std::string::npos ||
                      folder.find("spam-2") != std::string::npos;
    if (want && taken[folder]++ < 240) tar += ustar_file(e.name, e.data);
  }
  tar += std::string(1024, '\0');
  const std::string dir =
      (fs::temp_directory_path() / ("tessel_documents_test_" + std::to_string(::getpid())))
          .string();
  fs::create_directories(dir);
  const std::string path = dir + "/subset.tar";
  std::ofstream(path, std::ios::binary) << tar;

  Trainer t(TrainConfig::from_config(Config::parse(yaml(path), "d.yaml")), dir + "/out");
  ASSERT_NE(t.document_split(), nullptr);
  const auto& s = *t.document_split();
  EXPECT_EQ(s.train.size() + s.val.size() + s.test.size(), 480u);
  EXPECT_NEAR(static_cast<double>(s.val.size()), 120, 2);
  const TrainResult r = t.run(nullptr);
  EXPECT_NEAR(r.losses[0], std::log(2.0), 0.15);
  const EvalPoint& e = r.evals.back();
  EXPECT_GT(e.val_accuracy, 0.75);  // > 5 standard deviations above chance
  EXPECT_GT(e.val_f1, 0.7);
  EXPECT_GE(r.test_accuracy, 0);
  // Outputs: the split by name, its hash and F1 in the summary and the eval log.
  std::ifstream split(dir + "/out/split.txt");
  std::stringstream manifest;
  manifest << split.rdbuf();
  int lines = 0;
  for (const char c : manifest.str()) lines += c == '\n';
  EXPECT_EQ(lines, 480);
  std::ifstream sj(dir + "/out/summary.json");
  const auto summary = nlohmann::json::parse(sj);
  EXPECT_EQ(summary.at("split_hash"), t.split_hash());
  EXPECT_EQ(summary.at("split_hash"), data::fnv1a64_hex(manifest.str()));
  EXPECT_DOUBLE_EQ(summary.at("final_val_f1").get<double>(), e.val_f1);
  std::ifstream ev(dir + "/out/eval.jsonl");
  std::string first;
  std::getline(ev, first);
  EXPECT_NE(first.find("\"val_f1\""), std::string::npos) << first;
  std::printf("  subset: val_acc %.4f val_f1 %.4f test_acc %.4f test_f1 %.4f\n", e.val_accuracy,
              e.val_f1, r.test_accuracy, r.test_f1);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tessel::nn
