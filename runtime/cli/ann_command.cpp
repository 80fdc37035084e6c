// `tessel ann build|search`: front ends that run the registered experiments ann.nsg /
// ann.hnsw / ann.mrng (build, write the index) and ann.index (search an index file).
#include "runtime/cli/ann_command.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/cli/cli_checks.h"
#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "runtime/core/runner.h"

namespace tessel::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A vector source on the command line: a file (.fvecs, .bvecs, .npy, or an IDX image file such
// as MNIST's, gzipped or not; docs/ann.md: the format comes from the content where it can) or
// `mixture:<n>[:<stream>]` for the seeded synthetic set; optionally restricted to rows `begin:end`.
struct Source {
  std::string spec;
  std::string rows;
  uint64_t seed = 2026;

  void put(json& workload, const std::string& key) const {
    workload[key] = spec;
    if (!rows.empty()) workload[key + "_rows"] = rows;
  }
};

// Build and search parameters with the experiments' defaults (models/ann/ann_experiment.cpp).
struct BuildOptions {
  Source base;
  std::string kind = "nsg", out;
  // The builder's parameters go to the experiment only when given (`given` holds their
  // keys), so an unset one takes the experiment's default, which is the library's
  // (test AnnKeys.DefaultBuildIsTheLibrarysDefault); a copy here went stale once (C 300
  // against the library's 500).
  int knn_k = 0, rp_trees = 0, L = 0, R = 0, C = 0, passes = 0, random_edges = 0;
  double alpha = 0, reverse_slack = 0;
  bool path_candidates = true, slot_fill = true;
  std::string entry_points, reverse;
  int M = 0, max_degree = 0, ef = 0;
  std::set<std::string> given;
  int threads = 0;
  int64_t recall_sample = 1000;
};

struct SearchOptionsCli {
  Source base, queries;
  std::string index, out_ivecs, trace_path, truth_path, kind;
  int L = 64, k = 10, threads = 1, rerank = -1, width = 1;
  std::string layout = "packed";
  bool recall = false;
  bool trace_text = false;
};

double metric(const SimResult& r, const std::string& key) {
  const auto it = r.metrics.find(key);
  return it == r.metrics.end() ? 0 : it->second;
}

// Runs the experiment the command line describes. Its configuration came from the command
// line, so a configuration error is a usage error: "ann search: <what is wrong>".
SimResult run_front_end(const std::string& command, const json& hw, const json& workload,
                        uint64_t seed) {
  try {
    PreparedRun run = prepare_run(Config::parse(hw.dump(), command, "hw"),
                                  Config::parse(workload.dump(), command), seed);
    return execute(run, nullptr, RunOutputs{"", "", &std::cerr});
  } catch (const ConfigError& e) {
    // "<command>:1:23: base: index ..." -> "<command>: index ...".
    std::string what = e.what();
    if (what.rfind(command + ":", 0) == 0) {
      const size_t key_end = what.find(": ", what.find(": ") + 2);
      if (key_end != std::string::npos) what = what.substr(key_end + 2);
    }
    throw Error(command + ": " + what, kExitUsage);
  }
}

// An output file is checked before the work that fills it: its folder must exist and be
// writable, and the path must not be a folder.
void check_output_path(const std::string& command, const std::string& option,
                       const std::string& path) {
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  if (fs::is_directory(p))
    throw IoError(command + ": " + option + " " + path + ": is a directory, expected a file");
  if (!fs::is_directory(dir))
    throw IoError(command + ": " + option + " " + path + ": folder " + dir.string() +
                  " does not exist");
  if (::access(dir.c_str(), W_OK) != 0)
    throw IoError(command + ": " + option + " " + path + ": folder " + dir.string() +
                  " is not writable");
}

// An input file is checked before anything is loaded, so a typo in one path does not cost the
// load of the others.
void check_input_path(const std::string& command, const std::string& option,
                      const std::string& path) {
  if (!fs::exists(path)) throw IoError(command + ": " + option + " " + path + ": no such file");
  if (fs::is_directory(path))
    throw IoError(command + ": " + option + " " + path + ": is a directory, expected a file");
}

int run_build(const BuildOptions& o) {
  if (o.kind != "nsg" && o.kind != "hnsw" && o.kind != "mrng")
    throw Error("ann build: --kind must be nsg, hnsw or mrng, got '" + o.kind + "'", kExitUsage);
  check_output_path("ann build", "-o", o.out);
  json hw = {{"model", "ann." + o.kind}, {"build_threads", o.threads}};
  json w = {{"mixture_seed", o.base.seed}, {"index", o.out}};
  o.base.put(w, "vectors");
  auto put = [&](json& to, const char* key, const json& value) {
    if (o.given.count(key)) to[key] = value;
  };
  if (o.kind == "nsg") {
    json nsg = {{"recall_sample", o.recall_sample}};
    put(nsg, "knn_k", o.knn_k);
    put(nsg, "rp_trees", o.rp_trees);
    put(nsg, "L", o.L);
    put(nsg, "R", o.R);
    put(nsg, "alpha", o.alpha);
    put(nsg, "reverse", o.reverse);
    put(nsg, "reverse_slack", o.reverse_slack);
    put(nsg, "C", o.C);
    put(nsg, "path_candidates", o.path_candidates);
    put(nsg, "slot_fill", o.slot_fill);
    put(nsg, "passes", o.passes);
    put(nsg, "entry_points",
        o.entry_points == "auto" || o.entry_points.empty() ? json("auto")
                                                           : json(std::stoi(o.entry_points)));
    put(nsg, "random_edges", o.random_edges);
    w["nsg"] = nsg;
  } else if (o.kind == "hnsw") {
    json hnsw = json::object();
    put(hnsw, "M", o.M);
    put(hnsw, "max_degree", o.max_degree);
    put(hnsw, "ef", o.ef);
    w["hnsw"] = hnsw;
  }
  const SimResult r = run_front_end("ann build", hw, w, 1);
  std::cout << "built " << r.labels.at("kind") << " over "
            << static_cast<int64_t>(metric(r, "base_vectors")) << " vectors in "
            << metric(r, "build_s") << " s: " << static_cast<int64_t>(metric(r, "edges"))
            << " edges, mean degree " << metric(r, "mean_degree") << ", max "
            << static_cast<int64_t>(metric(r, "max_degree")) << ", entry "
            << static_cast<int64_t>(metric(r, "entry")) << "\nwrote " << o.out << "\n";
  return kExitOk;
}

int run_search(const SearchOptionsCli& o) {
  if (!o.kind.empty() && o.kind != "nsg" && o.kind != "hnsw" && o.kind != "mrng")
    throw Error("ann search: --kind must be nsg, hnsw or mrng, got '" + o.kind + "'", kExitUsage);
  if (o.layout != "packed" && o.layout != "plain")
    throw Error("ann search: --layout must be packed or plain, got '" + o.layout + "'", kExitUsage);
  if (o.L < o.k)
    throw Error(
        "ann search: --L " + std::to_string(o.L) + " is smaller than -k " + std::to_string(o.k),
        kExitUsage);
  if (!o.out_ivecs.empty()) check_output_path("ann search", "--out", o.out_ivecs);
  if (!o.trace_path.empty()) check_output_path("ann search", "--trace", o.trace_path);
  check_input_path("ann search", "--index", o.index);
  if (!o.truth_path.empty()) check_input_path("ann search", "--truth", o.truth_path);
  if (o.base.spec.rfind("mixture:", 0) != 0) check_input_path("ann search", "--base", o.base.spec);
  if (o.queries.spec.rfind("mixture:", 0) != 0)
    check_input_path("ann search", "--queries", o.queries.spec);
  json hw = {{"model", "ann.index"}, {"threads", o.threads}};
  json w = {{"mixture_seed", o.base.seed}, {"index", o.index}};
  o.base.put(w, "vectors");
  o.queries.put(w, "queries");
  json s = {
      {"L", o.L},         {"k", o.k},           {"layout", o.layout},        {"rerank", o.rerank},
      {"width", o.width}, {"recall", o.recall}, {"trace_text", o.trace_text}};
  if (!o.truth_path.empty()) s["truth"] = o.truth_path;
  if (!o.out_ivecs.empty()) s["out"] = o.out_ivecs;
  if (!o.trace_path.empty()) s["trace"] = o.trace_path;
  if (!o.kind.empty()) s["kind"] = o.kind;
  w["search"] = s;
  const SimResult r = run_front_end("ann search", hw, w, 1);
  const double nq = metric(r, "queries");
  std::cout << r.labels.at("kind") << " search (" << o.layout << "): " << static_cast<int64_t>(nq)
            << " queries, L " << o.L << ", k " << o.k << ", " << o.threads
            << " thread(s): " << metric(r, "qps") << " QPS, mean distances "
            << metric(r, "mean_distances") << ", mean hops " << metric(r, "mean_hops")
            << ", mean re-ranked " << metric(r, "mean_reranked") << "\n";
  if (r.metrics.count("recall"))
    std::cout << "recall@" << o.k << " " << metric(r, "recall") << "\n";
  if (!o.out_ivecs.empty()) std::cout << "wrote " << o.out_ivecs << "\n";
  if (!o.trace_path.empty())
    std::cout << "wrote " << o.trace_path << " ("
              << static_cast<int64_t>(metric(r, "trace_requests")) << " requests, "
              << static_cast<int64_t>(metric(r, "trace_bytes")) << " bytes)\n";
  return kExitOk;
}

}  // namespace

void add_ann_command(CLI::App& app, std::function<int()>& action) {
  auto* ann =
      app.add_subcommand("ann", "Graph-based nearest-neighbour search: build or search an index");
  ann->require_subcommand(1);

  auto bo = std::make_shared<BuildOptions>();
  auto* build = ann->add_subcommand("build", "Build an NSG, exact MRNG or flat HNSW index");
  build->footer(
      "Builder parameters not given take the library's defaults (the workload keys nsg.* and "
      "hnsw.* of the ann experiments: configs/README.md).");
  build
      ->add_option(
          "--base", bo->base.spec,
          "Vectors: .fvecs, .bvecs, .npy, IDX images (MNIST, .gz ok) or mixture:<n>[:<stream>]")
      ->required();
  build->add_option("--base-rows", bo->base.rows, "Use rows begin:end only");
  build->add_option("--seed", bo->base.seed, "Seed of the synthetic mixture");
  build->add_option("--kind", bo->kind, "nsg (default), hnsw or mrng (exact, small sets)");
  build->add_option("-o,--out", bo->out, "Index file to write")->required();
  build->add_option("--knn-k", bo->knn_k, "NSG: NN-descent neighbours per node")
      ->check(positive_integer());
  build
      ->add_option("--rp-trees", bo->rp_trees,
                   "NSG: random-projection trees seeding NN-descent (0: random lists)")
      ->check(CLI::Range(0, 64));
  build->add_option("--L", bo->L, "NSG: pool size of the candidate search")
      ->check(positive_integer());
  build->add_option("--R", bo->R, "NSG: out-degree bound")->check(positive_integer());
  build->add_option("--C", bo->C, "NSG: candidates per prune")->check(positive_integer());
  build->add_option("--path-candidates", bo->path_candidates,
                    "NSG: the candidate search's expanded nodes join the C nearest (default "
                    "true; false: the NSG paper's C nearest only)");
  build->add_option("--slot-fill", bo->slot_fill,
                    "NSG: fill each list up to min(R, the packed slot's capacity) with its nearest "
                    "occluded candidates (default true; false: the lists as pruned)");
  build
      ->add_option("--alpha", bo->alpha,
                   "NSG: prune relaxation (Vamana), >= 1: r occludes q only if alpha d(r, q) < "
                   "d(p, q) (1: the MRNG rule)")
      ->check(CLI::Range(1.0, 1000.0));
  build
      ->add_option("--reverse", bo->reverse,
                   "NSG: merge of each list with its reverse edges: auto (default: the paper's "
                   "re-prune, or slack at 4 R when the re-prune strands over 1% of the nodes), "
                   "reprune, append, fill or slack")
      ->check(CLI::IsMember({"auto", "reprune", "append", "fill", "slack"}));
  build
      ->add_option("--reverse-slack", bo->reverse_slack,
                   "NSG, --reverse slack: lists up to ceil(slack R) are kept whole")
      ->check(CLI::Range(1.0, 1000.0));
  build->add_option("--passes", bo->passes, "NSG: search-collect-prune passes")
      ->check(positive_integer());
  build
      ->add_option("--entry-points", bo->entry_points,
                   "NSG: k-means++ seeds stored as extra search starts: auto (default, "
                   "round(sqrt(n) / 8), 1 to 256) or a count (0: the navigating node alone)")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            long long v = 0;
            if (text == "auto" || (detail::parse_integer(text, v) && v >= 0 && v <= 1000000))
              return {};
            return "must be auto or an integer from 0 to 1000000, got " + text;
          },
          "auto|NONNEGATIVE"));
  build
      ->add_option("--random-edges", bo->random_edges,
                   "NSG: random edges per node in the candidate search graph")
      ->check(non_negative_integer());
  build->add_option("--M", bo->M, "HNSW: neighbours per insertion")->check(positive_integer());
  build->add_option("--max-degree", bo->max_degree, "HNSW: out-degree bound")
      ->check(positive_integer());
  build->add_option("--ef", bo->ef, "HNSW: ef_construction")->check(positive_integer());
  build->add_option("-j,--threads", bo->threads, "Build threads (0: all cores)")
      ->check(non_negative_integer());
  build->add_option("--recall-sample", bo->recall_sample,
                    "NSG: nodes sampled for the kNN-graph recall (0: skip)");
  build->callback([bo, build, &action] {
    // Which builder parameters the command line gave (BuildOptions::given).
    for (const auto& [flag, key] :
         std::vector<std::pair<std::string, std::string>>{{"--knn-k", "knn_k"},
                                                          {"--rp-trees", "rp_trees"},
                                                          {"--L", "L"},
                                                          {"--R", "R"},
                                                          {"--alpha", "alpha"},
                                                          {"--reverse", "reverse"},
                                                          {"--reverse-slack", "reverse_slack"},
                                                          {"--C", "C"},
                                                          {"--path-candidates", "path_candidates"},
                                                          {"--slot-fill", "slot_fill"},
                                                          {"--passes", "passes"},
                                                          {"--entry-points", "entry_points"},
                                                          {"--random-edges", "random_edges"},
                                                          {"--M", "M"},
                                                          {"--max-degree", "max_degree"},
                                                          {"--ef", "ef"}})
      if (build->count(flag) > 0) bo->given.insert(key);
    action = [bo] { return run_build(*bo); };
  });

  auto so = std::make_shared<SearchOptionsCli>();
  auto* search = ann->add_subcommand("search", "Search an index; report QPS, counters and recall");
  search->add_option("--index", so->index, "Index file from `tessel ann build`")->required();
  search->add_option("--base", so->base.spec, "The vectors the index was built over")->required();
  search->add_option("--base-rows", so->base.rows, "Rows begin:end, as at build time");
  search->add_option("--queries", so->queries.spec, "Query vectors (same formats as --base)")
      ->required();
  search->add_option("--queries-rows", so->queries.rows, "Use query rows begin:end only");
  search->add_option("--seed", so->base.seed, "Seed of the synthetic mixture");
  search->add_option("--L", so->L, "Pool size")->check(positive_integer());
  search->add_option("-k", so->k, "Neighbours returned")->check(positive_integer());
  search->add_option("-j,--threads", so->threads, "Search threads")->check(positive_integer());
  search->add_option("--kind", so->kind,
                     "Refuse an index not built by this builder: nsg, hnsw or mrng");
  search->add_option("--layout", so->layout,
                     "packed (default: renumbered, 8-bit codes, huge pages) or plain (as built)");
  search
      ->add_option("--rerank", so->rerank,
                   "packed: float re-rank of the best N (-1: 3k for lossy codes, 0 for exact)")
      ->check(integer_between(-1, 1 << 20));
  search->add_option("--width", so->width, "Pool entries expanded per round (beam width)")
      ->check(positive_integer());
  search->add_flag("--recall", so->recall, "Compute exact neighbours and report recall@k");
  search->add_option("--truth", so->truth_path, "Ground-truth ids (.ivecs) for recall@k");
  search->add_option("--out", so->out_ivecs, "Write found ids as .ivecs");
  search->add_option("--trace", so->trace_path,
                     "Write the memory trace of the searches (runtime/core format, binary)");
  search->add_flag("--trace-text", so->trace_text, "Write the trace in the text format instead");
  search->callback([so, &action] {
    so->queries.seed = so->base.seed;
    action = [so] { return run_search(*so); };
  });
}

}  // namespace tessel::cli
