// The Zoom study end to end on a small mixture (recall against exact search, baselines present)
// and its configuration / file errors.
#include <gtest/gtest.h>

#include <filesystem>

#include "models/ann/full_view.h"
#include "models/ann/zoom.h"
#include "tests/models/ann/test_util.h"
#include "tests/models/ann/zoom_study.h"

namespace tessel::ann {
namespace {

using testing::error_of;
using testing::run_study;

std::string yaml(const std::string& workload_extra, int threads = 1) {
  return "hw:\n  threads: " + std::to_string(threads) + "\n  build_threads: 1\n" +
         "workload:\n  vectors: \"mixture:3000\"\n  queries: \"mixture:40:1\"\n"
         "  ivf: {nlist: 32, iterations: 6}\n  pq: {m: 16, iterations: 6, train_size: 3000}\n"
         "  nsg: {knn_k: 10, L: 40, R: 16, C: 100, entry_points: 16, search_L: 64}\n"
         "  nprobe: 8\n" +
         workload_extra;
}

TEST(ZoomStudy, SmallMixtureReachesTheRecallOfExactSearchWithItsCandidates) {
  RunContext ctx;
  ctx.cache_dir = testing::temp_path("zoom_study_cache");
  std::filesystem::remove_all(ctx.cache_dir);
  const SimResult r = run_study(yaml("  candidates: 100\n"), ctx);
  // Every metric the issue asks for is present; recall against brute-force exact kNN.
  EXPECT_GE(r.metrics.at("recall"), 0.9);
  EXPECT_EQ(r.metrics.at("recall_direct"), r.metrics.at("recall"));  // same candidates, same file
  EXPECT_GT(r.metrics.at("recall"), r.metrics.at("recall_ivfpq"));   // re-rank helps
  EXPECT_GE(r.metrics.at("recall_nsg"), 0.9);
  for (const char* k : {"qps_cached", "qps_direct", "latency_mean_us_direct", "build_s",
                        "ram_bytes_per_vector", "qps_nsg", "qps_ivfpq", "pages_per_query"})
    EXPECT_GT(r.metrics.at(k), 0) << k;
  // 16 code bytes + 4 id bytes + shared tables over 3000 vectors, against 128 x 4 + graph.
  EXPECT_LT(r.metrics.at("ram_bytes_per_vector"), r.metrics.at("ram_bytes_per_vector_nsg"));
  // 100 candidates of 128-dim vectors, 8 per page: between 100 / 8 and 100 pages.
  EXPECT_GE(r.metrics.at("pages_per_query"), 100.0 / 8);
  EXPECT_LE(r.metrics.at("pages_per_query"), 100.0);
}

TEST(ZoomStudy, BadConfigIsAClearError) {
  auto configure = [](const std::string& text) {
    return error_of([&] {
      const Config root = Config::parse(text, "zoom.yaml");
      ZoomStudy s;
      s.configure(root.child("hw"), root.child("workload"));
    });
  };
  EXPECT_NE(configure(yaml("", 2)).find("hw.threads"), std::string::npos);
  EXPECT_NE(configure(yaml("  candidates: 5\n")).find("fewer candidates than k = 10"),
            std::string::npos);
  EXPECT_NE(configure(yaml("  preview: hnsw\n")).find("workload.preview"), std::string::npos);
  EXPECT_NE(configure(yaml("  full_view: {io: aio}\n")).find("workload.full_view.io"),
            std::string::npos);
  EXPECT_NE(configure(yaml("  candidates: 100\n  preview: nsg\n  L: 50\n"))
                .find("smaller than candidates"),
            std::string::npos);
}

TEST(ZoomStudy, MissingOrForeignFullViewFileFailsAndWritesNothing) {
  RunContext ctx;
  const std::string missing = testing::temp_path("zoom_missing_dir") + "/none.tfv";
  std::filesystem::remove_all(testing::temp_path("zoom_missing_dir"));
  EXPECT_NE(error_of([&] {
              run_study(yaml("  full_view: {file: " + missing + "}\n"), ctx);
            }).find("none.tfv: cannot open"),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(missing));
  // A full view of other vectors (same shape): the index's checksum does not match.
  MixtureSpec other;
  other.seed = 99;
  const std::string foreign = testing::temp_path("zoom_foreign.tfv");
  write_full_view(foreign, gaussian_mixture(other, 3000, 0));
  const auto before = std::filesystem::last_write_time(foreign);
  EXPECT_NE(error_of([&] {
              run_study(yaml("  full_view: {file: " + foreign + "}\n"), ctx);
            }).find("(an index from another data file)"),
            std::string::npos);
  EXPECT_EQ(std::filesystem::last_write_time(foreign), before);
}

TEST(ZoomStudy, DeclaredKeysNameTyposAndStateTheLibrarysDefaults) {
  const Config root = Config::parse(yaml("  nprob: 8\n"), "zoom.yaml");
  const std::string e = error_of([&] { zoom_study_keys().workload.check(root.child("workload")); });
  EXPECT_NE(e.find("workload.nprob: unknown key (did you mean 'nprobe'?)"), std::string::npos) << e;
  // The declared defaults are models/ann's own parameter defaults.
  const KeySet& w = zoom_study_keys().workload;
  auto def = [&](const std::string& key) { return std::stoll(*w.find(key)->fallback); };
  EXPECT_EQ(def("ivf.nlist"), IvfParams{}.nlist);
  EXPECT_EQ(def("ivf.iterations"), IvfParams{}.iterations);
  EXPECT_EQ(def("ivf.train_size"), IvfParams{}.train_size);
  EXPECT_EQ(def("pq.m"), PqParams{}.m);
  EXPECT_EQ(def("pq.iterations"), PqParams{}.iterations);
  EXPECT_EQ(def("pq.train_size"), PqParams{}.train_size);
  EXPECT_EQ(def("full_view.queue_depth"), FullViewOptions{}.queue_depth);
  EXPECT_EQ(def("nsg.R"), NsgParams{}.R);
  EXPECT_EQ(def("nsg.random_edges"), NsgParams{}.random_edges);
  // L's default is computed: max(100, candidates), so 150 candidates need no L with the NSG
  // preview, while an explicit L of 100 is refused.
  auto configure = [](const std::string& text) {
    return error_of([&] {
      const Config r = Config::parse(text, "zoom.yaml");
      ZoomStudy s;
      s.configure(r.child("hw"), r.child("workload"));
    });
  };
  EXPECT_EQ(configure(yaml("  candidates: 150\n  preview: nsg\n")), "(no tessel::Error thrown)");
  EXPECT_NE(configure(yaml("  candidates: 150\n  preview: nsg\n  L: 100\n"))
                .find("smaller than candidates"),
            std::string::npos);
}

}  // namespace
}  // namespace tessel::ann
