// Graph search runs as registered experiments: ann.nsg / ann.hnsw / ann.mrng build an index
// (or reuse one from the sweep's cache) and optionally search it; ann.index searches an index
// file; ann.exact is the brute-force baseline. `tessel ann build|search` are front ends.
#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "models/ann/cache_lock.h"
#include "models/ann/graph.h"
#include "models/ann/knn.h"
#include "models/ann/mrng.h"
#include "models/ann/nsg.h"
#include "models/ann/packed_index.h"
#include "models/ann/search.h"
#include "models/ann/vector_source.h"
#include "models/ann/vectors.h"
#include "runtime/core/atomic_file.h"
#include "runtime/core/cpu_time.h"
#include "runtime/core/error.h"
#include "runtime/core/experiment.h"
#include "runtime/core/keys.h"
#include "runtime/core/memory_trace.h"
#include "runtime/core/registry.h"

namespace tessel::ann {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void logf(std::ostream* log, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void logf(std::ostream* log, const char* fmt, ...) {
  if (!log) return;
  char buf[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  *log << buf << std::flush;
}

std::string fnv1a_hex(const std::string& data) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : data) h = (h ^ ch) * 0x100000001b3ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

struct SearchSetup {
  bool enabled = false;
  SearchParams params;
  std::string layout = "packed";
  bool recall = false;
  std::string truth, out_ivecs, trace;
  bool trace_text = false;
  int passes = 1;
  std::string kind;  // ann.index: the builder the index must come from (nsg, hnsw, mrng), or ""
};

// Integer settings held in an int.
constexpr int64_t kIntMax = std::numeric_limits<int>::max();

// hw: the same for all five models.
const KeySet& host_keys() {
  static const KeySet keys = [] {
    KeySet k("ann host");
    k.text("description", "free text (not read)").opt();
    k.integer("threads", 1, kIntMax,
              "search threads (1: timed on the thread's CPU clock as well as wall time)")
        .def("1");
    k.integer("build_threads", 0, kIntMax, "build threads (0: all cores)").def("0");
    return k;
  }();
  return keys;
}

// The builders' settings, each under its builder's name (workload.nsg, workload.hnsw), so one
// workload serves a sweep over builders: each reads its own section, the others are checked.
const KeySet& build_keys() {
  static const KeySet keys = [] {
    KeySet k("ann build");
    k.file("index", "also write the built index there").opt("not written");
    k.section("nsg", "NSG build (`ann.nsg`; docs/ann.md)");
    k.integer("nsg.knn_k", 1, kIntMax, "neighbours per node of the NN-descent kNN graph").def("20");
    k.integer("nsg.rp_trees", 0, 64,
              "random-projection trees seeding NN-descent's lists (0: random lists)")
        .def("4");
    k.integer("nsg.L", 1, kIntMax, "pool size of the search that collects each node's candidates")
        .def("40");
    k.integer("nsg.R", 1, kIntMax, "out-degree bound of the pruning").def("32");
    k.number("nsg.alpha", 1, 1000,
             "prune relaxation (Vamana): r occludes q only if alpha·d(r, q) < d(p, q); 1 is the "
             "MRNG rule")
        .def("1");
    k.integer("nsg.C", 1, kIntMax, "candidates considered by the pruning (nearest first)")
        .def("500");
    k.flag("nsg.path_candidates",
           "the nodes the candidate search expanded are candidates too, beyond the C nearest "
           "(false: the NSG paper's C nearest only)")
        .def("true");
    k.choice("nsg.reverse", {"auto", "reprune", "append", "fill", "slack"},
             "merge of each list with its reverse edges: the paper's re-prune, or slack at 4 R "
             "when the re-prune strands more than 1% of the nodes (auto); docs/ann.md")
        .def("auto");
    k.number("nsg.reverse_slack", 1, 1000,
             "`reverse: slack` only: lists up to ceil(slack · R) are kept whole")
        .def("1.25");
    k.flag("nsg.slot_fill",
           "fill each list up to min(R, the packed slot's capacity) with its nearest occluded "
           "candidates (no memory: the packed layout reserves the slots anyway); docs/ann.md")
        .def("true");
    k.integer("nsg.passes", 1, kIntMax,
              "search-collect-prune passes (a second one searches the pass-1 NSG)")
        .def("1");
    k.open("nsg.entry_points",
           "`auto` (round(√n / 8), 1 to 256) or a count from 0: k-means++ seeds stored as extra "
           "search starts (0: the navigating node alone)")
        .def("auto");
    k.integer("nsg.random_edges", 0, kIntMax,
              "seeded random out-edges per node in the first pass's candidate searches")
        .def("8");
    k.integer("nsg.recall_sample", 0, kIntMax,
              "nodes sampled to measure the kNN graph's recall (`knn_recall`; 0: skip)")
        .def("1000");
    k.section("hnsw", "flat HNSW build (`ann.hnsw`; docs/ann.md)");
    k.integer("hnsw.M", 1, kIntMax, "neighbours linked per insertion").def("16");
    k.integer("hnsw.max_degree", 1, kIntMax, "out-degree bound").def("32");
    k.integer("hnsw.ef", 1, kIntMax, "ef_construction: pool of the insertion search").def("100");
    return k;
  }();
  return keys;
}

// workload.search (without `kind`, which only ann.index reads).
const KeySet& search_keys() {
  static const KeySet keys = [] {
    KeySet k("ann search");
    k.integer("L", 1, kIntMax, "pool size (at least k)").def("64");
    k.integer("k", 1, kIntMax, "neighbours returned").def("10");
    k.choice("layout", {"packed", "plain"},
             "BFS-ordered slots with 8-bit codes and re-rank, or the graph as built")
        .def("packed");
    k.integer("rerank", -1, 1 << 20,
              "packed: re-rank of the best N with the kept vectors (fp16 residuals of the codes "
              "by default, docs/ann.md; -1: automatic, 3k for lossy codes, 0 for "
              "exact)")
        .def("-1");
    k.integer("width", 1, kIntMax, "pool entries expanded per round (beam width)").def("1");
    k.flag("recall",
           "compute recall@k against brute force (also times brute force: `brute_force_qps`, "
           "`speedup`)")
        .def("false");
    k.file("truth", "ground-truth ids (`.ivecs`) for recall@k instead of brute force")
        .opt("brute force");
    k.file("out", "write the result ids (`.ivecs`)").opt("not written");
    k.file("trace", "write the memory trace of the searches (runtime/core format)")
        .opt("not written");
    k.flag("trace_text", "write the trace in the text format").def("false");
    k.integer("passes", 1, kIntMax, "time the search this many times and keep the fastest")
        .def("1");
    return k;
  }();
  return keys;
}

// The declaration of ann.<kind>: the builders (nsg, hnsw, mrng) share one form.
ModelKeys make_keys(const std::string& kind) {
  ModelKeys m("ann." + kind);
  m.hw.include("", host_keys());
  KeySet& w = m.workload;
  w.include("", vector_source_keys());
  if (kind == "index") {
    w.file("index", "the index file to search (`tessel ann build`)");
  } else if (kind == "exact") {
    w.integer("k", 1, kIntMax, "neighbours returned").def("10");
  } else {
    w.include("", build_keys());
  }
  if (kind == "index" || kind == "exact") {
    // Kept declared for the clear error: a build section in a workload that builds nothing.
    w.open("nsg", "an error: ann." + kind + " builds no index");
    w.open("hnsw", "an error: ann." + kind + " builds no index");
  }
  if (kind != "exact") {
    w.section("search", kind == "index" ? "the search (required)"
                                        : "search the built index (absent: build only)");
    w.include("search", search_keys());
  }
  if (kind == "index")
    w.choice("search.kind", {"nsg", "hnsw", "mrng"},
             "refuse an index built by another builder (checked before the base is loaded)")
        .opt("any");
  return m;
}

const ModelKeys& keys_of(const std::string& kind) {
  static const ModelKeys nsg = make_keys("nsg"), hnsw = make_keys("hnsw"), mrng = make_keys("mrng"),
                         index = make_keys("index"), exact = make_keys("exact");
  return kind == "nsg"     ? nsg
         : kind == "hnsw"  ? hnsw
         : kind == "mrng"  ? mrng
         : kind == "index" ? index
                           : exact;
}

// `key` of `w` read through the declaration, or an empty mapping when absent (so that the
// declared defaults apply).
Keyed section_of(const Keyed& w, const std::string& key) {
  if (w.has(key)) return w.child(key);
  return Keyed(w.set(), Config::parse("{}", "(defaults)"), key + ".");
}

// The index an experiment searches: built, loaded from a file, or from the sweep's cache.
struct BuiltIndex {
  IndexFile index;
  nlohmann::json stats = nlohmann::json::object();  // build metrics, kept with cached indexes
  std::string cache_stem;  // the sweep cache's files for this index ("" without a cache)
};

class AnnExperiment : public Experiment {
 public:
  // kind: nsg | hnsw | mrng build an index; index searches workload.index; exact is brute force.
  explicit AnnExperiment(std::string kind) : kind_(std::move(kind)) {}

  bool uses_energy_table() const override { return false; }
  const ModelKeys& keys() const override { return keys_of(kind_); }

  void configure(const Config& hw_config, const Config& config) override {
    const Keyed hw(keys().hw, hw_config), w(keys().workload, config);
    threads_ = static_cast<int>(hw.integer("threads"));
    build_threads_ = static_cast<int>(hw.integer("build_threads"));
    const auto seed = static_cast<uint64_t>(w.integer("mixture_seed"));
    base_ = VectorSource::read(config, "vectors", seed);
    if (kind_ == "index" || kind_ == "exact" || w.has("search"))
      queries_ = VectorSource::read(config, "queries", seed);
    else if (w.has("queries"))
      w.fail("queries", "queries are searched only with a `search:` section");

    if (kind_ == "index")
      index_in_ = w.path("index");
    else if (kind_ != "exact" && w.has("index"))
      index_out_ = w.path("index");
    if (kind_ == "nsg" || kind_ == "hnsw" || kind_ == "mrng") configure_build(w);
    if (kind_ == "index" || kind_ == "exact")
      for (const std::string other : {"nsg", "hnsw"})
        if (w.has(other)) w.fail(other, "model ann." + kind_ + " builds no index");

    if (kind_ == "exact") {
      search_.enabled = true;
      search_.params.k = static_cast<int>(w.integer("k"));
    } else if (w.has("search")) {
      configure_search(w.child("search"));
    } else if (kind_ == "index") {
      w.fail("search", "missing required key (ann.index searches an index)");
    }
  }

  SimResult run(RunContext& ctx) override {
    SimResult r;
    // An index file is read and checked before the base: a wrong, corrupt or missing index
    // fails before a large base is loaded.
    BuiltIndex loaded;
    if (kind_ == "index") loaded.index = load_kind_checked(index_in_);
    const auto t_load = Clock::now();
    const VectorSet base = base_.load();
    logf(ctx.log, "loaded %lld x %d vectors in %.1f s\n", static_cast<long long>(base.n), base.dim,
         since(t_load));
    r.metrics["base_vectors"] = static_cast<double>(base.n);
    r.metrics["dim"] = base.dim;
    if (kind_ == "exact") return run_exact(base, r);

    BuiltIndex built = kind_ == "index" ? check_base(std::move(loaded), index_in_, base, ctx.log)
                                        : obtain(base, ctx);
    for (const auto& [k, v] : built.stats.items()) r.metrics[k] = v.get<double>();
    r.labels["kind"] = graph_kind_name(built.index.kind);
    r.metrics["edges"] = static_cast<double>(built.index.graph.edge_count());
    r.metrics["mean_degree"] = built.index.graph.mean_degree();
    r.metrics["max_degree"] = built.index.graph.max_degree();
    r.metrics["entry"] = built.index.graph.entry;
    if (!index_out_.empty()) {
      save_index(index_out_, built.index);
      r.labels["index_file"] = index_out_;
    }
    if (search_.enabled) run_search(built.index, built.cache_stem, base, r, ctx);
    return r;
  }

 private:
  void configure_build(const Keyed& w) {
    if (kind_ == "nsg") {
      const Keyed b = section_of(w, "nsg");
      nsg_.knn.k = static_cast<int>(b.integer("knn_k"));
      nsg_.knn.rp_trees = static_cast<int>(b.integer("rp_trees"));
      nsg_.L = static_cast<int>(b.integer("L"));
      nsg_.R = static_cast<int>(b.integer("R"));
      nsg_.alpha = static_cast<float>(b.number("alpha"));
      nsg_.C = static_cast<int>(b.integer("C"));
      nsg_.path_candidates = b.flag("path_candidates");
      nsg_.slot_fill = b.flag("slot_fill");
      reverse_merge_from_name(b.choice("reverse"), &nsg_.reverse);  // a checked choice
      nsg_.reverse_slack = static_cast<float>(b.number("reverse_slack"));
      nsg_.passes = static_cast<int>(b.integer("passes"));
      // "auto" (the default): auto_entry_points(n) k-means++ seeds; an integer: that many.
      const Config& c = b.config();
      const Config e = c.has("entry_points") ? c.at("entry_points") : Config();
      if (!e.valid() || (e.is_scalar() && e.scalar() == "auto"))
        nsg_.entry_points = -1;
      else
        nsg_.entry_points = static_cast<int>(e.as_int_range(0, kIntMax));
      nsg_.random_edges = static_cast<int>(b.integer("random_edges"));
      recall_sample_ = b.integer("recall_sample");
    } else if (kind_ == "hnsw") {
      const Keyed b = section_of(w, "hnsw");
      hnsw_.M = static_cast<int>(b.integer("M"));
      hnsw_.max_degree = static_cast<int>(b.integer("max_degree"));
      hnsw_.ef_construction = static_cast<int>(b.integer("ef"));
    }
    build_identity_ = kind_ + "|" + base_.identity();
    if (w.has(kind_)) build_identity_ += "|" + w.config().child(kind_).to_json().dump();
    // The builder's effective parameters too, defaults included: an index cached before a
    // library default changed (NSG's C 300 -> 500, its reverse-edge merge -> kAuto) must not
    // be reused for a workload that leaves that key unset.
    char effective[256] = "";
    if (kind_ == "nsg")
      std::snprintf(effective, sizeof(effective),
                    "|nsg k%d t%d L%d R%d a%.9g C%d c%d p%d e%d r%d m%d s%.9g f%d", nsg_.knn.k,
                    nsg_.knn.rp_trees, nsg_.L, nsg_.R, nsg_.alpha, nsg_.C,
                    nsg_.path_candidates ? 1 : 0, nsg_.passes, nsg_.entry_points, nsg_.random_edges,
                    static_cast<int>(nsg_.reverse), nsg_.reverse_slack, nsg_.slot_fill ? 1 : 0);
    else if (kind_ == "hnsw")
      std::snprintf(effective, sizeof(effective), "|hnsw M%d d%d ef%d", hnsw_.M, hnsw_.max_degree,
                    hnsw_.ef_construction);
    build_identity_ += effective;
  }

  void configure_search(const Keyed& s) {
    search_.enabled = true;
    search_where_ = s.config();
    search_.params.L = static_cast<int>(s.integer("L"));
    search_.params.k = static_cast<int>(s.integer("k"));
    if (search_.params.L < search_.params.k)
      s.fail("L", "pool size " + std::to_string(search_.params.L) + " is smaller than k " +
                      std::to_string(search_.params.k));
    search_.layout = s.choice("layout");
    search_.params.rerank = static_cast<int>(s.integer("rerank"));
    search_.params.width = static_cast<int>(s.integer("width"));
    search_.recall = s.flag("recall");
    if (s.has("truth")) search_.truth = s.path("truth");
    if (s.has("out")) search_.out_ivecs = s.path("out");
    if (s.has("trace")) search_.trace = s.path("trace");
    search_.trace_text = s.flag("trace_text");
    search_.passes = static_cast<int>(s.integer("passes"));
    if (kind_ == "index" && s.has("kind")) search_.kind = s.choice("kind");
  }

  BuiltIndex build(const VectorSet& base, std::ostream* log) const {
    BuiltIndex out;
    out.index.dim = base.dim;
    out.index.base_checksum = vector_checksum(base);
    const auto t0 = Clock::now();
    auto progress = [&](const std::string& stage, int64_t done, int64_t total) {
      logf(log, "[%6.1f s] %s %lld/%lld\n", since(t0), stage.c_str(), static_cast<long long>(done),
           static_cast<long long>(total));
    };
    if (kind_ == "nsg") {
      NsgParams p = nsg_;
      p.threads = build_threads_;
      NsgStats st;
      out.index.graph = build_nsg(base, p, &st, recall_sample_, progress);
      out.index.kind = GraphKind::kNsg;
      logf(log,
           "nn-descent: %d iterations, recall@%d %.4f (on %lld sampled nodes)\n"
           "navigating node %d; %lld nodes reachable before repair, %lld repair edges\n"
           "slot fill: %lld edges (lists filled up to %d)\n",
           st.knn.iterations, p.knn.k, st.knn_recall, static_cast<long long>(recall_sample_),
           st.navigating_node, static_cast<long long>(st.reachable_before_repair),
           static_cast<long long>(st.repair_edges), static_cast<long long>(st.fill_edges),
           st.fill_degree);
      out.stats["knn_iterations"] = st.knn.iterations;
      if (st.knn_recall >= 0) out.stats["knn_recall"] = st.knn_recall;
      out.stats["repair_edges"] = st.repair_edges;
      out.stats["fill_edges"] = st.fill_edges;
      // 1 when the merge kept lists up to a slack (kAuto's choice or the one set), else 0.
      out.stats["reverse_slack_used"] = st.reverse_used == ReverseMerge::kSlack ? 1 : 0;
      if (st.stranded_by_reprune >= 0) out.stats["stranded_by_reprune"] = st.stranded_by_reprune;
    } else if (kind_ == "hnsw") {
      out.index.graph =
          build_hnsw_flat(base, hnsw_, [&](int64_t done) { progress("insert", done, base.n); });
      out.index.kind = GraphKind::kHnswFlat;
    } else {
      out.index.graph = build_exact_mrng(base, build_threads_);
      out.index.kind = GraphKind::kMrng;
    }
    out.stats["build_s"] = since(t0);
    return out;
  }

  // Builds the index, or with a sweep cache reuses the one an earlier point built from the
  // same base and build settings (an L sweep builds once). A lock keeps two points that run
  // at once from building it twice.
  BuiltIndex obtain(const VectorSet& base, const RunContext& ctx) const {
    if (ctx.cache_dir.empty()) return build(base, ctx.log);
    fs::create_directories(ctx.cache_dir);
    const std::string stem =
        (fs::path(ctx.cache_dir) / ("ann-" + fnv1a_hex(build_identity_))).string();
    const CacheLock lock(stem);
    BuiltIndex out;
    // The cache key names the base file, not its content: an index recorded over other
    // content (the file was replaced) is rebuilt.
    bool reuse = fs::exists(stem + ".tann") && fs::exists(stem + ".json");
    if (reuse) {
      out.index = load_index(stem + ".tann");
      const uint64_t recorded = out.index.base_checksum;
      reuse = recorded == 0 || recorded == vector_checksum(base);
      if (!reuse)
        logf(ctx.log, "the cached index %s.tann was built from other base content; rebuilding\n",
             stem.c_str());
    }
    if (reuse) {
      std::ifstream in(stem + ".json");
      out.stats = nlohmann::json::parse(in);
      out.stats["index_cached"] = 1;
      logf(ctx.log, "reused the index in %s.tann\n", stem.c_str());
    } else {
      out = build(base, ctx.log);
      save_index(stem + ".tann", out.index);
      write_file_atomic(stem + ".json", out.stats.dump() + "\n", false);
      out.stats["index_cached"] = 0;
    }
    out.cache_stem = stem;
    return out;
  }

  // The packed layout of `idx`: from the sweep cache when an earlier point packed the same
  // graph over the same base with the same options, else packed here (and cached). Packing
  // (renumbering, codes) takes several times one search sweep's time.
  std::unique_ptr<PackedIndex> packed_layout(const IndexFile& idx, const std::string& stem,
                                             const VectorSet& base, bool& from_cache) const {
    from_cache = false;
    if (stem.empty()) return std::make_unique<PackedIndex>(idx.graph, base);
    const CacheLock lock(stem);
    const uint64_t key = PackedIndex::source_key(
        idx.graph, idx.base_checksum != 0 ? idx.base_checksum : vector_checksum(base));
    std::unique_ptr<PackedIndex> packed = PackedIndex::load(stem + ".packed", key, PackOptions{});
    from_cache = packed != nullptr;
    if (!packed) {
      packed = std::make_unique<PackedIndex>(idx.graph, base);
      packed->save(stem + ".packed", key);
    }
    return packed;
  }

  IndexFile load_kind_checked(const std::string& path) const {
    IndexFile idx = load_index(path);
    const std::string got = graph_kind_name(idx.kind);
    if (!search_.kind.empty() && got != (search_.kind == "hnsw" ? "hnsw-flat" : search_.kind))
      search_where_.fail(
          "kind", "index " + path + " holds a graph built by " + got + ", not by " + search_.kind);
    return idx;
  }

  // The base must be the one the index was built from: same shape and, when the index
  // recorded it, the same content.
  BuiltIndex check_base(BuiltIndex out, const std::string& path, const VectorSet& base,
                        std::ostream* log) const {
    const std::string base_name =
        base_.spec + (base_.rows.empty() ? "" : " (rows " + base_.rows + ")");
    if (base.dim != out.index.dim || base.n != out.index.graph.size())
      base_.where.fail("", "index " + path + " was built over " +
                               std::to_string(out.index.graph.size()) + " x " +
                               std::to_string(out.index.dim) + " vectors but the base has " +
                               std::to_string(base.n) + " x " + std::to_string(base.dim));
    if (out.index.base_checksum == 0) {
      logf(log, "warning: %s records no base checksum; %s is not verified against it\n",
           path.c_str(), base_name.c_str());
    } else if (out.index.base_checksum != vector_checksum(base)) {
      char buf[96];
      std::snprintf(buf, sizeof buf, " (checksum %016llx, the index records %016llx)",
                    static_cast<unsigned long long>(vector_checksum(base)),
                    static_cast<unsigned long long>(out.index.base_checksum));
      base_.where.fail("", "index " + path + " was built from another base: " + base_name +
                               " has the same shape but other content" + buf);
    }
    return out;
  }

  SimResult& run_exact(const VectorSet& base, SimResult& r) const {
    const VectorSet queries = queries_.load();
    KnnOptions opt;
    opt.threads = threads_;
    const double cpu0 = thread_cpu_seconds();
    const auto t0 = Clock::now();
    const KnnResult found = exact_knn(base, queries, search_.params.k, Backend::kCpu, opt);
    const double secs = since(t0);
    if (threads_ == 1)
      r.metrics["qps_cpu"] = static_cast<double>(found.nq) / (thread_cpu_seconds() - cpu0);
    r.labels["kind"] = "exact";
    r.metrics["queries"] = static_cast<double>(found.nq);
    r.metrics["k"] = search_.params.k;
    r.metrics["search_s"] = secs;
    r.metrics["qps"] = static_cast<double>(found.nq) / secs;
    r.metrics["mean_distances"] = static_cast<double>(base.n);
    return r;
  }

  void run_search(const IndexFile& idx, const std::string& cache_stem, const VectorSet& base,
                  SimResult& r, const RunContext& ctx) const {
    const VectorSet queries = queries_.load();
    const SearchParams& params = search_.params;
    std::unique_ptr<PackedIndex> packed;
    if (search_.layout == "packed") {
      const auto t_pack = Clock::now();
      bool from_cache = false;
      packed = packed_layout(idx, cache_stem, base, from_cache);
      const double pack_s = since(t_pack);
      logf(ctx.log, "%s the index in %.2f s (%s codes, %s pages)\n",
           from_cache ? "loaded the packed layout of" : "packed", pack_s,
           packed->quantizer().lossless ? "exact" : "lossy 8-bit",
           packed->huge_pages() ? "2 MiB" : "small");
      r.metrics["pack_s"] = pack_s;
      r.metrics["pack_cached"] = from_cache ? 1 : 0;
      r.labels["codes"] = packed->quantizer().lossless ? "exact" : "lossy 8-bit";
      // What the search holds in memory (slots, overflow lists, codes, floats if kept, id map).
      r.metrics["index_bytes_per_vector"] =
          static_cast<double>(packed->bytes()) / static_cast<double>(packed->size());
      r.metrics["slot_ints"] = packed->slot_stride();
      r.metrics["overflow_nodes"] = static_cast<double>(packed->overflow_nodes());
    }
    r.labels["layout"] = search_.layout;
    // The fastest of `passes` identical passes over the queries: a pass of a few ms is easily
    // disturbed by other processes on a shared machine.
    std::vector<SearchStats> stats;
    KnnResult found;
    double secs = 0, cpu = 0, all_cpu = 0;
    for (int pass = 0; pass < search_.passes; ++pass) {
      stats.clear();
      const double cpu0 = thread_cpu_seconds(), all0 = process_cpu_seconds();
      const auto t0 = Clock::now();
      found = packed ? search_batch(*packed, queries, params, threads_, &stats)
                     : search_batch(idx.graph, base, queries, params, threads_, &stats);
      const double wall = since(t0), used = thread_cpu_seconds() - cpu0,
                   used_all = process_cpu_seconds() - all0;
      secs = pass == 0 ? wall : std::min(secs, wall);
      cpu = pass == 0 ? used : std::min(cpu, used);
      all_cpu = pass == 0 ? used_all : std::min(all_cpu, used_all);
    }
    double d = 0, h = 0, rr = 0;
    for (const auto& s : stats) d += s.distances, h += s.hops, rr += s.reranked;
    const double nq = static_cast<double>(queries.n);
    r.metrics["queries"] = nq;
    r.metrics["L"] = params.L;
    r.metrics["k"] = params.k;
    r.metrics["threads"] = threads_;
    r.metrics["search_s"] = secs;
    r.metrics["qps"] = nq / secs;
    // One search thread runs on this thread: its CPU time leaves out the time other
    // processes held the core (a shared machine's wall clock does not).
    if (threads_ == 1) r.metrics["qps_cpu"] = nq / cpu;
    // Queries per CPU-second of all search threads (process CPU time): what a core delivers in
    // a batch, which other processes' load changes far less than wall QPS / threads. It
    // includes OpenMP's spinning at the end of a batch (OMP_WAIT_POLICY=passive removes it).
    r.metrics["qps_per_core"] = nq / all_cpu;
    r.metrics["mean_distances"] = d / nq;
    r.metrics["mean_hops"] = h / nq;
    r.metrics["mean_reranked"] = rr / nq;
    if (search_.recall || !search_.truth.empty()) {
      KnnResult truth;
      if (!search_.truth.empty()) {
        const IntRows t = read_ivecs(search_.truth);
        if (t.n != queries.n || t.dim < params.k)
          throw IoError(search_.truth + ": " + std::to_string(t.n) + " x " + std::to_string(t.dim) +
                        " ids, need " + std::to_string(queries.n) +
                        " x >= " + std::to_string(params.k));
        truth.nq = t.n;
        truth.k = t.dim;
        truth.ids = t.data;
        truth.dist.assign(t.data.size(), 0.0f);
      } else {
        // The exact answer is the brute-force baseline, timed with the search's threads.
        KnnOptions opt;
        opt.threads = threads_;
        const double bf_cpu0 = thread_cpu_seconds();
        const auto t_bf = Clock::now();
        truth = exact_knn(base, queries, params.k, Backend::kCpu, opt);
        const double bf_wall = since(t_bf), bf_cpu = thread_cpu_seconds() - bf_cpu0;
        r.metrics["brute_force_qps"] = nq / bf_wall;
        r.metrics["speedup"] = r.metrics["qps"] / r.metrics["brute_force_qps"];
        if (threads_ == 1) {
          r.metrics["brute_force_qps_cpu"] = nq / bf_cpu;
          r.metrics["speedup_cpu"] = r.metrics["qps_cpu"] / r.metrics["brute_force_qps_cpu"];
        }
      }
      r.metrics["recall"] = recall_at(found, truth, params.k);
    }
    if (!search_.out_ivecs.empty()) {
      IntRows ids;
      ids.n = found.nq;
      ids.dim = found.k;
      ids.data = found.ids;
      write_ivecs(search_.out_ivecs, ids);
      r.labels["ids_file"] = search_.out_ivecs;
    }
    if (!search_.trace.empty()) {
      const MemoryTrace trace = packed ? trace_searches(*packed, queries, params)
                                       : trace_searches(idx.graph, base, queries, params);
      write_memory_trace(search_.trace, trace, !search_.trace_text);
      r.labels["trace_file"] = search_.trace;
      r.metrics["trace_requests"] = static_cast<double>(trace.requests.size());
      r.metrics["trace_bytes"] = static_cast<double>(trace.total_bytes());
    }
  }

  std::string kind_;
  int threads_ = 1, build_threads_ = 0;
  VectorSource base_, queries_;
  std::string index_in_, index_out_, build_identity_;
  NsgParams nsg_;
  HnswParams hnsw_;
  int64_t recall_sample_ = 1000;
  SearchSetup search_;
  Config search_where_;  // workload.search, for errors found when the index is read
};

struct AnnNsg : AnnExperiment {
  AnnNsg() : AnnExperiment("nsg") {}
};
struct AnnHnsw : AnnExperiment {
  AnnHnsw() : AnnExperiment("hnsw") {}
};
struct AnnMrng : AnnExperiment {
  AnnMrng() : AnnExperiment("mrng") {}
};
struct AnnIndex : AnnExperiment {
  AnnIndex() : AnnExperiment("index") {}
};
struct AnnExact : AnnExperiment {
  AnnExact() : AnnExperiment("exact") {}
};

}  // namespace
}  // namespace tessel::ann

TESSEL_REGISTER_MODEL("ann.nsg", tessel::ann::AnnNsg,
                      "Build an NSG (and search it) on the host (models/ann)");
TESSEL_REGISTER_MODEL("ann.hnsw", tessel::ann::AnnHnsw,
                      "Build a flat HNSW graph (and search it) on the host (models/ann)");
TESSEL_REGISTER_MODEL("ann.mrng", tessel::ann::AnnMrng,
                      "Build the exact MRNG (small sets; and search it) on the host (models/ann)");
TESSEL_REGISTER_MODEL("ann.index", tessel::ann::AnnIndex,
                      "Search a graph index file on the host (models/ann)");
TESSEL_REGISTER_MODEL("ann.exact", tessel::ann::AnnExact,
                      "Brute-force exact k-nearest-neighbour search, the baseline (models/ann)");
