// The registered experiments nm_sparsify.admm and nm_sparsify.asp through the tool: a dense
// checkpoint from `tessel train` is sparsified, result.json, admm.jsonl and the mask files
// come out and satisfy the pattern; bad inputs exit 3 or 4 naming file and key, and write
// nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "models/common/npy.h"
#include "models/data/archive.h"
#include "models/nn/checkpoint.h"
#include "models/sparse/mask_io.h"
#include "tests/support/shared_data.h"
#include "tests/support/tool.h"
#include "tests/support/ustar.h"

namespace {

namespace fs = std::filesystem;
using tessel::testing::read_text;
using tessel::testing::run_tool;
using tessel::testing::TempDir;
using tessel::testing::ustar_file;
using tessel::testing::write_text;

const std::string kTool = std::string(TESSEL_BINARY_DIR) + "/tessel_fault_tool";

std::string training_file(int width) {
  return "data:\n  synthetic_chars: 5000\nmodel:\n  layers: 1\n  width: " + std::to_string(width) +
         "\n  heads: 2\ntrain:\n  batch_size: 4\n  seq_len: 16\n  steps: 30\n"
         "  lr: 3.0e-3\n  threads: 1\n  log_every: 10\neval:\n  every: 15\n  batches: 1\n";
}

// A dense checkpoint of the tiny model, trained by `tessel train` (shared by the tests).
class NmSparsifyCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    write_text(dir_.path() / "dense.yaml", training_file(16));
    const auto r = run_tool(kTool, "train dense.yaml --out dense", dir_.path().string());
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  // Experiment `name` with the training file plus `sparsify` as its workload.
  void write_experiment(const std::string& name, const std::string& model,
                        const std::string& sparsify, int width = 16) {
    write_text(dir_.path() / (name + "_w.yaml"), training_file(width) + "sparsify:\n" + sparsify);
    write_text(dir_.path() / (name + ".yaml"), "name: " + name + "\nseed: 1\nhw:\n  model: " +
                                                   model + "\nworkload: " + name + "_w.yaml\n");
  }
  tessel::testing::ToolRun run(const std::string& name) {
    return run_tool(kTool, "run " + name + ".yaml --out " + name, dir_.path().string());
  }
  nlohmann::json result(const std::string& name) {
    return nlohmann::json::parse(read_text(dir_.path() / name / "result.json"));
  }
  TempDir dir_;
};

TEST_F(NmSparsifyCommand, AdmmAndAspRunFromADenseCheckpointAndExportMasks) {
  write_experiment("admm", "nm_sparsify.admm",
                   "  pattern: \"2:4\"\n  init: dense/checkpoint.bin\n  admm:\n    steps: 20\n"
                   "    interval: 5\n    rho: 1.0\n    rho_growth: 1.5\n  distill:\n"
                   "    temperature: 2\n    alpha: 0.5\n");
  auto r = run("admm");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  nlohmann::json j = result("admm");
  EXPECT_EQ(j["metrics"]["steps"], 30);
  EXPECT_EQ(j["metrics"]["admm_updates"], 4);
  EXPECT_EQ(j["metrics"]["zero_fraction"], 0.5);
  EXPECT_EQ(j["metrics"]["sparsified_params"], 16 * 48 + 16 * 16 + 16 * 64 * 2);
  EXPECT_EQ(j["labels"]["distill"], "yes");
  ASSERT_EQ(j["checks"].size(), 1u);
  EXPECT_TRUE(j["checks"][0]["passed"].get<bool>()) << j.dump(2);
  const std::string admm = read_text(dir_.path() / "admm" / "admm.jsonl");
  EXPECT_EQ(std::count(admm.begin(), admm.end(), '\n'), 4);
  EXPECT_EQ(nlohmann::json::parse(admm.substr(0, admm.find('\n')))["step"], 4);
  for (const char* layer : {"h0.w_qkv", "h0.w_proj", "h0.w_fc", "h0.w_fc2"}) {
    const auto m = tessel::sparse::load_mask(
        (dir_.path() / "admm" / "masks" / (std::string(layer) + ".mask")).string());
    EXPECT_EQ(m.pattern, (tessel::sparse::Pattern{2, 4})) << layer;
    EXPECT_EQ(m.mask.kept() * 2, m.mask.rows * m.mask.cols) << layer;
  }
  EXPECT_EQ(j["artifacts"]["mask:h0.w_qkv"], "masks/h0.w_qkv.mask");
  // The final weights as out x K float32 arrays: the checkpoint's [in, out] values
  // transposed, zero exactly where the mask file prunes.
  const tessel::nn::Checkpoint ck =
      tessel::nn::read_checkpoint((dir_.path() / "admm" / "checkpoint.bin").string());
  int64_t offset = 0;
  int checked = 0;
  for (const auto& info : ck.params) {
    const std::string name = info["name"];
    const int64_t rows = info["rows"], cols = info["cols"];
    if (name.rfind("h0.w_", 0) == 0) {
      EXPECT_EQ(j["artifacts"]["weights:" + name], "weights/" + name + ".npy");
      const tessel::NpyArray a =
          tessel::read_npy((dir_.path() / "admm" / "weights" / (name + ".npy")).string());
      ASSERT_EQ(a.shape, (std::vector<int64_t>{cols, rows})) << name;
      EXPECT_EQ(a.descr, "<f4");
      const auto m =
          tessel::sparse::load_mask((dir_.path() / "admm" / "masks" / (name + ".mask")).string());
      for (int64_t o = 0; o < cols; ++o)
        for (int64_t k = 0; k < rows; ++k) {
          const float w = ck.values[static_cast<std::size_t>(offset + k * cols + o)];
          const float got = a.data[static_cast<std::size_t>(o * rows + k)];
          ASSERT_EQ(got, w) << name << " " << o << "," << k;
          if (!m.mask(o, k)) {
            ASSERT_EQ(got, 0.0f) << name << " " << o << "," << k;
          }
        }
      ++checked;
    }
    offset += rows * cols;
  }
  EXPECT_EQ(checked, 4);
  EXPECT_EQ(j["artifacts"]["admm_state"], "admm_state.bin");

  write_experiment("asp", "nm_sparsify.asp", "  pattern: \"1:4\"\n  init: dense/checkpoint.bin\n");
  r = run("asp");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  j = result("asp");
  EXPECT_EQ(j["metrics"]["zero_fraction"], 0.75);
  EXPECT_FALSE(j["metrics"].contains("admm_updates"));
  EXPECT_TRUE(j["checks"][0]["passed"].get<bool>());
  EXPECT_FALSE(fs::exists(dir_.path() / "asp" / "admm.jsonl"));
}

// Spam vs ham (a 160-message subset of the shared SpamAssassin corpus): the sparsify
// experiments report every metric the trainer does, with the values summary.json holds.
TEST_F(NmSparsifyCommand, SpamClassifyReportsTheTrainersMetrics) {
  const std::string archive =
      std::string(TESSEL_SOURCE_DIR) + "/../shared/data/spamassassin/spamassassin.tar.gz";
  TESSEL_REQUIRE_SHARED_DATA(archive);
  std::map<std::string, int> taken;
  std::string tar;
  for (const auto& e : tessel::data::read_tar(tessel::data::read_maybe_gzip(archive), archive)) {
    const std::string folder = e.name.substr(0, e.name.rfind('/'));
    if ((folder.find("easy-ham-1") != std::string::npos ||
         folder.find("spam-2") != std::string::npos) &&
        taken[folder]++ < 80)
      tar += ustar_file(e.name, e.data);
  }
  tar += std::string(1024, '\0');
  write_text(dir_.path() / "subset.tar", tar);
  for (const char* model : {"nm_sparsify.admm", "nm_sparsify.asp"}) {
    const std::string name = std::string(model).substr(12);
    write_text(dir_.path() / (name + "_spam_w.yaml"),
               "task: classify\ndata:\n  documents: spamassassin\n  archive: subset.tar\n"
               "  val_fraction: 0.25\n  test_fraction: 0.2\nmodel:\n  layers: 1\n  width: 16\n"
               "  heads: 2\ntrain:\n  batch_size: 8\n  seq_len: 32\n  steps: 12\n"
               "  lr: 3.0e-3\n  threads: 1\neval:\n  every: 6\n  batches: 2\nsparsify:\n"
               "  pattern: \"2:4\"\n" +
                   std::string(name == "admm" ? "  admm:\n    steps: 8\n    interval: 4\n" : ""));
    write_text(dir_.path() / (name + "_spam.yaml"),
               "name: s\nseed: 2\nhw:\n  model: " + std::string(model) + "\nworkload: " + name +
                   "_spam_w.yaml\n");
    const auto r = run(name + "_spam");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const nlohmann::json j = result(name + "_spam");
    const nlohmann::json summary =
        nlohmann::json::parse(read_text(dir_.path() / (name + "_spam") / "summary.json"));
    for (const char* key :
         {"val_f1", "test_accuracy", "test_f1", "val_accuracy", "tokens", "cpu_s", "parameters"})
      EXPECT_TRUE(j["metrics"].contains(key)) << model << " " << key;
    EXPECT_EQ(j["metrics"]["val_f1"], summary["final_val_f1"]) << model;
    EXPECT_EQ(j["metrics"]["val_accuracy"], summary["final_val_accuracy"]) << model;
    EXPECT_EQ(j["metrics"]["test_accuracy"], summary["test_accuracy"]) << model;
    EXPECT_EQ(j["metrics"]["test_f1"], summary["test_f1"]) << model;
    EXPECT_EQ(j["labels"]["split_hash"], summary["split_hash"]) << model;
    EXPECT_EQ(j["labels"]["task"], "classify");
    EXPECT_EQ(j["artifacts"]["split"], "split.txt");
    EXPECT_TRUE(fs::exists(dir_.path() / (name + "_spam") / "split.txt"));
  }
}

// Through the tool: a run stopped by its time budget after step 1 (train.max_seconds
// 1e-9 always stops there) fails its nm_pattern check and writes no masks; run again into
// the same folder it continues from checkpoint.bin + admm_state.bin and ends with the
// weights and admm.jsonl of an uninterrupted run, byte for byte. Once inside ADMM (Z from
// the starting weights, not the step-1 ones), once inside a dense phase.
TEST_F(NmSparsifyCommand, StoppedRunContinuesExactlyWhenRunAgain) {
  for (const std::string dense : {"", "  dense_steps: 4\n"}) {
    write_experiment("resume", "nm_sparsify.admm",
                     "  pattern: \"2:4\"\n" + dense +
                         "  admm:\n    steps: 20\n    interval: 5\n    rho: 1.0\n"
                         "    rho_growth: 1.5\n");
    fs::remove_all(dir_.path() / "straight");
    fs::remove_all(dir_.path() / "stopped");
    auto r = run_tool(kTool, "run resume.yaml --out straight", dir_.path().string());
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    r = run_tool(kTool, "run resume.yaml --out stopped --set workload.train.max_seconds=1e-9",
                 dir_.path().string());
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    const nlohmann::json check = result("stopped")["checks"][0];
    EXPECT_FALSE(check["passed"].get<bool>());
    EXPECT_EQ(check["detail"],
              "the run stopped after step 1, before the hard projection; resume it to finish");
    EXPECT_FALSE(fs::exists(dir_.path() / "stopped" / "masks"));
    EXPECT_TRUE(fs::exists(dir_.path() / "stopped" / "admm_state.bin"));
    r = run_tool(kTool, "run resume.yaml --out stopped", dir_.path().string());
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE((r.out + r.err).find("resumed at step 1"), std::string::npos) << r.out << r.err;
    EXPECT_EQ(result("stopped")["metrics"]["resumed_from_step"], 1);
    const std::string admm = read_text(dir_.path() / "straight" / "admm.jsonl");
    EXPECT_EQ(std::count(admm.begin(), admm.end(), '\n'), 4);
    EXPECT_EQ(read_text(dir_.path() / "stopped" / "admm.jsonl"), admm) << dense;
    for (const char* layer : {"h0.w_qkv", "h0.w_proj", "h0.w_fc", "h0.w_fc2"}) {
      const fs::path w = fs::path("weights") / (std::string(layer) + ".npy");
      EXPECT_EQ(read_text(dir_.path() / "stopped" / w), read_text(dir_.path() / "straight" / w))
          << layer << " " << dense;
    }
  }
}

// nm_sparsify.dense, a study's upper reference: the same run from sparsify.init, nothing
// pruned. At a learning rate of 1e-12 AdamW moves no weight by more than ~1e-12, so its
// final weights must be the trained dense checkpoint's (the seeded initialisation is far
// from them).
TEST_F(NmSparsifyCommand, DenseReferenceStartsFromTheCheckpointAndPrunesNothing) {
  write_experiment("ref", "nm_sparsify.dense", "  init: dense/checkpoint.bin\n");
  auto r = run_tool(kTool,
                    "run ref.yaml --out ref --set workload.train.lr=1e-12 "
                    "--set workload.train.min_lr=1e-12",
                    dir_.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const nlohmann::json j = result("ref");
  EXPECT_EQ(j["labels"]["method"], "dense");
  EXPECT_EQ(j["metrics"]["steps"], 30);
  const auto start = tessel::nn::read_checkpoint((dir_.path() / "dense/checkpoint.bin").string());
  const auto end = tessel::nn::read_checkpoint((dir_.path() / "ref/checkpoint.bin").string());
  ASSERT_EQ(start.values.size(), end.values.size());
  double max_diff = 0;
  int64_t zeros = 0;
  for (std::size_t i = 0; i < start.values.size(); ++i) {
    max_diff = std::max(max_diff, static_cast<double>(std::fabs(start.values[i] - end.values[i])));
    zeros += end.values[i] == 0.0f;
  }
  EXPECT_LT(max_diff, 1e-9);
  EXPECT_LT(zeros, 100);  // nothing pruned (LayerNorm biases may start at zero)
  // Only sparsify.init is declared: anything else is a configuration error naming the key.
  write_experiment("extra", "nm_sparsify.dense",
                   "  init: dense/checkpoint.bin\n  pattern: \"2:4\"\n");
  r = run("extra");
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("extra_w.yaml:19:3: workload.sparsify.pattern: unknown key"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir_.path() / "extra" / "result.json"));
}

TEST_F(NmSparsifyCommand, BadInputsExitWithTheKeyAndWriteNothing) {
  // A pattern that does not divide a layer (width 12, M = 8): exit 3, file:line:col and key.
  write_experiment("divide", "nm_sparsify.asp", "  pattern: \"2:8\"\n", 12);
  auto r = run("divide");
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("divide_w.yaml:18:12: workload.sparsify.pattern: 2:8 does not divide layer "
                       "h0.w_qkv: its reduction dimension is 12, not a multiple of M = 8"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir_.path() / "divide" / "result.json"));
  EXPECT_FALSE(fs::exists(dir_.path() / "divide" / "checkpoint.bin"));
  // N >= M.
  write_experiment("nm", "nm_sparsify.asp", "  pattern: \"4:4\"\n");
  r = run("nm");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(
      r.err.find(
          "nm_w.yaml:18:12: workload.sparsify.pattern: N:M pattern 4:4: need 1 <= N < M <= 16"),
      std::string::npos)
      << r.err;
  // A checkpoint of another shape (the width-16 model into a width-32 one).
  write_experiment("shape", "nm_sparsify.asp", "  init: dense/checkpoint.bin\n", 32);
  r = run("shape");
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(
      r.err.find("shape_w.yaml:18:9: workload.sparsify.init: dense/checkpoint.bin: parameter 0 is "
                 "wte [42, 16], the configured model has wte [42, 32]"),
      std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir_.path() / "shape" / "checkpoint.bin"));
  // The same shapes in the other block layout (the pre-LN dense model into a post-LN one).
  write_experiment("layout", "nm_sparsify.asp", "  init: dense/checkpoint.bin\n");
  std::string post = read_text(dir_.path() / "layout_w.yaml");
  post.replace(post.find("  heads: 2\n"), 11, "  heads: 2\n  layout: post_ln\n");
  write_text(dir_.path() / "layout_w.yaml", post);
  r = run("layout");
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("workload.sparsify.init: dense/checkpoint.bin: checkpoint holds a pre_ln "
                       "model, the configured model is post_ln (model.layout)"),
            std::string::npos)
      << r.err;
  // A missing checkpoint: exit 4 naming the file.
  write_experiment("missing", "nm_sparsify.asp", "  init: nowhere/checkpoint.bin\n");
  r = run("missing");
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_NE(r.err.find("nowhere/checkpoint.bin"), std::string::npos) << r.err;
  // The model name chooses the method.
  write_experiment("method", "nm_sparsify.asp", "  method: admm\n");
  r = run("method");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(
      r.err.find("method_w.yaml:18:11: workload.sparsify.method: the model name (nm_sparsify.admm "
                 "or nm_sparsify.asp) chooses the method"),
      std::string::npos)
      << r.err;
}

}  // namespace
