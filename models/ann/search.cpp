// Beam search over a proximity graph: sorted candidate pool, bit-set visited set.
#include "models/ann/search.h"

#include <omp.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "models/ann/distance.h"
#include "runtime/core/error.h"

namespace tessel::ann {
namespace {

void check_params(int64_t nodes, int64_t vectors, const SearchParams& p) {
  if (p.k < 1 || p.L < p.k)
    throw Error("ann search: need 1 <= k <= L (k = " + std::to_string(p.k) +
                    ", L = " + std::to_string(p.L) + ")",
                kExitFailure);
  if (p.width < 1)
    throw Error("ann search: width must be >= 1 (got " + std::to_string(p.width) + ")",
                kExitFailure);
  if (nodes != vectors)
    throw Error("ann search: graph has " + std::to_string(nodes) + " nodes but the base has " +
                    std::to_string(vectors) + " vectors",
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
      vector_count_(base.n),
      dim_(base.dim),
      vectors_(base.data.data()),
      seen_(static_cast<std::size_t>(base.n), 0) {}

Searcher::Searcher(const SlotGraph& graph, const VectorSet& base)
    : edges_(graph.edges.data()),
      slot_degree_(graph.degree.data()),
      stride_(graph.stride),
      entry_(graph.entry),
      nodes_(graph.size()),
      vector_count_(base.n),
      dim_(base.dim),
      vectors_(base.data.data()),
      seen_(static_cast<std::size_t>(base.n), 0) {}

Searcher::Searcher(const PackedIndex& index)
    : edges_(index.slots()),
      stride_(index.slot_stride()),
      overflow_(index.overflow()),
      bounds_(index.edge_bounds()),
      overflow_bounds_(index.overflow_bounds()),
      bound_step_(index.bound_step()),
      entry_(index.entry()),
      extra_entries_(&index.extra_entries()),
      nodes_(index.size()),
      vector_count_(index.size()),
      dim_(index.dim()),
      vectors_(index.has_vectors() && index.rerank_vectors() == RerankVectors::kFloat32
                   ? index.vector(0)
                   : nullptr),
      half_rows_(index.has_vectors() && index.rerank_vectors() != RerankVectors::kFloat32
                     ? index.half_vector(0)
                     : nullptr),
      half_residual_(index.rerank_vectors() == RerankVectors::kHalfResidual),
      half_kernels_(best_half_kernels()),
      decoded_(index.has_vectors() ? 0 : static_cast<std::size_t>(index.dim())),
      codes_(index.codes()),
      quantizer_(index.quantizer()),
      code_l2_batch_(l2_code_batch_kernel(index.options().avx2)),
      query_code_(static_cast<std::size_t>(index.dim())),
      original_(index.original_ids().data()),
      seen_(static_cast<std::size_t>(index.size()), 0) {}

// The index of the first of bound[0, deg) above cut (0 <= cut <= 254), or deg. The bounds are
// sorted (lists are in order of length), so that is where the reachable prefix ends. Sixteen
// bytes at a time; every read lies inside [bound, bound + deg).
int first_bound_above(const uint8_t* bound, int deg, int cut) {
#if defined(__SSE2__)
  const __m128i above = _mm_set1_epi8(static_cast<char>(cut + 1));
  // Bytes >= cut + 1, as a bit mask: max(b, cut + 1) == b.
  auto beyond = [&](const uint8_t* at) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
    return _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(b, above), b));
  };
  int i = 0;
  for (; i + 16 <= deg; i += 16)
    if (const int mask = beyond(bound + i)) return i + __builtin_ctz(static_cast<unsigned>(mask));
  if (i == deg) return deg;
  if (deg >= 16) {
    // The last 16 bytes, of which the first 16 - (deg - i) were checked above.
    const int mask = beyond(bound + deg - 16) & (0xffff << (16 - (deg - i)));
    return mask ? deg - 16 + __builtin_ctz(static_cast<unsigned>(mask)) : deg;
  }
  while (i < deg && bound[i] <= cut) ++i;
  return i;
#else
  int i = 0;
  while (i < deg && bound[i] <= cut) ++i;
  return i;
#endif
}

// How many of u's neighbours (sorted by edge length) an expansion must consider: with the
// query at squared distance dist_u from u and the full pool's worst at squared distance worst,
// a neighbour v with |uv| > |qu| + |q worst| is farther than the worst (|qv| >= |uv| - |qu|)
// and could never enter the pool, now or later (the worst only falls). The bounds are lower
// bounds of |uv|, so a skipped neighbour is beyond for certain; the relative margin of 1e-5
// covers the float rounding of the square roots and of the stored distances.
int Searcher::within_reach(int32_t u, int deg, const int32_t* nb, float dist_u, float worst) const {
  const float limit = (std::sqrt(dist_u) + std::sqrt(worst)) * (1 + 1e-5f) / bound_step_;
  if (!(limit < 255)) return deg;
  const int cut = static_cast<int>(limit);  // a bound above this is beyond the worst
  const uint8_t* bound =
      overflows(deg) ? overflow_bounds_ + (nb - overflow_) : bounds_ + edge_offset(u);
  return first_bound_above(bound, deg, cut);
}

SearchStats Searcher::search(const float* query, const SearchParams& params, int32_t* ids,
                             float* dist, const SearchOptions& options) {
  check_params(nodes_, vector_count_, params);
  if (++epoch_ == 0) {  // wrapped: no node may still carry the new epoch
    std::fill(seen_.begin(), seen_.end(), 0);
    epoch_ = 1;
  }
  const int dim = dim_;
  const int L = params.L;
  const int width = params.width;
  MemoryTrace* trace = options.trace;
  uint32_t obj_vec = 0, obj_code = 0, obj_off = 0, obj_edge = 0, obj_over = 0, obj_bound = 0;
  if (trace) {
    if (bounds_) obj_bound = trace->object_index(kTraceEdgeBounds);
    if (vectors_ || half_rows_) obj_vec = trace->object_index(kTraceVectors);
    if (codes_) obj_code = trace->object_index(kTraceCodes);
    if (offsets_) obj_off = trace->object_index(kTraceOffsets);
    obj_edge = trace->object_index(kTraceEdges);
    if (overflow_) obj_over = trace->object_index(kTraceOverflow);
  }
  auto trace_read = [&](uint32_t obj, uint64_t offset, uint64_t bytes) {
    if (!trace || bytes == 0) return;
    MemoryRequest r;
    r.object = obj;
    r.address = offset;
    r.bytes = static_cast<uint32_t>(bytes);
    trace->requests.push_back(r);
  };
  const uint64_t vec_bytes = static_cast<uint64_t>(dim) * (half_rows_ ? 2 : 4);
  const uint8_t* query_bytes = byte_rows_ && vectors_ ? options.query_bytes : nullptr;
  if (codes_) quantizer_.encode(query, dim, query_code_.data());

  SearchStats st;
  // The pool: the best `size` nodes seen, sorted, in a fixed array of L entries.
  pool_.resize(static_cast<std::size_t>(L));
  uint64_t* pool = pool_.data();
  int size = 0;
  auto float_distance = [&](int32_t v) -> float {
    if (half_rows_) {
      trace_read(obj_vec, static_cast<uint64_t>(v) * vec_bytes, vec_bytes);
      const uint16_t* row = half_rows_ + static_cast<int64_t>(v) * dim;
      if (!half_residual_) return half_kernels_.l2(query, row, dim);
      // The code row was read by the search already (a re-ranked node is a pool node).
      return half_kernels_.l2_residual(query, codes_ + static_cast<int64_t>(v) * dim, row,
                                       quantizer_.offset, quantizer_.step, dim);
    }
    if (!vectors_) {
      // Exact codes: the decoded row is the base row, bit for bit.
      const uint8_t* code = codes_ + static_cast<int64_t>(v) * dim;
      trace_read(obj_code, static_cast<uint64_t>(v) * dim, static_cast<uint64_t>(dim));
      for (int i = 0; i < dim; ++i) decoded_[i] = quantizer_.offset + quantizer_.step * code[i];
      return l2_sq(query, decoded_.data(), dim);
    }
    trace_read(obj_vec, static_cast<uint64_t>(v) * vec_bytes, vec_bytes);
    if (query_bytes)
      return l2_sq_bytes(query_bytes, byte_rows_ + static_cast<int64_t>(v) * dim, query, vector(v),
                         dim);
    return l2_sq(query, vector(v), dim);
  };
  // Fetches every cache line of a row (its code when searching on codes) before it is needed.
  auto prefetch = [&](int32_t v, bool code) {
    code = code || (!vectors_ && !half_rows_);
    const bool byte_row = !code && query_bytes;
    const char* row =
        code         ? reinterpret_cast<const char*>(codes_ + static_cast<int64_t>(v) * dim)
        : byte_row   ? reinterpret_cast<const char*>(byte_rows_ + static_cast<int64_t>(v) * dim)
        : half_rows_ ? reinterpret_cast<const char*>(half_rows_ + static_cast<int64_t>(v) * dim)
                     : reinterpret_cast<const char*>(vector(v));
    const uint64_t bytes = code || byte_row ? static_cast<uint64_t>(dim) : vec_bytes;
    for (uint64_t off = 0; off < bytes; off += 64) __builtin_prefetch(row + off);
  };

  // Computes the distances of every node in fresh_ (marked, rows prefetched), then inserts them:
  // the kernels run back to back. Returns the lowest insertion index (size if none).
  auto evaluate_fresh = [&]() -> int {
    const int count = static_cast<int>(fresh_count_);
    const int32_t* fresh = fresh_.data();
    if (fresh_dist_.size() < fresh_.size()) fresh_dist_.resize(fresh_.size());
    float* fresh_dist = fresh_dist_.data();
    if (codes_) {
      if (fresh_code_dist_.size() < fresh_.size()) fresh_code_dist_.resize(fresh_.size());
      code_l2_batch_(query_code_.data(), codes_, fresh, count, dim, fresh_code_dist_.data());
      quantizer_.decode_distances(fresh_code_dist_.data(), count, fresh_dist);
      if (trace)
        for (int j = 0; j < count; ++j)
          trace_read(obj_code, static_cast<uint64_t>(fresh[j]) * dim, static_cast<uint64_t>(dim));
    } else {
      for (int j = 0; j < count; ++j) fresh_dist[j] = float_distance(fresh[j]);
    }
    st.distances += count;
    st.visited += count;
    if (options.collect || options.target >= 0)
      for (int j = 0; j < count; ++j) {
        if (options.collect) options.collect->push_back({fresh_dist[j], fresh[j]});
        if (fresh[j] == options.target && st.target_hop < 0) st.target_hop = st.hops;
      }
    // Insert each into the sorted pool of at most L entries. The pool's size is kept in a
    // register for the loop: the pool's and the counters' stores could otherwise alias it.
    int n = size, lowest = size;
    for (int j = 0; j < count; ++j) {
      const uint64_t e = pool_key(fresh_dist[j], fresh[j]);
      if (n == L && !(e < pool[L - 1])) continue;
      // Branch-free lower bound on the integer keys (ids are unique, so it is also the upper
      // bound): the comparisons of a beam search are coin flips a branch predictor cannot learn.
      int pos = 0;
      if (n > 0) {
        const uint64_t* base = pool;
        for (int left = n; left > 1;) {
          const int half = left / 2;
          base = base[half] < e ? base + half : base;
          left -= half;
        }
        pos = static_cast<int>(base - pool) + (*base < e ? 1 : 0);
      }
      const int kept = std::min(n, L - 1);  // entries that survive the insertion
      std::memmove(pool + pos + 1, pool + pos, sizeof(uint64_t) * (kept - pos));
      pool[pos] = e;
      n = kept + 1;
      lowest = std::min(lowest, pos);
    }
    size = n;
    return lowest;
  };

  fresh_count_ = 0;
  mark_fresh(&entry_, 1);
  if (extra_entries_) mark_fresh(extra_entries_->data(), static_cast<int>(extra_entries_->size()));
  evaluate_fresh();

  int next = 0;  // every pool entry before `next` is expanded
  while (next < size) {
    if (pool[next] & kExpanded) {
      ++next;
      continue;
    }
    // Expand the `width` best unexpanded entries together (one, the classic search, by default).
    batch_.clear();
    int after = next;  // the first unexpanded entry after the batch, if any
    for (; after < size; ++after) {
      if (pool[after] & kExpanded) continue;
      if (static_cast<int>(batch_.size()) == width) break;
      pool[after] |= kExpanded;
      batch_.push_back(pool[after]);
      if (options.expanded)
        options.expanded->push_back({key_distance(pool[after]), key_id(pool[after])});
    }
    // The next expansion most likely starts at `after`: fetch its adjacency now so it arrives
    // while this batch's distances are computed.
    if (after < size) {
      const int32_t id = key_id(pool[after]);
      if (offsets_) __builtin_prefetch(offsets_ + id);
      __builtin_prefetch(edges_ + edge_offset(id));
      if (bounds_) __builtin_prefetch(bounds_ + edge_offset(id));
    }
    // With edge bounds and a full pool, the neighbours beyond the pool's worst are skipped.
    const float worst = bounds_ && size == L ? key_distance(pool[L - 1]) : INFINITY;
    // Mark the unvisited neighbours and fetch their rows before the first distance: the misses
    // then overlap instead of stalling one distance after another. All distances are computed
    // before any insertion, so the kernels run back to back.
    fresh_count_ = 0;
    for (const uint64_t entry : batch_) {
      const int32_t u = key_id(entry);
      ++st.hops;
      if (offsets_) trace_read(obj_off, static_cast<uint64_t>(u) * 8, 16);
      const int deg = degree(u);
      const int32_t* nb = neighbours(u);
      const int reach =
          worst < INFINITY ? within_reach(u, deg, nb, key_distance(entry), worst) : deg;
      // A PackedIndex slot is read from its start: the degree and the list up to its reach.
      const bool inline_degree = !offsets_ && !slot_degree_;
      if (overflows(deg)) {
        // The slot's degree and index, then the list in the overflow array.
        trace_read(obj_edge, static_cast<uint64_t>(edge_offset(u) - 1) * 4, 8);
        trace_read(obj_over, static_cast<uint64_t>(nb - overflow_) * 4,
                   static_cast<uint64_t>(reach) * 4);
      } else {
        trace_read(obj_edge, static_cast<uint64_t>(edge_offset(u) - inline_degree) * 4,
                   static_cast<uint64_t>(reach + inline_degree) * 4);
      }
      if (bounds_ && trace) {
        // Overflow bounds follow the slots' (one byte per slot entry) in the trace's object.
        const uint64_t slot_bytes = static_cast<uint64_t>(nodes_) * stride_;
        const uint64_t at = overflows(deg) ? slot_bytes + static_cast<uint64_t>(nb - overflow_)
                                           : static_cast<uint64_t>(edge_offset(u));
        trace_read(obj_bound, at, static_cast<uint64_t>(std::min(deg, reach + 1)));
      }
      mark_fresh(nb, reach);
    }
    for (std::size_t i = 0; i < fresh_count_; ++i) prefetch(fresh_[i], codes_ != nullptr);
    const int lowest = evaluate_fresh();
    // A new node that landed before `next` must be expanded before continuing further down.
    if (lowest <= next) next = lowest;
  }

  // Code distances rank approximately: re-rank the best few by their float distance.
  const int rerank = std::min(size, !codes_               ? 0
                                    : params.rerank >= 0  ? params.rerank
                                    : quantizer_.lossless ? 0
                                                          : 3 * params.k);
  for (int i = 0; i < rerank; ++i) prefetch(key_id(pool[i]), false);
  for (int i = 0; i < rerank; ++i) {
    const int32_t id = key_id(pool[i]);
    pool[i] = pool_key(float_distance(id), id);
  }
  if (codes_) end_code_kernels();
  st.reranked = rerank;
  std::sort(pool, pool + rerank);

  const int found = std::min(params.k, size);
  for (int i = 0; i < params.k; ++i) {
    const int32_t id = i < found ? key_id(pool[i]) : -1;
    ids[i] = i >= found ? -1 : original_ ? original_[id] : id;
    dist[i] = i < found ? key_distance(pool[i]) : INFINITY;
  }
  return st;
}

namespace {

// Runs every query through a Searcher made by `make` (one per OpenMP thread).
template <typename MakeSearcher>
KnnResult run_batch(int64_t nodes, int64_t vectors, int dim, const VectorSet& queries,
                    const SearchParams& params, int threads, std::vector<SearchStats>* stats,
                    MakeSearcher make) {
  check_params(nodes, vectors, params);
  if (queries.dim != dim)
    throw Error("ann search: query dimension " + std::to_string(queries.dim) +
                    " != base dimension " + std::to_string(dim),
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
    Searcher searcher = make();
#pragma omp for schedule(dynamic, 16)
    for (int64_t q = 0; q < queries.n; ++q) {
      SearchStats s = searcher.search(queries.row(q), params, out.ids.data() + q * params.k,
                                      out.dist.data() + q * params.k);
      if (stats) (*stats)[q] = s;
    }
  }
  return out;
}

// Single-thread searches with every read appended to one trace, each query's own vector first.
MemoryTrace run_traced(Searcher& searcher, const VectorSet& queries, const SearchParams& params) {
  MemoryTrace trace;
  const uint32_t obj_query = trace.object_index(kTraceQuery);
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

}  // namespace

KnnResult search_batch(const Graph& graph, const VectorSet& base, const VectorSet& queries,
                       const SearchParams& params, int threads, std::vector<SearchStats>* stats) {
  return run_batch(graph.size(), base.n, base.dim, queries, params, threads, stats,
                   [&] { return Searcher(graph, base); });
}

KnnResult search_batch(const PackedIndex& index, const VectorSet& queries,
                       const SearchParams& params, int threads, std::vector<SearchStats>* stats) {
  return run_batch(index.size(), index.size(), index.dim(), queries, params, threads, stats,
                   [&] { return Searcher(index); });
}

MemoryTrace trace_searches(const Graph& graph, const VectorSet& base, const VectorSet& queries,
                           const SearchParams& params) {
  Searcher searcher(graph, base);
  return run_traced(searcher, queries, params);
}

MemoryTrace trace_searches(const PackedIndex& index, const VectorSet& queries,
                           const SearchParams& params) {
  Searcher searcher(index);
  return run_traced(searcher, queries, params);
}

}  // namespace tessel::ann
