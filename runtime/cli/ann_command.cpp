// `tessel ann build|search`: load vectors, build NSG / exact MRNG / flat HNSW, search, trace.
#include "runtime/cli/ann_command.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "models/ann/graph.h"
#include "models/ann/knn.h"
#include "models/ann/mrng.h"
#include "models/ann/nsg.h"
#include "models/ann/packed_index.h"
#include "models/ann/search.h"
#include "models/ann/vectors.h"
#include "runtime/core/error.h"
#include "runtime/core/memory_trace.h"

namespace tessel::cli {
namespace {

using namespace tessel::ann;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Whole decimal number or a usage error naming the option.
int64_t parse_count(const std::string& text, const std::string& option) {
  std::size_t used = 0;
  int64_t v = -1;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || v < 0)
    throw Error(option + ": expected a non-negative integer, got '" + text + "'", kExitUsage);
  return v;
}

// A vector source on the command line: a file (.fvecs, .bvecs, or an IDX image file such as
// MNIST's, gzipped or not) or `mixture:<n>[:<stream>]` for the seeded synthetic set; optionally
// restricted to rows `begin:end`.
struct Source {
  std::string spec;
  std::string rows;
  uint64_t seed = 2026;

  VectorSet load(const char* what) const {
    VectorSet v;
    if (spec.rfind("mixture:", 0) == 0) {
      const std::string rest = spec.substr(8);
      const auto colon = rest.find(':');
      MixtureSpec m;
      m.seed = seed;
      const int64_t n = parse_count(rest.substr(0, colon), spec);
      const uint64_t stream =
          colon == std::string::npos ? 0 : parse_count(rest.substr(colon + 1), spec);
      v = gaussian_mixture(m, n, stream);
    } else if (ends_with(spec, ".fvecs")) {
      v = read_fvecs(spec);
    } else if (ends_with(spec, ".bvecs")) {
      v = read_bvecs(spec);
    } else {
      v = read_mnist_images(spec);
    }
    if (!rows.empty()) {
      const auto colon = rows.find(':');
      if (colon == std::string::npos)
        throw Error(std::string("--") + what + "-rows: expected begin:end, got '" + rows + "'",
                    kExitUsage);
      const std::string opt = std::string("--") + what + "-rows";
      const int64_t b = colon == 0 ? 0 : parse_count(rows.substr(0, colon), opt);
      const int64_t e = colon + 1 == rows.size() ? v.n : parse_count(rows.substr(colon + 1), opt);
      if (b < 0 || e > v.n || b >= e)
        throw Error(std::string("--") + what + "-rows " + rows + " outside the " +
                        std::to_string(v.n) + " vectors of " + spec,
                    kExitUsage);
      v = v.slice(b, e);
    }
    return v;
  }
};

struct BuildOptions {
  Source base;
  std::string kind = "nsg", out;
  NsgParams nsg;
  HnswParams hnsw;
  int threads = 0;
  int64_t recall_sample = 1000;
};

struct SearchOptionsCli {
  Source base, queries;
  std::string index, out_ivecs, trace_path, truth_path;
  int L = 64, k = 10, threads = 1, rerank = -1, width = 1;
  std::string layout = "packed";
  bool recall = false;
  bool trace_text = false;
};

int run_build(const BuildOptions& o) {
  const auto t_load = Clock::now();
  const VectorSet base = o.base.load("base");
  std::fprintf(stderr, "loaded %lld x %d vectors in %.1f s\n", static_cast<long long>(base.n),
               base.dim, since(t_load));
  IndexFile idx;
  idx.dim = base.dim;
  const auto t0 = Clock::now();
  auto progress = [&](const std::string& stage, int64_t done, int64_t total) {
    std::fprintf(stderr, "[%6.1f s] %s %lld/%lld\n", since(t0), stage.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total));
  };
  if (o.kind == "nsg") {
    NsgParams p = o.nsg;
    p.threads = o.threads;
    NsgStats st;
    idx.graph = build_nsg(base, p, &st, o.recall_sample, progress);
    idx.kind = GraphKind::kNsg;
    std::fprintf(stderr,
                 "nn-descent: %d iterations, recall@%d %.4f (on %lld sampled nodes)\n"
                 "navigating node %d; %lld nodes reachable before repair, %lld repair edges\n",
                 st.knn.iterations, p.knn.k, st.knn_recall, static_cast<long long>(o.recall_sample),
                 st.navigating_node, static_cast<long long>(st.reachable_before_repair),
                 static_cast<long long>(st.repair_edges));
  } else if (o.kind == "hnsw") {
    idx.graph =
        build_hnsw_flat(base, o.hnsw, [&](int64_t done) { progress("insert", done, base.n); });
    idx.kind = GraphKind::kHnswFlat;
  } else if (o.kind == "mrng") {
    idx.graph = build_exact_mrng(base, o.threads);
    idx.kind = GraphKind::kMrng;
  } else {
    throw Error("ann build: --kind must be nsg, hnsw or mrng, got '" + o.kind + "'", kExitUsage);
  }
  const double build_s = since(t0);
  save_index(o.out, idx);
  std::cout << "built " << graph_kind_name(idx.kind) << " over " << base.n << " vectors in "
            << build_s << " s: " << idx.graph.edge_count() << " edges, mean degree "
            << idx.graph.mean_degree() << ", max " << idx.graph.max_degree() << ", entry "
            << idx.graph.entry << "\nwrote " << o.out << "\n";
  return kExitOk;
}

int run_search(const SearchOptionsCli& o) {
  const IndexFile idx = load_index(o.index);
  const VectorSet base = o.base.load("base");
  const VectorSet queries = o.queries.load("queries");
  if (base.dim != idx.dim || base.n != idx.graph.size())
    throw Error("ann search: index " + o.index + " was built over " +
                    std::to_string(idx.graph.size()) + " x " + std::to_string(idx.dim) +
                    " vectors but the base has " + std::to_string(base.n) + " x " +
                    std::to_string(base.dim),
                kExitUsage);
  SearchParams params{o.L, o.k, o.rerank, o.width};
  if (o.L < o.k)
    throw Error(
        "ann search: --L " + std::to_string(o.L) + " is smaller than -k " + std::to_string(o.k),
        kExitUsage);
  std::unique_ptr<PackedIndex> packed;
  if (o.layout == "packed") {
    const auto t_pack = Clock::now();
    packed = std::make_unique<PackedIndex>(idx.graph, base);
    std::fprintf(stderr, "packed the index in %.2f s (%s codes, %s pages)\n", since(t_pack),
                 packed->quantizer().lossless ? "exact" : "lossy 8-bit",
                 packed->huge_pages() ? "2 MiB" : "small");
  } else if (o.layout != "plain") {
    throw Error("ann search: --layout must be packed or plain, got '" + o.layout + "'", kExitUsage);
  }
  std::vector<SearchStats> stats;
  const auto t0 = Clock::now();
  const KnnResult found = packed
                              ? search_batch(*packed, queries, params, o.threads, &stats)
                              : search_batch(idx.graph, base, queries, params, o.threads, &stats);
  const double secs = since(t0);
  double d = 0, h = 0, rr = 0;
  for (const auto& s : stats) d += s.distances, h += s.hops, rr += s.reranked;
  std::cout << graph_kind_name(idx.kind) << " search (" << o.layout << "): " << queries.n
            << " queries, L " << o.L << ", k " << o.k << ", " << o.threads
            << " thread(s): " << queries.n / secs << " QPS, mean distances " << d / queries.n
            << ", mean hops " << h / queries.n << ", mean re-ranked " << rr / queries.n << "\n";
  if (o.recall || !o.truth_path.empty()) {
    KnnResult truth;
    if (!o.truth_path.empty()) {
      const IntRows t = read_ivecs(o.truth_path);
      if (t.n != queries.n || t.dim < o.k)
        throw IoError(o.truth_path + ": " + std::to_string(t.n) + " x " + std::to_string(t.dim) +
                      " ids, need " + std::to_string(queries.n) + " x >= " + std::to_string(o.k));
      truth.nq = t.n;
      truth.k = t.dim;
      truth.ids = t.data;
      truth.dist.assign(t.data.size(), 0.0f);
    } else {
      truth = exact_knn(base, queries, o.k);
    }
    std::cout << "recall@" << o.k << " " << recall_at(found, truth, o.k) << "\n";
  }
  if (!o.out_ivecs.empty()) {
    IntRows r;
    r.n = found.nq;
    r.dim = found.k;
    r.data = found.ids;
    write_ivecs(o.out_ivecs, r);
    std::cout << "wrote " << o.out_ivecs << "\n";
  }
  if (!o.trace_path.empty()) {
    const MemoryTrace trace = packed ? trace_searches(*packed, queries, params)
                                     : trace_searches(idx.graph, base, queries, params);
    write_memory_trace(o.trace_path, trace, !o.trace_text);
    std::cout << "wrote " << o.trace_path << " (" << trace.requests.size() << " requests, "
              << trace.total_bytes() << " bytes)\n";
  }
  return kExitOk;
}

}  // namespace

void add_ann_command(CLI::App& app, std::function<int()>& action) {
  auto* ann =
      app.add_subcommand("ann", "Graph-based nearest-neighbour search: build or search an index");
  ann->require_subcommand(1);

  auto bo = std::make_shared<BuildOptions>();
  auto* build = ann->add_subcommand("build", "Build an NSG, exact MRNG or flat HNSW index");
  build
      ->add_option("--base", bo->base.spec,
                   "Vectors: .fvecs, .bvecs, IDX images (MNIST, .gz ok) or mixture:<n>[:<stream>]")
      ->required();
  build->add_option("--base-rows", bo->base.rows, "Use rows begin:end only");
  build->add_option("--seed", bo->base.seed, "Seed of the synthetic mixture");
  build->add_option("--kind", bo->kind, "nsg (default), hnsw or mrng (exact, small sets)");
  build->add_option("-o,--out", bo->out, "Index file to write")->required();
  build->add_option("--knn-k", bo->nsg.knn.k, "NSG: NN-descent neighbours per node")
      ->check(CLI::PositiveNumber);
  build->add_option("--L", bo->nsg.L, "NSG: pool size of the candidate search")
      ->check(CLI::PositiveNumber);
  build->add_option("--R", bo->nsg.R, "NSG: out-degree bound")->check(CLI::PositiveNumber);
  build->add_option("--C", bo->nsg.C, "NSG: candidates per prune")->check(CLI::PositiveNumber);
  build->add_option("--passes", bo->nsg.passes, "NSG: search-collect-prune passes")
      ->check(CLI::PositiveNumber);
  build
      ->add_option("--entry-points", bo->nsg.entry_points,
                   "NSG: k-means++ seeds stored as extra search starts (clustered data)")
      ->check(CLI::NonNegativeNumber);
  build
      ->add_option("--random-edges", bo->nsg.random_edges,
                   "NSG: random edges per node in the candidate search graph")
      ->check(CLI::NonNegativeNumber);
  build->add_option("--M", bo->hnsw.M, "HNSW: neighbours per insertion")
      ->check(CLI::PositiveNumber);
  build->add_option("--max-degree", bo->hnsw.max_degree, "HNSW: out-degree bound")
      ->check(CLI::PositiveNumber);
  build->add_option("--ef", bo->hnsw.ef_construction, "HNSW: ef_construction")
      ->check(CLI::PositiveNumber);
  build->add_option("-j,--threads", bo->threads, "Build threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);
  build->add_option("--recall-sample", bo->recall_sample,
                    "NSG: nodes sampled for the kNN-graph recall (0: skip)");
  build->callback([bo, &action] { action = [bo] { return run_build(*bo); }; });

  auto so = std::make_shared<SearchOptionsCli>();
  auto* search = ann->add_subcommand("search", "Search an index; report QPS, counters and recall");
  search->add_option("--index", so->index, "Index file from `tessel ann build`")->required();
  search->add_option("--base", so->base.spec, "The vectors the index was built over")->required();
  search->add_option("--base-rows", so->base.rows, "Rows begin:end, as at build time");
  search->add_option("--queries", so->queries.spec, "Query vectors (same formats as --base)")
      ->required();
  search->add_option("--queries-rows", so->queries.rows, "Use query rows begin:end only");
  search->add_option("--seed", so->base.seed, "Seed of the synthetic mixture");
  search->add_option("--L", so->L, "Pool size")->check(CLI::PositiveNumber);
  search->add_option("-k", so->k, "Neighbours returned")->check(CLI::PositiveNumber);
  search->add_option("-j,--threads", so->threads, "Search threads")->check(CLI::PositiveNumber);
  search->add_option("--layout", so->layout,
                     "packed (default: renumbered, 8-bit codes, huge pages) or plain (as built)");
  search
      ->add_option("--rerank", so->rerank,
                   "packed: float re-rank of the best N (-1: 3k for lossy codes, 0 for exact)")
      ->check(CLI::Range(-1, 1 << 20));
  search->add_option("--width", so->width, "Pool entries expanded per round (beam width)")
      ->check(CLI::PositiveNumber);
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
