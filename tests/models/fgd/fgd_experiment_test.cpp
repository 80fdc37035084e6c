// The registered `fgd` experiment end to end on a tiny word LM trained in the test: exact limits
// (a beam and a candidate count covering the vocabulary give precision 1) and its config errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "models/fgd/fgd.h"
#include "models/nn/trainer.h"
#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "runtime/core/keys.h"
#include "runtime/core/registry.h"
#include "runtime/core/runner.h"

namespace tessel {
namespace {

namespace fs = std::filesystem;

fs::path dir() {
  static const fs::path d = [] {
    // One folder per process: ctest runs this file's cases in parallel processes, and a
    // shared folder would be removed under a running case.
    const fs::path p =
        fs::temp_directory_path() / ("tessel_fgd_experiment_test_" + std::to_string(::getpid()));
    fs::remove_all(p);
    fs::create_directories(p / "lm");
    std::ofstream(p / "train.yaml")
        << "name: tiny\ntask: lm\n"
           "data: {tokenizer: word, word_vocab: 40, synthetic_chars: 20000}\n"
           "model: {layers: 1, width: 16, heads: 2}\n"
           "train: {batch_size: 2, seq_len: 16, steps: 3, lr: 3.0e-3, threads: 1}\n"
           "eval: {every: 1000, batches: 1}\n";
    nn::Trainer t(nn::TrainConfig::from_config(Config::load((p / "train.yaml").string())),
                  (p / "lm").string());
    t.run(nullptr);
    return p;
  }();
  // Removed when the process exits.
  static const struct Remove {
    fs::path p;
    ~Remove() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } remove{d};
  return d;
}

std::string experiment(const std::string& workload_extra) {
  const fs::path p = dir() / "fgd.yaml";
  std::ofstream(p) << "name: t\nseed: 1\nhw: {model: fgd, entry_points: 4}\n"
                      "workload:\n  train: train.yaml\n  checkpoint: lm/checkpoint.bin\n"
                      "  positions: 64\n  beams: [2, 4, 1000]\n  svd_preview_dim: 4\n"
                      "  svd_candidates: [1000]\n  hnswlib_ef: [1000]\n"
                   << workload_extra;
  return p.string();
}

std::string error_of(const std::string& path) {
  try {
    run_experiment(load_experiment(path));
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(FgdExperiment, CoveringSettingsAreExact) {
  const std::string path = experiment("  K: 10\n  target_precision: 1.0\n");
  // Candidates and ef above the vocabulary would be errors: use the vocabulary itself.
  nn::Trainer t(nn::TrainConfig::from_config(Config::load((dir() / "train.yaml").string())), "");
  const int vocab = t.tokenizer()->vocab_size();
  const std::string v = std::to_string(vocab);
  const SimResult r =
      run_experiment(load_experiment(path, {parse_override("workload.beams=[2, 4, " + v + "]"),
                                            parse_override("workload.svd_candidates=[" + v + "]"),
                                            parse_override("workload.hnswlib_ef=[" + v + "]")}));
  EXPECT_EQ(r.metrics.at("vocab"), vocab);
  EXPECT_EQ(r.metrics.at("positions"), 64);
  // A beam covering the graph, every word as an SVD candidate, ef = vocabulary: exact top-K.
  EXPECT_EQ(r.metrics.at("fgd_precision"), 1.0);
  EXPECT_EQ(r.metrics.at("svd_precision"), 1.0);
  EXPECT_EQ(r.metrics.at("hnswlib_precision"), 1.0);
  // The exact top-10's mass is at most 1 and the perplexity over the positions where the next
  // word is found is at least FGD's (normalising over fewer words raises each probability).
  EXPECT_GT(r.metrics.at("fgd_mass"), 0.0);
  EXPECT_LE(r.metrics.at("fgd_mass"), 1.0 + 1e-9);
  EXPECT_GE(r.metrics.at("ppl_full_found"), r.metrics.at("ppl_fgd_found"));
  EXPECT_NEAR(std::log(r.metrics.at("ppl_full_all")), r.metrics.at("val_loss_full"), 1e-9);
}

TEST(FgdExperiment, BadKAndMissingCheckpointAreClearErrors) {
  std::string e = error_of(experiment("  K: 0\n"));
  EXPECT_NE(e.find("workload.K: expected"), std::string::npos) << e;
  EXPECT_NE(e.find("fgd.yaml:"), std::string::npos) << e;
  e = error_of(experiment("  K: 2000\n"));
  EXPECT_NE(e.find("no entry is >= K = 2000"), std::string::npos) << e;
  const std::string path = experiment("  K: 900\n");
  e = error_of(path);  // 900 <= the beam 1000, above the vocabulary
  EXPECT_NE(e.find("fgd (workload.K): K = 900 exceeds the vocabulary of"), std::string::npos) << e;
  std::string text;
  {
    std::ifstream in(path);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  text.replace(text.find("lm/checkpoint.bin"), 17, "lm/missing.bin");
  std::ofstream(path) << text;
  e = error_of(path);
  EXPECT_NE(e.find("workload.checkpoint: "), std::string::npos) << e;
  EXPECT_NE(e.find("missing.bin does not exist; train it with"), std::string::npos) << e;
}

TEST(FgdExperiment, TyposAreNamedAndDeclaredDefaultsAreTheLibrarys) {
  const std::string e = error_of(experiment("  K: 10\n  positons: 8\n"));
  EXPECT_NE(e.find("workload.positons: unknown key (did you mean 'positions'?)"), std::string::npos)
      << e;
  // What `fgd` uses without a key is what models/fgd's FgdParams holds by default.
  const ModelKeys& keys = Registry::instance().create("fgd")->keys();
  auto def = [&](const std::string& key) { return *keys.hw.find(key)->fallback; };
  const fgd::FgdParams p;
  EXPECT_EQ(def("graph"), p.graph);
  EXPECT_EQ(def("entries"), p.entries);
  EXPECT_EQ(def("layout"), p.packed ? "packed" : "plain");
  EXPECT_EQ(def("codes"), p.codes ? "true" : "false");
  EXPECT_EQ(std::stoll(def("entry_points")), p.entry_points);
  EXPECT_EQ(std::stoull(def("graph_seed")), p.seed);
  EXPECT_EQ(std::stoll(def("hnsw.M")), p.hnsw.M);
  EXPECT_EQ(std::stoll(def("hnsw.max_degree")), p.hnsw.max_degree);
  EXPECT_EQ(std::stoll(def("hnsw.ef_construction")), p.hnsw.ef_construction);
  EXPECT_EQ(std::stoll(def("nsg.knn_k")), p.nsg.knn.k);
  EXPECT_EQ(std::stoll(def("nsg.L")), p.nsg.L);
  EXPECT_EQ(std::stoll(def("nsg.R")), p.nsg.R);
  EXPECT_EQ(std::stoll(def("nsg.C")), p.nsg.C);
}

}  // namespace
}  // namespace tessel
