// Greedy / beam search on a proximity graph, with per-query counters and memory traces.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "models/ann/codes.h"
#include "models/ann/fp16.h"
#include "models/ann/graph.h"
#include "models/ann/knn.h"
#include "models/ann/packed_index.h"
#include "models/ann/vectors.h"
#include "runtime/core/memory_trace.h"

namespace tessel::ann {

struct SearchParams {
  int L = 64;  // candidate pool size; L = 1 is pure greedy descent
  int k = 10;  // results returned (k <= L)
  // Searches on 8-bit codes (PackedIndex) re-rank this many of the best pool entries by their
  // float distance before returning k. -1: 3k when the codes are lossy (measured enough to
  // recover the float search's recall, docs/ann.md), 0 when they are exact.
  int rerank = -1;
  // Pool entries expanded together: their neighbours' rows are fetched as one batch, so more
  // memory reads overlap per round trip (DiskANN's beam width). 1 is the classic beam search.
  int width = 1;
};

// What one search cost. Every node whose distance is computed is marked visited first, so
// `distances` == `visited`; both are kept because the traces are sized by them.
struct SearchStats {
  int64_t distances = 0;  // distance evaluations during the search (on codes when packed)
  int64_t hops = 0;       // nodes expanded (adjacency lists read)
  int64_t visited = 0;    // distinct nodes touched
  int64_t reranked = 0;   // float distances of the final re-rank (searches on codes)
  // Expansions done when `target` (SearchOptions) first entered the pool; -1 if it never did.
  int64_t target_hop = -1;

  SearchStats& operator+=(const SearchStats& o) {
    distances += o.distances, hops += o.hops, visited += o.visited, reranked += o.reranked;
    return *this;
  }
};

// One (squared distance, id) pair of a pool or candidate list.
struct Neighbour {
  float dist;
  int32_t id;
  bool operator<(const Neighbour& o) const {
    return dist < o.dist || (dist == o.dist && id < o.id);
  }
};

// Names of the objects a search trace reads: vector i is `dim * 4` bytes at offset
// i * dim * 4 of kTraceVectors; node i's adjacency is its two offsets (16 bytes at i * 8 of
// kTraceOffsets) then its neighbour ids (4 bytes each) at offsets[i] * 4 of kTraceEdges; on a
// PackedIndex with codes, node i's code is `dim` bytes at i * dim of kTraceCodes and only the
// re-rank reads kTraceVectors (ids are positions in the packed layout; binary16 rows are
// `dim * 2` bytes at i * dim * 2; a residual re-rank also reads the node's code, which the
// search has just read, so it is not traced again).
// The pool and visited set are assumed on chip and not traced.
inline constexpr const char* kTraceVectors = "ann.vectors";
inline constexpr const char* kTraceCodes = "ann.codes";
inline constexpr const char* kTraceOffsets = "ann.offsets";
inline constexpr const char* kTraceEdges = "ann.edges";
inline constexpr const char* kTraceOverflow = "ann.edges_overflow";
// A PackedIndex's edge bounds (PackOptions::edge_bounds): one byte per slot entry at the
// entry's int index (p * stride + 1 + j), or per overflow entry at overflow offset + the
// slots' byte count; an expansion reads those of the neighbours it considers, plus the first
// it skips.
inline constexpr const char* kTraceEdgeBounds = "ann.edge_bounds";
inline constexpr const char* kTraceQuery = "ann.query";

// A graph under construction: node i's out-neighbours are edges[i * stride, i * stride +
// degree[i]). Fixed-width slots let a builder add and replace edges in place while searching.
struct SlotGraph {
  int stride = 0;
  std::vector<int32_t> edges;
  std::vector<int32_t> degree;
  int32_t entry = 0;

  SlotGraph(int64_t n, int stride_);
  int64_t size() const { return static_cast<int64_t>(degree.size()); }
  const int32_t* neighbours(int64_t i) const { return edges.data() + i * stride; }
  void set(int64_t i, const std::vector<int32_t>& list);  // list.size() <= stride
  Graph to_graph() const;
};

struct SearchOptions {
  int32_t target = -1;           // record SearchStats::target_hop for this node
  MemoryTrace* trace = nullptr;  // append this search's reads (as-soon-as-possible requests)
  std::vector<Neighbour>* collect = nullptr;   // every visited node with its distance (NSG build)
  std::vector<Neighbour>* expanded = nullptr;  // every expanded node with its distance, in order
  // The query's byte row, when the Searcher has byte rows (use_byte_rows): distances then come
  // from l2_sq_bytes, equal bit for bit to the float ones.
  const uint8_t* query_bytes = nullptr;
};

// The index of the first of bound[0, n) above cut (0 <= cut <= 254), or n, for bounds sorted
// in ascending order (a packed list's edge bounds): where the search's reach ends. SSE2.
int first_bound_above(const uint8_t* bound, int n, int cut);

// Beam search (NSG's / HNSW's layer-0 search): a pool of the L best nodes seen, sorted by
// distance; repeatedly expand the best unexpanded pool node, computing the distance of each
// unvisited neighbour and inserting it when it beats the pool's worst; stop when every pool
// node is expanded. Holds scratch space sized for one graph; one Searcher per thread.
class Searcher {
 public:
  Searcher(const Graph& graph, const VectorSet& base);
  // The slot graph may change between searches (not during one).
  Searcher(const SlotGraph& graph, const VectorSet& base);
  // Searches the packed layout; results are ids of the base the index was packed from.
  explicit Searcher(const PackedIndex& index);

  // The base's exact_byte_rows (the Graph and SlotGraph forms): searches given
  // SearchOptions::query_bytes compute their distances on them. Must outlive the Searcher.
  void use_byte_rows(const uint8_t* rows) { byte_rows_ = rows; }

  // Writes the k nearest found (ascending) into ids/dist and returns the counters.
  SearchStats search(const float* query, const SearchParams& params, int32_t* ids, float* dist,
                     const SearchOptions& options = {});

 private:
  // Marks ids[0, n) visited and appends the ones not visited before to fresh_. Without a
  // branch per id (visited or not is a coin flip): every id is written, the count advances
  // only for the unvisited.
  void mark_fresh(const int32_t* ids, int n) {
    // The buffer grows and never shrinks, so a call writes no more than its n ids.
    if (fresh_.size() < fresh_count_ + n) fresh_.resize(2 * (fresh_count_ + n));
    int32_t* out = fresh_.data() + fresh_count_;
    uint8_t* seen = seen_.data();
    const uint8_t epoch = epoch_;
    int m = 0;
    for (int j = 0; j < n; ++j) {
      const int32_t v = ids[j];
      const int unseen = seen[v] != epoch;
      seen[v] = epoch;
      out[m] = v;
      m += unseen;
    }
    fresh_count_ += static_cast<std::size_t>(m);
  }
  const float* vector(int32_t v) const { return vectors_ + static_cast<int64_t>(v) * dim_; }
  int degree(int32_t u) const {
    if (offsets_) return static_cast<int>(offsets_[u + 1] - offsets_[u]);
    return slot_degree_ ? slot_degree_[u] : edges_[static_cast<int64_t>(u) * stride_];
  }
  // Index into edges_ of u's first neighbour.
  int64_t edge_offset(int32_t u) const {
    if (offsets_) return offsets_[u];
    return static_cast<int64_t>(u) * stride_ + (slot_degree_ ? 0 : 1);
  }
  // A PackedIndex slot of a node with more neighbours than fit holds the degree then the
  // list's index in overflow_.
  bool overflows(int deg) const { return overflow_ && deg > stride_ - 1; }
  const int32_t* neighbours(int32_t u) const {
    const int32_t* p = edges_ + edge_offset(u);
    // p[-1] is a PackedIndex slot's degree; only read when there is an overflow array (the
    // CSR and SlotGraph forms have no degree in front of their lists).
    return overflow_ && overflows(p[-1]) ? overflow_ + p[0] : p;
  }

  // Adjacency in one of three forms: CSR (offsets_), slots with a separate degree array
  // (SlotGraph: slot_degree_), or PackedIndex slots that start with the degree (neither).
  const int32_t* edges_;
  const int64_t* offsets_ = nullptr;
  const int32_t* slot_degree_ = nullptr;
  int stride_ = 0;
  const int32_t* overflow_ = nullptr;  // PackedIndex lists longer than a slot
  // PackedIndex edge bounds (lists sorted by length): see within_reach.
  const uint8_t* bounds_ = nullptr;
  const uint8_t* overflow_bounds_ = nullptr;
  float bound_step_ = 0;
  int within_reach(int32_t u, int deg, const int32_t* nb, float dist_u, float worst) const;
  int32_t entry_;
  const std::vector<int32_t>* extra_entries_ = nullptr;
  int64_t nodes_;
  int64_t vector_count_;
  int dim_;
  const float* vectors_;  // null for a PackedIndex with exact codes (rows are decoded) or fp16
  const uint8_t* byte_rows_ = nullptr;  // use_byte_rows
  // A PackedIndex's binary16 re-rank rows: values, or residuals from the codes.
  const uint16_t* half_rows_ = nullptr;
  bool half_residual_ = false;
  HalfKernels half_kernels_{};
  std::vector<float> decoded_;
  // Searches on codes (PackedIndex with codes): distances come from here instead.
  const uint8_t* codes_ = nullptr;
  ScalarQuantizer quantizer_;
  L2CodeBatchKernel code_l2_batch_ = nullptr;
  std::vector<uint8_t> query_code_;
  const int32_t* original_ = nullptr;  // position -> caller's id (PackedIndex)
  // Visited set: node v was visited in this search when seen_[v] == epoch_. Each search takes
  // the next epoch, so nothing is cleared between searches but the whole array once in 255
  // (when the epoch wraps). A byte per node (100 KB at 100k nodes, in the second-level cache)
  // instead of a bit: marking is a load, a compare and a store, where a bit set (in the first-
  // level cache) also needed a shift, a mask and a list of the words to clear afterwards, about
  // 14% of a tight32 search's instructions (docs/ann.md, "Search").
  std::vector<uint8_t> seen_;
  uint8_t epoch_ = 0;
  // A pool entry in one 64-bit word: the distance's bits above, the node id shifted left by
  // one, and the lowest bit set once the node is expanded. Distances are never negative, so
  // their bits order as the floats do, and ids are unique, so one integer comparison orders
  // entries by (distance, id) whatever the flag; it compiles to a conditional move, where
  // the float comparison with its tie-break took branches the predictor cannot learn.
  static uint64_t pool_key(float d, int32_t id) {
    uint32_t bits;
    d += 0.0f;  // -0 to +0
    std::memcpy(&bits, &d, sizeof bits);
    return uint64_t{bits} << 32 | static_cast<uint64_t>(static_cast<uint32_t>(id)) << 1;
  }
  static float key_distance(uint64_t key) {
    const auto bits = static_cast<uint32_t>(key >> 32);
    float d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  static int32_t key_id(uint64_t key) { return static_cast<int32_t>(key >> 1 & 0x7fffffffu); }
  static constexpr uint64_t kExpanded = 1;
  std::vector<uint64_t> pool_;
  std::vector<uint64_t> batch_;  // the pool entries being expanded
  std::vector<int32_t> fresh_;   // their unvisited neighbours: the first fresh_count_ entries
  std::size_t fresh_count_ = 0;
  std::vector<float> fresh_dist_;
  std::vector<uint32_t> fresh_code_dist_;
};

// Searches every query on `threads` OpenMP threads (0 = default); per-query counters go to
// `stats` when non-null. Results are identical whatever the thread count.
KnnResult search_batch(const Graph& graph, const VectorSet& base, const VectorSet& queries,
                       const SearchParams& params, int threads = 0,
                       std::vector<SearchStats>* stats = nullptr);

// Single-thread searches of `queries` with their memory reads appended to one trace, query by
// query (each query's own vector read first, as object kTraceQuery, offset q * dim * 4).
MemoryTrace trace_searches(const Graph& graph, const VectorSet& base, const VectorSet& queries,
                           const SearchParams& params);

// The same over a packed layout (ids returned are the base's).
KnnResult search_batch(const PackedIndex& index, const VectorSet& queries,
                       const SearchParams& params, int threads = 0,
                       std::vector<SearchStats>* stats = nullptr);
MemoryTrace trace_searches(const PackedIndex& index, const VectorSet& queries,
                           const SearchParams& params);

}  // namespace tessel::ann
