// NSG construction: NN-descent, search-collect-prune, reverse edges, DFS connectivity repair.
#include "models/ann/nsg.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include "models/ann/distance.h"
#include "models/ann/mrng.h"
#include "models/ann/search.h"
#include "models/common/rng.h"
#include "runtime/core/error.h"
#include "runtime/core/seed.h"

namespace tessel::ann {
namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void sort_unique(std::vector<Neighbour>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end(),
                      [](const Neighbour& a, const Neighbour& b) { return a.id == b.id; }),
          v.end());
}

// Steps 3-5 on `search_graph` (the kNN graph in the first pass, the previous NSG after).
// `bytes`: the base's exact_byte_rows (empty for a float base), computed once per build.
Graph prune_pass(const VectorSet& base, const std::vector<uint8_t>& bytes, const NsgParams& p,
                 int threads, const Graph& search_graph,
                 const std::vector<std::vector<Neighbour>>& knn, NsgStats& st, int pass,
                 const std::function<void(const std::string&, int64_t, int64_t)>& progress) {
  const int64_t n = base.n;
  const int dim = base.dim;
  auto byte_row = [&](int64_t a) { return bytes.data() + a * dim; };
  auto dist = [&](int32_t a, int32_t b) {
    if (!bytes.empty()) return l2_sq_bytes(byte_row(a), byte_row(b), base.row(a), base.row(b), dim);
    return l2_sq(base.row(a), base.row(b), dim);
  };
  const std::string tag = "pass " + std::to_string(pass + 1) + ": ";
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::vector<Neighbour>> out(n);  // pruned lists with distances to the owner
  // Nodes are taken in breadth-first order over the kNN lists, so that consecutive searches
  // read nearly the same rows and find them in cache. Each node's list depends only on the
  // search graph, so the order changes the time, not the graph.
  const std::vector<int32_t> order = breadth_first_order(n, {}, [&](int32_t u, const auto& visit) {
    for (const Neighbour& nb : knn[u]) visit(nb.id);
  });
  int64_t prune_evals = 0, done = 0;
  // Step 6's candidates: each node's nearest R candidates that its pruned list does not hold.
  std::vector<std::vector<int32_t>> occluded(p.slot_fill ? n : 0);
#pragma omp parallel num_threads(threads) reduction(+ : prune_evals)
  {
    Searcher searcher(search_graph, base);
    if (!bytes.empty()) searcher.use_byte_rows(bytes.data());
    std::vector<int32_t> ids(p.L);
    std::vector<float> ds(p.L);
    std::vector<Neighbour> pool, path;
    SearchOptions opt;
    opt.collect = &pool;
    if (p.path_candidates) opt.expanded = &path;
#pragma omp for schedule(dynamic, 64)
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = order[i];
      pool.clear();
      path.clear();
      if (!bytes.empty()) opt.query_bytes = byte_row(v);
      searcher.search(base.row(v), SearchParams{p.L, 1}, ids.data(), ds.data(), opt);
      for (const Neighbour& nb : knn[v]) pool.push_back(nb);
      // Later passes also keep the previous pass's edges as candidates.
      if (pass > 0)
        for (int j = 0; j < search_graph.degree(v); ++j) {
          const int32_t u = search_graph.neighbours(v)[j];
          pool.push_back({dist(static_cast<int32_t>(v), u), u});
        }
      pool.erase(
          std::remove_if(pool.begin(), pool.end(), [&](const Neighbour& nb) { return nb.id == v; }),
          pool.end());
      // The C nearest distinct candidates. The search visits each node once, so duplicates
      // come only from the kNN list and the previous edges, and they equal the search's own
      // entries (same id, same distance): the C nearest distinct ones lie among the
      // C + `duplicates` nearest entries. Selecting those first and sorting only them gives
      // the result of sorting the whole pool (often 1,000+ entries) at a third of the cost.
      const std::size_t duplicates =
          knn[v].size() + (pass > 0 ? static_cast<std::size_t>(search_graph.degree(v)) : 0);
      const std::size_t keep = static_cast<std::size_t>(p.C) + duplicates;
      if (pool.size() > keep) {
        std::nth_element(pool.begin(), pool.begin() + keep, pool.end());
        pool.resize(keep);
      }
      sort_unique(pool);
      if (static_cast<int>(pool.size()) > p.C) {
        // The C nearest, then (path_candidates) the search path's nodes beyond them, in order
        // of distance, so the pool stays sorted. The path is where the prune finds long edges:
        // when the search visits many more nodes than C (a large build pool L), the C nearest
        // can all be local. Without the path the 200k mixture built with L = 60 reached
        // recall@10 0.907 at search L = 256, with it 0.996 (docs/ann.md, "The search path as
        // candidates"). At the default L = 40 the path nearly always lies within the C nearest.
        const float cut = pool[p.C - 1].dist;
        pool.resize(p.C);
        std::sort(path.begin(), path.end());
        for (const Neighbour& nb : path)
          if (nb.id != v && cut < nb.dist) pool.push_back(nb);
      }
      int64_t evals = 0;
      const auto kept = select_mrng(pool, p.R, dist, &evals, p.alpha);
      prune_evals += evals;
      auto& o = out[v];
      o.reserve(kept.size());
      // `pool` is sorted, so the kept ids' distances are found by a forward scan.
      std::size_t j = 0;
      for (int32_t id : kept) {
        while (pool[j].id != id) ++j;
        o.push_back(pool[j]);
      }
      if (p.slot_fill)
        for (const Neighbour& nb : pool) {
          if (static_cast<int>(occluded[v].size()) >= p.R) break;
          if (std::find(kept.begin(), kept.end(), nb.id) == kept.end())
            occluded[v].push_back(nb.id);
        }
      if (progress) {
        int64_t d;
#pragma omp atomic capture
        d = ++done;
        if (d % 20000 == 0) {
#pragma omp critical(nsg_progress)
          progress(tag + "search-collect-prune", d, n);
        }
      }
    }
  }
  st.prune_distances += prune_evals;
  st.seconds_prune += since(t0);

  // 4. Reverse edges: gather p into each q's incoming candidates, then merge and re-prune.
  t0 = std::chrono::steady_clock::now();
  std::vector<std::vector<Neighbour>> incoming(n);
  for (int64_t v = 0; v < n; ++v)
    for (const Neighbour& nb : out[v])
      incoming[nb.id].push_back({nb.dist, static_cast<int32_t>(v)});
  // kFill refills from the dropped edges whose targets have the fewest step-3 in-edges.
  std::vector<int32_t> step3_in_degree(p.reverse == ReverseMerge::kFill ? n : 0, 0);
  if (p.reverse == ReverseMerge::kFill)
    for (int64_t v = 0; v < n; ++v)
      for (const Neighbour& nb : out[v]) ++step3_in_degree[nb.id];
  // The lists after merging by `merge` (kSlack keeps lists up to ceil(slack * R) whole).
  auto merge_lists = [&](ReverseMerge merge, float slack) {
    std::vector<std::vector<int32_t>> lists(n);
    int64_t reverse_evals = 0;
#pragma omp parallel for schedule(dynamic, 64) num_threads(threads) reduction(+ : reverse_evals)
    for (int64_t v = 0; v < n; ++v) {
      if (merge == ReverseMerge::kAppend) {
        // Incoming edges fill the free slots only, so no chosen out-edge is lost to them.
        auto& list = lists[v];
        for (const Neighbour& nb : out[v]) list.push_back(nb.id);
        std::vector<Neighbour> in = incoming[v];
        std::sort(in.begin(), in.end());
        for (const Neighbour& nb : in) {
          if (static_cast<int>(list.size()) >= p.R) break;
          if (std::find(list.begin(), list.end(), nb.id) == list.end()) list.push_back(nb.id);
        }
        continue;
      }
      std::vector<Neighbour> merged = out[v];
      merged.insert(merged.end(), incoming[v].begin(), incoming[v].end());
      sort_unique(merged);
      const int keep_whole =
          merge == ReverseMerge::kSlack ? static_cast<int>(std::ceil(slack * p.R)) : p.R;
      if (static_cast<int>(merged.size()) <= keep_whole) {
        for (const Neighbour& nb : merged) lists[v].push_back(nb.id);
        continue;
      }
      int64_t evals = 0;
      lists[v] = select_mrng(merged, p.R, dist, &evals, p.alpha);
      reverse_evals += evals;
      if (merge == ReverseMerge::kFill) {
        auto& list = lists[v];
        std::vector<std::pair<int32_t, Neighbour>> dropped;
        for (const Neighbour& nb : merged)
          if (std::find(list.begin(), list.end(), nb.id) == list.end())
            dropped.push_back({step3_in_degree[nb.id], nb});
        std::sort(dropped.begin(), dropped.end(), [](const auto& a, const auto& b) {
          return a.first < b.first || (a.first == b.first && a.second < b.second);
        });
        for (std::size_t j = 0; j < dropped.size() && static_cast<int>(list.size()) < p.R; ++j)
          list.push_back(dropped[j].second.id);
      }
    }
    st.prune_distances += reverse_evals;
    return lists;
  };
  // Nodes a depth-first walk from the navigating node reaches over `lists`.
  const int32_t nav = st.navigating_node;
  std::vector<char> reached(n, 0);
  std::vector<int32_t> stack;
  auto dfs = [&](const std::vector<std::vector<int32_t>>& lists, int32_t from) {
    stack.push_back(from);
    reached[from] = 1;
    while (!stack.empty()) {
      const int32_t u = stack.back();
      stack.pop_back();
      for (int32_t w : lists[u])
        if (!reached[w]) {
          reached[w] = 1;
          stack.push_back(w);
        }
    }
  };
  auto count_reached = [&](const std::vector<std::vector<int32_t>>& lists) {
    std::fill(reached.begin(), reached.end(), 0);
    dfs(lists, nav);
    int64_t count = 0;
    for (char r : reached) count += r;
    return count;
  };
  // Nodes other than the navigating one that no list points to.
  auto count_stranded = [&](const std::vector<std::vector<int32_t>>& lists) {
    std::vector<char> pointed(n, 0);
    for (const auto& list : lists)
      for (int32_t w : list) pointed[w] = 1;
    int64_t count = 0;
    for (int64_t v = 0; v < n; ++v) count += !pointed[v] && v != nav;
    return count;
  };
  std::vector<std::vector<int32_t>> lists;
  st.reverse_used = p.reverse;
  if (p.reverse == ReverseMerge::kAuto) {
    // The paper's re-prune, unless it leaves more than 1% of the nodes with no incoming edge:
    // then the data has hubs whose reverse edges are the only way to their neighbours (high
    // intrinsic dimension), and lists up to kAutoSlack * R are kept whole (docs/ann.md,
    // "Reverse-edge merge": the re-prune strands 4.5% of broad256's nodes, each then hung off
    // one repair edge, and recall@10 never reaches 0.99; on the mixtures, tight32 and MNIST it
    // strands at most 0.13% and they keep the re-prune's graph).
    lists = merge_lists(ReverseMerge::kReprune, 1.0f);
    st.reverse_used = ReverseMerge::kReprune;
    st.stranded_by_reprune = count_stranded(lists);
    if (st.stranded_by_reprune * 100 > n) {
      lists = merge_lists(ReverseMerge::kSlack, kAutoSlack);
      st.reverse_used = ReverseMerge::kSlack;
    }
  } else {
    lists = merge_lists(p.reverse, p.reverse_slack);
  }
  st.seconds_reverse += since(t0);

  // 5. DFS repair from the navigating node.
  t0 = std::chrono::steady_clock::now();
  st.repair_edges = 0;
  st.reachable_before_repair = count_reached(lists);
  if (st.reachable_before_repair < n) {
    // One snapshot serves every repair: its edges are a subset of the growing lists, so a
    // search in it still finds near nodes, and `reached` (not the snapshot) decides the parent.
    const Graph snapshot = Graph::from_lists(lists, nav);
    Searcher searcher(snapshot, base);
    std::vector<int32_t> ids(p.L);
    std::vector<float> ds(p.L);
    for (int64_t cursor = 0; cursor < n; ++cursor) {
      if (reached[cursor]) continue;
      const int32_t u = static_cast<int32_t>(cursor);
      searcher.search(base.row(u), SearchParams{p.L, p.L}, ids.data(), ds.data());
      int32_t parent = nav;
      for (int j = 0; j < p.L; ++j)
        if (ids[j] >= 0 && ids[j] != u && reached[ids[j]]) {
          parent = ids[j];
          break;
        }
      lists[parent].push_back(u);
      ++st.repair_edges;
      dfs(lists, u);
    }
  }
  st.seconds_repair += since(t0);

  // 6. Slot fill: lists below the packed slot's capacity take their nearest occluded candidates.
  // The capacity is the stride of the lists as they are (every filled list stays within it,
  // so the stride does not grow), capped at R.
  st.fill_edges = 0;
  st.fill_degree = 0;
  if (p.slot_fill) {
    t0 = std::chrono::steady_clock::now();
    std::vector<int> degrees(n);
    for (int64_t v = 0; v < n; ++v) degrees[v] = static_cast<int>(lists[v].size());
    const int target = std::min(p.R, packed_slot_stride(std::move(degrees), false) - 1);
    int64_t added = 0;
#pragma omp parallel for schedule(dynamic, 256) num_threads(threads) reduction(+ : added)
    for (int64_t v = 0; v < n; ++v) {
      auto& list = lists[v];
      for (int32_t id : occluded[v]) {
        if (static_cast<int>(list.size()) >= target) break;
        if (std::find(list.begin(), list.end(), id) == list.end()) list.push_back(id), ++added;
      }
    }
    st.fill_edges = added;
    st.fill_degree = target;
    st.seconds_fill += since(t0);
  }
  return Graph::from_lists(lists, nav);
}

}  // namespace

int auto_entry_points(int64_t n) {
  if (n < 16) return 0;
  return static_cast<int>(
      std::clamp<long>(std::lround(std::sqrt(static_cast<double>(n)) / 8), 1, 256));
}

std::vector<int32_t> spread_entry_points(const VectorSet& base, int count, uint64_t seed,
                                         int threads) {
  const int64_t n = base.n;
  count = static_cast<int>(std::min<int64_t>(count, n));
  if (threads < 1) threads = omp_get_max_threads();
  // Sums are taken per fixed block of rows and then in block order, so the seeds do not
  // depend on the thread count.
  constexpr int64_t kBlock = 4096;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> block_sum(blocks);
  Rng rng(seed);
  std::vector<int32_t> picked;
  std::vector<double> d2(n, INFINITY);
  int32_t next = static_cast<int32_t>(rng.next_u64() % static_cast<uint64_t>(n));
  while (static_cast<int>(picked.size()) < count) {
    picked.push_back(next);
    const float* seed_row = base.row(next);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t b = 0; b < blocks; ++b) {
      double sum = 0;
      for (int64_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) {
        d2[i] = std::min<double>(d2[i], l2_sq(base.row(i), seed_row, base.dim));
        sum += d2[i];
      }
      block_sum[b] = sum;
    }
    double total = 0;
    for (double sum : block_sum) total += sum;
    if (total <= 0) break;  // every remaining vector duplicates a seed
    // Draw a row with probability d2 / total: find its block, then the row inside it.
    double target = rng.uniform() * total;
    int64_t b = 0;
    while (b + 1 < blocks && target >= block_sum[b]) target -= block_sum[b++];
    const int64_t end = std::min(n, (b + 1) * kBlock);
    next = static_cast<int32_t>(end - 1);
    for (int64_t i = b * kBlock; i < end; ++i) {
      target -= d2[i];
      if (target < 0) {
        next = static_cast<int32_t>(i);
        break;
      }
    }
  }
  return picked;
}

bool reverse_merge_from_name(const std::string& name, ReverseMerge* merge) {
  static const std::pair<const char*, ReverseMerge> kNames[] = {{"auto", ReverseMerge::kAuto},
                                                                {"reprune", ReverseMerge::kReprune},
                                                                {"append", ReverseMerge::kAppend},
                                                                {"fill", ReverseMerge::kFill},
                                                                {"slack", ReverseMerge::kSlack}};
  for (const auto& [text, value] : kNames)
    if (name == text) {
      *merge = value;
      return true;
    }
  return false;
}

Graph build_nsg(const VectorSet& base, const NsgParams& p, NsgStats* stats,
                int64_t knn_recall_sample,
                const std::function<void(const std::string&, int64_t, int64_t)>& progress) {
  const int64_t n = base.n;
  if (p.R < 1 || p.L < 1 || p.C < p.R || !(p.alpha >= 1.0f))
    throw Error("nsg: need R >= 1, L >= 1, C >= R and alpha >= 1", kExitFailure);
  if (!(p.reverse_slack >= 1.0f)) throw Error("nsg: need reverse_slack >= 1", kExitFailure);
  const int threads = p.threads > 0 ? p.threads : omp_get_max_threads();
  NsgStats st;
  auto t0 = std::chrono::steady_clock::now();
  NnDescentParams kp = p.knn;
  kp.threads = threads;
  // Integer-valued bases (MNIST) compute every build distance on their byte rows, with the same
  // values; checked and copied once for NN-descent and every prune pass.
  const std::vector<uint8_t> bytes =
      p.byte_rows ? exact_byte_rows(base.data.data(), n, base.dim) : std::vector<uint8_t>{};
  const auto knn = nn_descent(
      base, kp, &st.knn,
      [&](int it, int64_t updates) {
        if (progress)
          progress("nn-descent iteration (updates " + std::to_string(updates) + ")", it,
                   kp.max_iters);
      },
      &bytes);
  if (knn_recall_sample > 0) {
    const auto tr = std::chrono::steady_clock::now();
    st.knn_recall = knn_graph_recall(base, knn, kp.k, knn_recall_sample, 99);
    st.seconds_recall = since(tr);
  }
  std::vector<std::vector<int32_t>> knn_ids(n);
  for (int64_t i = 0; i < n; ++i) {
    for (const Neighbour& nb : knn[i]) knn_ids[i].push_back(nb.id);
    Rng rng(derive_seed(p.knn.seed ^ 0x5EED, static_cast<uint64_t>(i)));
    for (int j = 0; j < p.random_edges; ++j) {
      const int32_t u = static_cast<int32_t>(rng.next_u64() % static_cast<uint64_t>(n));
      if (u != i && std::find(knn_ids[i].begin(), knn_ids[i].end(), u) == knn_ids[i].end())
        knn_ids[i].push_back(u);
    }
  }
  Graph knn_graph = Graph::from_lists(knn_ids, nearest_to_centroid(base));
  st.navigating_node = knn_graph.entry;
  const int entries = p.entry_points < 0 ? auto_entry_points(n) : p.entry_points;
  if (entries > 0)
    knn_graph.extra_entries = spread_entry_points(base, entries, p.knn.seed ^ 0xE27, threads);
  st.seconds_knn = since(t0) - st.seconds_recall;

  const std::vector<int32_t> extra = knn_graph.extra_entries;
  Graph search_graph = std::move(knn_graph);
  Graph result;
  for (int pass = 0; pass < std::max(1, p.passes); ++pass) {
    result = prune_pass(base, bytes, p, threads, search_graph, knn, st, pass, progress);
    result.extra_entries = extra;
    search_graph = result;
  }
  if (stats) *stats = st;
  return result;
}

}  // namespace tessel::ann
