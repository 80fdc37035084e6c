// `tessel train` end to end through the tool: outputs, refusal to clobber
// a checkpoint, --resume, --set, and exit codes for bad configs and missing data.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace {

namespace fs = std::filesystem;

struct CliRun {
  int code;
  std::string out;
};

CliRun run(const std::string& args) {
  const std::string log =
      (fs::temp_directory_path() / ("nn_cli_" + std::to_string(::getpid()) + ".log")).string();
  const std::string cmd =
      std::string(TESSEL_BINARY_DIR) + "/tessel_fault_tool " + args + " > " + log + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream s;
  s << in.rdbuf();
  fs::remove(log);
  return {WEXITSTATUS(status), s.str()};
}

class TrainCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("nn_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "tiny.yaml") << "name: tiny\ndata:\n  synthetic_chars: 5000\nmodel:\n"
                                         "  layers: 1\n  width: 16\n  heads: 2\ntrain:\n"
                                         "  batch_size: 4\n  seq_len: 16\n  steps: 6\n"
                                         "  lr: 1.0e-3\n  threads: 1\n  log_every: 2\n"
                                         "eval:\n  every: 3\n  batches: 1\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string cfg() const { return (dir_ / "tiny.yaml").string(); }
  std::string out() const { return (dir_ / "out").string(); }
  fs::path dir_;
};

TEST_F(TrainCommand, TrainsWritesOutputsAndRefusesToClobber) {
  CliRun r = run("train " + cfg() + " --out " + out());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("step 6/6"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tok/s"), std::string::npos);
  EXPECT_NE(r.out.find("ETA"), std::string::npos);
  EXPECT_NE(r.out.find("eval  step 6"), std::string::npos);
  EXPECT_NE(r.out.find("\nschedule: lr 1.00e-03, cosine decay to 1.00e-04 by step 6\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(" tokens/s excluding evaluation and checkpoints"), std::string::npos)
      << r.out;
  std::ifstream in(fs::path(out()) / "summary.json");
  const auto s = nlohmann::json::parse(in);
  EXPECT_EQ(s.at("steps"), 6);
  EXPECT_TRUE(fs::exists(fs::path(out()) / "checkpoint.bin"));

  r = run("train " + cfg() + " --out " + out());
  EXPECT_EQ(r.code, 4) << r.out;  // IoError: would overwrite the checkpoint
  EXPECT_NE(r.out.find("--resume"), std::string::npos);

  // --set raises the step count; --resume continues from step 6.
  r = run("train " + cfg() + " --out " + out() + " --resume --set train.steps=8");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("resumed at step 6"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("step 8/8"), std::string::npos) << r.out;
}

TEST_F(TrainCommand, BadConfigAndMissingDataExitCodes) {
  std::ofstream(dir_ / "typo.yaml") << "model:\n  layers: 1\n  width: 16\n  heads: 2\n"
                                       "  widht: 3\ntrain:\n  batch_size: 2\n  seq_len: 8\n"
                                       "  steps: 1\n  lr: 1.0e-3\n";
  CliRun r = run("train " + (dir_ / "typo.yaml").string() + " --out " + out());
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("typo.yaml:5:"), std::string::npos) << r.out;
  std::ofstream(dir_ / "missing.yaml") << "data:\n  corpus: nowhere/input.txt\nmodel:\n"
                                          "  layers: 1\n  width: 16\n  heads: 2\ntrain:\n"
                                          "  batch_size: 2\n  seq_len: 8\n  steps: 1\n"
                                          "  lr: 1.0e-3\n";
  r = run("train " + (dir_ / "missing.yaml").string() + " --out " + out());
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_NE(r.out.find("nowhere/input.txt"), std::string::npos) << r.out;
}

// A training file copied away from its corpus names the path it tried, in full, and where
// the relative path was taken from; a seq_len the corpus cannot fill names the key and the
// corpus length. Both before anything is written.
TEST_F(TrainCommand, CorpusAndSeqLenErrorsNameWhatWasTried) {
  fs::create_directories(dir_ / "copy");
  const std::string body =
      "model:\n  layers: 1\n  width: 16\n  heads: 2\ntrain:\n  batch_size: 2\n"
      "  seq_len: 16\n  steps: 1\n  lr: 1.0e-3\n";
  const std::string copied = (dir_ / "copy" / "t.yaml").string();
  std::ofstream(copied) << "data:\n  corpus: ../../data/input.txt\n" << body;
  CliRun r = run("train " + copied + " --out " + out());
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_EQ(r.out, "tessel: " + copied + ":2:11: data.corpus: cannot open corpus file " +
                       dir_.parent_path().string() +
                       "/data/input.txt (No such file or directory); the relative path "
                       "\"../../data/input.txt\" is taken from the folder of " +
                       copied + ", " + (dir_ / "copy").string() + "\n");
  EXPECT_FALSE(fs::exists(out()));

  std::ofstream(dir_ / "copy" / "small.txt") << "abcdefgh\n";
  std::ofstream(copied) << "data:\n  corpus: small.txt\n" << body;
  r = run("train " + copied + " --out " + out());
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_EQ(r.out, "tessel: " + copied +
                       ":9:12: train.seq_len: 16 needs seq_len + 1 = 17 tokens in the training "
                       "and in the validation split, but corpus " +
                       (dir_ / "copy" / "small.txt").string() +
                       " has 9 characters: 8 for training, 1 for validation "
                       "(data.val_fraction 0.1)\n");
  EXPECT_FALSE(fs::exists(out()));
}

}  // namespace
