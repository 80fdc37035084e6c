// The registered experiments nm_sparsify.admm and nm_sparsify.asp through the tool: a dense
// checkpoint from `tessel train` is sparsified, result.json, admm.jsonl and the mask files
// come out and satisfy the pattern; bad inputs exit 3 or 4 naming file and key, and write
// nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "models/sparse/mask_io.h"
#include "tests/support/tool.h"

namespace {

namespace fs = std::filesystem;
using tessel::testing::read_text;
using tessel::testing::run_tool;
using tessel::testing::TempDir;
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

  write_experiment("asp", "nm_sparsify.asp", "  pattern: \"1:4\"\n  init: dense/checkpoint.bin\n");
  r = run("asp");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  j = result("asp");
  EXPECT_EQ(j["metrics"]["zero_fraction"], 0.75);
  EXPECT_FALSE(j["metrics"].contains("admm_updates"));
  EXPECT_TRUE(j["checks"][0]["passed"].get<bool>());
  EXPECT_FALSE(fs::exists(dir_.path() / "asp" / "admm.jsonl"));
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
