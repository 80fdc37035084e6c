// Greedy / beam search on a proximity graph, with per-query counters and memory traces.
#pragma once

#include <cstdint>
#include <vector>

#include "models/ann/graph.h"
#include "models/ann/knn.h"
#include "models/ann/vectors.h"
#include "runtime/core/memory_trace.h"

namespace tessel::ann {

struct SearchParams {
  int L = 64;  // candidate pool size; L = 1 is pure greedy descent
  int k = 10;  // results returned (k <= L)
};

// What one search cost. Every node whose distance is computed is marked visited first, so
// `distances` == `visited` here; both are kept because other search variants (re-ranking,
// compressed distances) separate them and the traces are sized by them.
struct SearchStats {
  int64_t distances = 0;  // full-precision distance evaluations
  int64_t hops = 0;       // nodes expanded (adjacency lists read)
  int64_t visited = 0;    // distinct nodes touched
  // Expansions done when `target` (SearchOptions) first entered the pool; -1 if it never did.
  int64_t target_hop = -1;

  SearchStats& operator+=(const SearchStats& o) {
    distances += o.distances, hops += o.hops, visited += o.visited;
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
// kTraceOffsets) then its neighbour ids (4 bytes each) at offsets[i] * 4 of kTraceEdges.
// The pool and visited set are assumed on chip and not traced.
inline constexpr const char* kTraceVectors = "ann.vectors";
inline constexpr const char* kTraceOffsets = "ann.offsets";
inline constexpr const char* kTraceEdges = "ann.edges";
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
  std::vector<Neighbour>* collect = nullptr;  // every visited node with its distance (NSG build)
};

// Beam search (NSG's / HNSW's layer-0 search): a pool of the L best nodes seen, sorted by
// distance; repeatedly expand the best unexpanded pool node, computing the distance of each
// unvisited neighbour and inserting it when it beats the pool's worst; stop when every pool
// node is expanded. Holds scratch space sized for one graph; one Searcher per thread.
class Searcher {
 public:
  Searcher(const Graph& graph, const VectorSet& base);
  // The slot graph may change between searches (not during one).
  Searcher(const SlotGraph& graph, const VectorSet& base);

  // Writes the k nearest found (ascending) into ids/dist and returns the counters.
  SearchStats search(const float* query, const SearchParams& params, int32_t* ids, float* dist,
                     const SearchOptions& options = {});

 private:
  bool mark(int32_t v) {
    if (visited_[v] == epoch_) return false;
    visited_[v] = epoch_;
    return true;
  }
  int degree(int32_t u) const {
    return offsets_ ? static_cast<int>(offsets_[u + 1] - offsets_[u]) : slot_degree_[u];
  }
  const int32_t* neighbours(int32_t u) const {
    return offsets_ ? edges_ + offsets_[u] : edges_ + static_cast<int64_t>(u) * stride_;
  }
  int64_t edge_offset(int32_t u) const {
    return offsets_ ? offsets_[u] : static_cast<int64_t>(u) * stride_;
  }

  const int32_t* edges_;
  const int64_t* offsets_ = nullptr;      // CSR graph
  const int32_t* slot_degree_ = nullptr;  // slot graph
  int stride_ = 0;
  int32_t entry_;
  const std::vector<int32_t>* extra_entries_ = nullptr;
  int64_t nodes_;
  const VectorSet& base_;
  std::vector<uint32_t> visited_;
  uint32_t epoch_ = 0;
  std::vector<Neighbour> pool_;
  std::vector<char> expanded_;
  std::vector<int32_t> fresh_;  // unvisited neighbours of the node being expanded
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

}  // namespace tessel::ann
