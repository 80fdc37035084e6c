// The registered ann.* experiments' declared keys: typos and out-of-range values are named by
// the runner's check, and the defaults the declaration states are the library's own (the graph
// built without a build section equals the one models/ann builds with its default parameters).
#include <gtest/gtest.h>

#include <string>

#include "models/ann/mrng.h"
#include "models/ann/nsg.h"
#include "models/ann/search.h"
#include "models/ann/vectors.h"
#include "runtime/core/config.h"
#include "runtime/core/runner.h"

namespace tessel::ann {
namespace {

PreparedRun prepare(const std::string& hw, const std::string& workload) {
  return prepare_run(Config::parse(hw, "hw.yaml", "hw"),
                     Config::parse(workload, "w.yaml", "workload"), 1);
}

std::string error_of(const std::string& hw, const std::string& workload) {
  try {
    prepare(hw, workload);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

SimResult run(const std::string& hw, const std::string& workload) {
  PreparedRun p = prepare(hw, workload);
  return execute(p);
}

TEST(AnnKeys, TyposAndBadValuesAreNamed) {
  const std::string w = "vectors: \"mixture:100\"\n";
  EXPECT_EQ(error_of("model: ann.nsg\nthread: 2\n", w),
            "hw.yaml:2:1: hw.thread: unknown key (did you mean 'threads'?)");
  EXPECT_EQ(error_of("model: ann.nsg\n", w + "queries: \"mixture:10:1\"\nsearch: {lyout: plain}\n"),
            "w.yaml:3:10: workload.search.lyout: unknown key (did you mean 'layout'?)");
  EXPECT_EQ(
      error_of("model: ann.nsg\n", w + "search: {rerank: -2}\n"),
      "w.yaml:2:18: workload.search.rerank: expected an integer from -1 to 1048576, got \"-2\"");
  // Another builder's section is checked too (one workload serves a sweep over builders).
  EXPECT_EQ(error_of("model: ann.nsg\n", w + "hnsw: {MM: 8}\n"),
            "w.yaml:2:8: workload.hnsw.MM: unknown key (did you mean 'M'?)");
  EXPECT_EQ(error_of("model: ann.hnsw\n", w + "nsg: {knn_k: 8}\n"), "");
  // Keys of other models are unknown here: `k` is ann.exact's, `search.kind` ann.index's.
  EXPECT_NE(error_of("model: ann.nsg\n", w + "k: 5\n").find("workload.k: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of("model: ann.nsg\n", w + "queries: \"mixture:10:1\"\nsearch: {kind: nsg}\n")
                .find("workload.search.kind: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of("model: ann.exact\n", w + "queries: \"mixture:10:1\"\nnsg: {L: 4}\n")
                .find("workload.nsg: model ann.exact builds no index"),
            std::string::npos);
  EXPECT_NE(error_of("model: ann.nsg\n", w + "nsg: {reverse: prune}\n")
                .find("workload.nsg.reverse: expected one of"),
            std::string::npos);
  EXPECT_NE(error_of("model: ann.nsg\n", w + "nsg: {path_candidates: maybe}\n").find("w.yaml:2:"),
            std::string::npos);
  EXPECT_NE(error_of("model: ann.nsg\n", w + "nsg: {path_candidates: maybe}\n")
                .find("workload.nsg.path_candidates"),
            std::string::npos);
  EXPECT_NE(error_of("model: ann.nsg\n", w + "nsg: {slot_fill: 2}\n").find("w.yaml:2:"),
            std::string::npos);
  EXPECT_NE(
      error_of("model: ann.nsg\n", w + "nsg: {slot_fill: 2}\n").find("workload.nsg.slot_fill"),
      std::string::npos);
  EXPECT_EQ(error_of("model: ann.nsg\n", w + "nsg: {rp_trees: 65}\n"),
            "w.yaml:2:17: workload.nsg.rp_trees: expected an integer from 0 to 64, got \"65\"");
  EXPECT_NE(error_of("model: ann.nsg\n", w + "nsg: {reverse_slack: 0.5}\n")
                .find("workload.nsg.reverse_slack"),
            std::string::npos);
  EXPECT_NE(error_of("model: ann.nsg\n", w + "nsg: {entry_points: many}\n")
                .find("workload.nsg.entry_points: expected an integer from 0 to"),
            std::string::npos);
}

// Defaults: the build without a section, with the section stating the declared defaults, and
// models/ann's builder called with its own default parameters give the same graph.
TEST(AnnKeys, DefaultBuildIsTheLibrarysDefault) {
  const std::string hw = "model: ann.nsg\nbuild_threads: 1\n";
  const std::string w = "vectors: \"mixture:600\"\n";
  const SimResult absent = run(hw, w);
  const SimResult stated = run(
      hw, w + "nsg: {knn_k: 20, rp_trees: 4, L: 40, R: 32, C: 500, passes: 1, entry_points: auto, "
              "random_edges: 8, recall_sample: 1000, reverse: auto, reverse_slack: 1.25}\n");
  MixtureSpec m;
  m.seed = 2026;
  NsgParams p;
  p.threads = 1;
  const Graph g = build_nsg(gaussian_mixture(m, 600, 0), p);
  EXPECT_EQ(absent.metrics.at("edges"), static_cast<double>(g.edge_count()));
  EXPECT_EQ(stated.metrics.at("edges"), absent.metrics.at("edges"));
  EXPECT_EQ(absent.metrics.at("entry"), g.entry);

  const SimResult hnsw = run("model: ann.hnsw\nbuild_threads: 1\n", w);
  const Graph h = build_hnsw_flat(gaussian_mixture(m, 600, 0), HnswParams{});
  EXPECT_EQ(hnsw.metrics.at("edges"), static_cast<double>(h.edge_count()));

  // The search's declared L and k are SearchParams' defaults.
  const SimResult searched = run(hw, w + "queries: \"mixture:20:1\"\nsearch: {}\n");
  EXPECT_EQ(searched.metrics.at("L"), SearchParams{}.L);
  EXPECT_EQ(searched.metrics.at("k"), SearchParams{}.k);

  // A batch over two threads finds what one thread finds, and reports queries per CPU-second
  // of all its threads; with one thread that is the searching thread's own rate.
  const std::string q = "queries: \"mixture:200:1\"\nsearch: {recall: true}\n";
  const SimResult one = run(hw + "threads: 1\n", w + q), two = run(hw + "threads: 2\n", w + q);
  EXPECT_EQ(one.metrics.at("recall"), two.metrics.at("recall"));
  EXPECT_GT(two.metrics.at("qps_per_core"), 0);
  EXPECT_EQ(two.metrics.count("qps_cpu"), 0u);
  EXPECT_GT(one.metrics.at("qps_per_core"), one.metrics.at("qps_cpu") / 1.5);
  EXPECT_LT(one.metrics.at("qps_per_core"), one.metrics.at("qps_cpu") * 1.5);
}

}  // namespace
}  // namespace tessel::ann
