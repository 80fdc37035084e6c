// Beam search over a proximity graph: sorted candidate pool, epoch-tagged visited set.
#include "models/ann/search.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "models/ann/distance.h"
#include "runtime/core/error.h"

namespace tessel::ann {
namespace {

void check_params(int64_t nodes, const VectorSet& base, const SearchParams& p) {
  if (p.k < 1 || p.L < p.k)
    throw Error("ann search: need 1 <= k <= L (k = " + std::to_string(p.k) +
                    ", L = " + std::to_string(p.L) + ")",
                kExitFailure);
  if (nodes != base.n)
    throw Error("ann search: graph has " + std::to_string(nodes) + " nodes but the base has " +
                    std::to_string(base.n) + " vectors",
                kExitFailure);
}

}  // namespace

SlotGraph::SlotGraph(int64_t n, int stride_)
    : stride(stride_),
      edges(static_cast<std::size_t>(n) * stride_, 0),
      degree(static_cast<std::size_t>(n), 0) {}

void SlotGraph::set(int64_t i, const std::vector<int32_t>& list) {
  if (static_cast<int>(list.size()) > stride)
    throw Error("SlotGraph::set: list longer than the slot", kExitFailure);
  std::copy(list.begin(), list.end(), edges.begin() + i * stride);
  degree[i] = static_cast<int32_t>(list.size());
}

Graph SlotGraph::to_graph() const {
  std::vector<std::vector<int32_t>> lists(static_cast<std::size_t>(size()));
  for (int64_t i = 0; i < size(); ++i) lists[i].assign(neighbours(i), neighbours(i) + degree[i]);
  return Graph::from_lists(lists, entry);
}

Searcher::Searcher(const Graph& graph, const VectorSet& base)
    : edges_(graph.edges.data()),
      offsets_(graph.offsets.data()),
      entry_(graph.entry),
      extra_entries_(&graph.extra_entries),
      nodes_(graph.size()),
      base_(base),
      visited_(static_cast<std::size_t>(base.n), 0) {}

Searcher::Searcher(const SlotGraph& graph, const VectorSet& base)
    : edges_(graph.edges.data()),
      slot_degree_(graph.degree.data()),
      stride_(graph.stride),
      entry_(graph.entry),
      nodes_(graph.size()),
      base_(base),
      visited_(static_cast<std::size_t>(base.n), 0) {}

SearchStats Searcher::search(const float* query, const SearchParams& params, int32_t* ids,
                             float* dist, const SearchOptions& options) {
  check_params(nodes_, base_, params);
  if (++epoch_ == 0) {  // wrapped: stale tags could read as visited
    std::fill(visited_.begin(), visited_.end(), 0);
    epoch_ = 1;
  }
  const int dim = base_.dim;
  const int L = params.L;
  MemoryTrace* trace = options.trace;
  uint32_t obj_vec = 0, obj_off = 0, obj_edge = 0;
  if (trace) {
    obj_vec = trace->object_index(kTraceVectors);
    obj_off = trace->object_index(kTraceOffsets);
    obj_edge = trace->object_index(kTraceEdges);
  }
  auto trace_read = [&](uint32_t obj, uint64_t offset, uint64_t bytes) {
    if (!trace || bytes == 0) return;
    MemoryRequest r;
    r.object = obj;
    r.address = offset;
    r.bytes = static_cast<uint32_t>(bytes);
    trace->requests.push_back(r);
  };
  const uint64_t vec_bytes = static_cast<uint64_t>(dim) * 4;

  SearchStats st;
  pool_.clear();
  expanded_.clear();
  // Inserts keeping pool_ sorted and at most L long; returns the insertion index or L.
  auto insert = [&](Neighbour nb) -> int {
    if (static_cast<int>(pool_.size()) == L && !(nb < pool_.back())) return L;
    const int pos =
        static_cast<int>(std::upper_bound(pool_.begin(), pool_.end(), nb) - pool_.begin());
    if (static_cast<int>(pool_.size()) == L) {
      pool_.pop_back();
      expanded_.pop_back();
    }
    pool_.insert(pool_.begin() + pos, nb);
    expanded_.insert(expanded_.begin() + pos, 0);
    return pos;
  };
  auto visit = [&](int32_t v) -> int {
    trace_read(obj_vec, static_cast<uint64_t>(v) * vec_bytes, vec_bytes);
    const float d = l2_sq(query, base_.row(v), dim);
    ++st.distances;
    ++st.visited;
    if (options.collect) options.collect->push_back({d, v});
    if (v == options.target && st.target_hop < 0) st.target_hop = st.hops;
    return insert({d, v});
  };

  if (mark(entry_)) visit(entry_);
  if (extra_entries_)
    for (int32_t e : *extra_entries_)
      if (mark(e)) visit(e);

  int next = 0;  // every pool entry before `next` is expanded
  while (next < static_cast<int>(pool_.size())) {
    if (expanded_[next]) {
      ++next;
      continue;
    }
    expanded_[next] = 1;
    const int32_t u = pool_[next].id;
    ++st.hops;
    trace_read(obj_off, static_cast<uint64_t>(u) * 8, 16);
    const int deg = degree(u);
    const int32_t* nb = neighbours(u);
    trace_read(obj_edge, static_cast<uint64_t>(edge_offset(u)) * 4, static_cast<uint64_t>(deg) * 4);
    // Mark the unvisited neighbours and fetch every cache line of their vectors before the first
    // distance: the misses then overlap instead of stalling one distance after another.
    fresh_.clear();
    for (int j = 0; j < deg; ++j)
      if (mark(nb[j])) fresh_.push_back(nb[j]);
    const std::size_t line_floats = 64 / sizeof(float);
    for (int32_t v : fresh_) {
      const float* row = base_.row(v);
      for (std::size_t off = 0; off < static_cast<std::size_t>(dim); off += line_floats)
        __builtin_prefetch(row + off);
    }
    int lowest = static_cast<int>(pool_.size());
    for (int32_t v : fresh_) lowest = std::min(lowest, visit(v));
    // A new node that landed before `next` must be expanded before continuing further down.
    if (lowest <= next) next = lowest;
  }
  const int found = std::min<int>(params.k, static_cast<int>(pool_.size()));
  for (int i = 0; i < params.k; ++i) {
    ids[i] = i < found ? pool_[i].id : -1;
    dist[i] = i < found ? pool_[i].dist : INFINITY;
  }
  return st;
}

KnnResult search_batch(const Graph& graph, const VectorSet& base, const VectorSet& queries,
                       const SearchParams& params, int threads, std::vector<SearchStats>* stats) {
  check_params(graph.size(), base, params);
  if (queries.dim != base.dim)
    throw Error("ann search: query dimension " + std::to_string(queries.dim) +
                    " != base dimension " + std::to_string(base.dim),
                kExitFailure);
  KnnResult out;
  out.nq = queries.n;
  out.k = params.k;
  out.ids.resize(static_cast<std::size_t>(queries.n) * params.k);
  out.dist.resize(out.ids.size());
  if (stats) stats->assign(static_cast<std::size_t>(queries.n), SearchStats{});
  if (threads <= 0) threads = omp_get_max_threads();
#pragma omp parallel num_threads(threads)
  {
    Searcher searcher(graph, base);
#pragma omp for schedule(dynamic, 16)
    for (int64_t q = 0; q < queries.n; ++q) {
      SearchStats s = searcher.search(queries.row(q), params, out.ids.data() + q * params.k,
                                      out.dist.data() + q * params.k);
      if (stats) (*stats)[q] = s;
    }
  }
  return out;
}

MemoryTrace trace_searches(const Graph& graph, const VectorSet& base, const VectorSet& queries,
                           const SearchParams& params) {
  MemoryTrace trace;
  const uint32_t obj_query = trace.object_index(kTraceQuery);
  Searcher searcher(graph, base);
  std::vector<int32_t> ids(params.k);
  std::vector<float> dist(params.k);
  SearchOptions opt;
  opt.trace = &trace;
  for (int64_t q = 0; q < queries.n; ++q) {
    MemoryRequest r;
    r.object = obj_query;
    r.address = static_cast<uint64_t>(q) * queries.dim * 4;
    r.bytes = static_cast<uint32_t>(queries.dim) * 4;
    trace.requests.push_back(r);
    searcher.search(queries.row(q), params, ids.data(), dist.data(), opt);
  }
  return trace;
}

}  // namespace tessel::ann
