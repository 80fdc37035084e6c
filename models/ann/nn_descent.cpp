// NN-descent: refine random neighbour lists by comparing neighbours of neighbours.
#include "models/ann/nn_descent.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <utility>

#include "models/ann/distance.h"
#include "models/ann/knn.h"
#include "models/common/rng.h"
#include "runtime/core/error.h"
#include "runtime/core/seed.h"

namespace tessel::ann {
namespace {

struct Entry {
  float dist;
  int32_t id;
  bool is_new;
  bool joined_now = false;  // entered the list in the current iteration
};

// One node's list, sorted ascending by (dist, id), at most k long.
struct NodeList {
  std::vector<Entry> items;
  // The list's current worst distance, readable without the lock: most offers lose to it, and
  // rejecting them before locking is what keeps the local joins cheap.
  std::atomic<float> worst{INFINITY};
  std::atomic_flag busy = ATOMIC_FLAG_INIT;

  // Keeps the k nearest distinct ids offered so far. The result does not depend on the order
  // of the offers: an entry only leaves for k nearer ones, so one that left, or was refused,
  // can never come back.
  void offer(float d, int32_t id, int k) {
    if (d >= worst.load(std::memory_order_relaxed)) return;
    while (busy.test_and_set(std::memory_order_acquire)) {
    }
    offer_locked(d, id, k);
    busy.clear(std::memory_order_release);
  }

  // Entries that joined in this iteration and stayed (order-independent, unlike a count of
  // insertions, some of which a later offer pushes out again); clears their mark.
  int64_t take_joined() {
    int64_t joined = 0;
    for (Entry& e : items) {
      joined += e.joined_now;
      e.joined_now = false;
    }
    return joined;
  }

  void update_worst(int k) {
    worst.store(static_cast<int>(items.size()) == k ? items.back().dist : INFINITY,
                std::memory_order_relaxed);
  }

 private:
  void offer_locked(float d, int32_t id, int k) {
    if (static_cast<int>(items.size()) == k && d >= items.back().dist) return;
    for (const Entry& e : items)
      if (e.id == id) return;
    auto pos = std::upper_bound(items.begin(), items.end(), Entry{d, id, true},
                                [](const Entry& a, const Entry& b) {
                                  return a.dist < b.dist || (a.dist == b.dist && a.id < b.id);
                                });
    items.insert(pos, Entry{d, id, true, true});
    if (static_cast<int>(items.size()) > k) items.pop_back();
    update_worst(k);
  }
};

// The leaves of one random-projection tree over all n nodes, as [begin, end) ranges of `ids`
// (which it permutes). A set larger than `leaf` is split by the perpendicular bisector of two
// random members a and b, each node going to the side it is nearer (d(x, a) < d(x, b): the
// hyperplane test done with the distance kernel); ties go to the smaller side. A split that
// leaves one side empty (duplicate points) halves the set instead.
template <typename Dist>
std::vector<std::pair<int64_t, int64_t>> rp_tree_leaves(std::vector<int32_t>& ids, int leaf,
                                                        Rng& rng, const Dist& dist,
                                                        int64_t* distances) {
  std::vector<std::pair<int64_t, int64_t>> leaves, todo{{0, static_cast<int64_t>(ids.size())}};
  std::vector<uint8_t> side;
  while (!todo.empty()) {
    const auto [lo, hi] = todo.back();
    todo.pop_back();
    const int64_t size = hi - lo;
    if (size <= leaf) {
      leaves.push_back({lo, hi});
      continue;
    }
    const int64_t ia = lo + static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(size));
    int64_t ib = lo + static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(size - 1));
    if (ib >= ia) ++ib;
    const int32_t a = ids[ia], b = ids[ib];
    side.assign(static_cast<std::size_t>(size), 0);
    int64_t left = 0, right = 0;
    for (int64_t i = 0; i < size; ++i) {
      const float da = dist(ids[lo + i], a), db = dist(ids[lo + i], b);
      side[i] = da < db ? 0 : db < da ? 1 : 2;
      left += side[i] == 0, right += side[i] == 1;
    }
    *distances += 2 * size;
    for (int64_t i = 0; i < size; ++i)
      if (side[i] == 2) side[i] = left <= right ? (++left, 0) : (++right, 1);
    int64_t mid = lo;
    if (left == 0 || right == 0) {
      mid = lo + size / 2;
    } else {
      // Stable, so the leaves depend only on the seed.
      std::vector<int32_t> moved;
      moved.reserve(static_cast<std::size_t>(right));
      for (int64_t i = 0; i < size; ++i) {
        if (side[i] == 0)
          ids[mid++] = ids[lo + i];
        else
          moved.push_back(ids[lo + i]);
      }
      std::copy(moved.begin(), moved.end(), ids.begin() + mid);
    }
    todo.push_back({mid, hi});
    todo.push_back({lo, mid});
  }
  return leaves;
}

}  // namespace

std::vector<std::vector<Neighbour>> nn_descent(const VectorSet& base, const NnDescentParams& p,
                                               NnDescentStats* stats,
                                               const std::function<void(int, int64_t)>& progress,
                                               const std::vector<uint8_t>* byte_rows) {
  const int64_t n = base.n;
  const int k = p.k;
  if (k < 1 || k >= n) throw Error("nn_descent: need 1 <= k < n", kExitFailure);
  const int dim = base.dim;
  const int threads = p.threads > 0 ? p.threads : omp_get_max_threads();
  std::unique_ptr<NodeList[]> lists(new NodeList[n]);
  // Integer-valued bases (MNIST) compute on their byte rows, with the same values.
  const std::vector<uint8_t> own_bytes = !byte_rows && p.byte_rows
                                             ? exact_byte_rows(base.data.data(), n, dim)
                                             : std::vector<uint8_t>{};
  const std::vector<uint8_t>& bytes = byte_rows ? *byte_rows : own_bytes;
  auto dist = [&](int64_t u, int64_t w) {
    if (bytes.empty()) return l2_sq(base.row(u), base.row(w), dim);
    return l2_sq_bytes(bytes.data() + u * dim, bytes.data() + w * dim, base.row(u), base.row(w),
                       dim);
  };
  NnDescentStats local;

  // Random initial lists, one seeded stream per node so the start is thread-count independent.
  int64_t init_dist = 0;
#pragma omp parallel for schedule(static) num_threads(threads) reduction(+ : init_dist)
  for (int64_t v = 0; v < n; ++v) {
    Rng rng(derive_seed(p.seed, static_cast<uint64_t>(v)));
    auto& items = lists[v].items;
    while (static_cast<int>(items.size()) < k) {
      const int32_t u = static_cast<int32_t>(rng.next_u64() % static_cast<uint64_t>(n));
      if (u == v) continue;
      bool dup = false;
      for (const Entry& e : items) dup |= e.id == u;
      if (dup) continue;
      items.push_back({dist(v, u), u, true});
      ++init_dist;
    }
    std::sort(items.begin(), items.end(), [](const Entry& a, const Entry& b) {
      return a.dist < b.dist || (a.dist == b.dist && a.id < b.id);
    });
    lists[v].update_worst(k);
  }
  local.distances = init_dist;

  // Random-projection trees: nodes sharing a leaf are near each other more often than random
  // pairs, so the lists start far closer to the answer and the costly early iterations are
  // fewer. Each tree has its own seeded stream, and offers do not depend on their order, so
  // the lists are the same for any thread count.
  // The local joins then take the nodes in the first tree's leaf order, so consecutive joins
  // read nearly the same rows from cache (again only the time changes, not the lists).
  std::vector<int32_t> join_order;
  if (p.rp_trees > 0) {
    const int leaf = p.rp_leaf > 0 ? p.rp_leaf : std::max(10, k);
    std::vector<std::vector<int32_t>> tree_ids(static_cast<std::size_t>(p.rp_trees));
    std::vector<std::vector<std::pair<int64_t, int64_t>>> tree_leaves(tree_ids.size());
    int64_t tree_dist = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(+ : tree_dist)
    for (int t = 0; t < p.rp_trees; ++t) {
      auto& ids = tree_ids[t];
      ids.resize(static_cast<std::size_t>(n));
      for (int64_t v = 0; v < n; ++v) ids[v] = static_cast<int32_t>(v);
      Rng rng(derive_seed(p.seed ^ 0x7EE5u, static_cast<uint64_t>(t)));
      tree_leaves[t] = rp_tree_leaves(ids, leaf, rng, dist, &tree_dist);
    }
    for (int t = 0; t < p.rp_trees; ++t) {
      const auto& ids = tree_ids[t];
      const auto& leaves = tree_leaves[t];
#pragma omp parallel for schedule(dynamic, 64) num_threads(threads) reduction(+ : tree_dist)
      for (std::size_t l = 0; l < leaves.size(); ++l)
        for (int64_t i = leaves[l].first; i < leaves[l].second; ++i)
          for (int64_t j = i + 1; j < leaves[l].second; ++j) {
            const float d = dist(ids[i], ids[j]);
            ++tree_dist;
            lists[ids[i]].offer(d, ids[j], k);
            lists[ids[j]].offer(d, ids[i], k);
          }
    }
    join_order = std::move(tree_ids[0]);
    // The trees' entries are the start, not iteration 1's updates.
    for (int64_t v = 0; v < n; ++v) lists[v].take_joined();
    local.tree_distances = tree_dist;
    local.distances += tree_dist;
  }

  const int sample = std::max(1, static_cast<int>(p.rho * k));
  std::vector<std::vector<int32_t>> nw(n), old(n), rnew(n), rold(n);
  for (int it = 0; it < p.max_iters; ++it) {
    // Sample: up to `sample` new entries per node (then flagged old) and all old ones.
    for (int64_t v = 0; v < n; ++v) {
      nw[v].clear(), old[v].clear(), rnew[v].clear(), rold[v].clear();
      for (Entry& e : lists[v].items) {
        if (e.is_new) {
          if (static_cast<int>(nw[v].size()) < sample) {
            nw[v].push_back(e.id);
            e.is_new = false;
          }
        } else if (static_cast<int>(old[v].size()) < sample) {
          old[v].push_back(e.id);
        }
      }
    }
    // Reverse lists, capped at `sample` by reservoir sampling with a per-iteration stream.
    Rng rng(derive_seed(p.seed ^ 0xA5A5u, static_cast<uint64_t>(it)));
    std::vector<int32_t> seen_new(n, 0), seen_old(n, 0);
    auto reservoir = [&](std::vector<int32_t>& list, int32_t& seen, int32_t id) {
      ++seen;
      if (static_cast<int>(list.size()) < sample) {
        list.push_back(id);
      } else {
        const uint64_t j = rng.next_u64() % static_cast<uint64_t>(seen);
        if (j < static_cast<uint64_t>(sample)) list[j] = id;
      }
    };
    for (int64_t v = 0; v < n; ++v) {
      for (int32_t u : nw[v]) reservoir(rnew[u], seen_new[u], static_cast<int32_t>(v));
      for (int32_t u : old[v]) reservoir(rold[u], seen_old[u], static_cast<int32_t>(v));
    }
    int64_t updates = 0, dists = 0;
#pragma omp parallel num_threads(threads) reduction(+ : updates, dists)
    {
      std::vector<int32_t> cn, co;
#pragma omp for schedule(dynamic, 64)
      for (int64_t i = 0; i < n; ++i) {
        const int64_t v = join_order.empty() ? i : join_order[i];
        cn = nw[v];
        cn.insert(cn.end(), rnew[v].begin(), rnew[v].end());
        std::sort(cn.begin(), cn.end());
        cn.erase(std::unique(cn.begin(), cn.end()), cn.end());
        co = old[v];
        co.insert(co.end(), rold[v].begin(), rold[v].end());
        std::sort(co.begin(), co.end());
        co.erase(std::unique(co.begin(), co.end()), co.end());
        for (std::size_t a = 0; a < cn.size(); ++a) {
          for (std::size_t b = a + 1; b < cn.size(); ++b) {
            const float d = dist(cn[a], cn[b]);
            ++dists;
            lists[cn[a]].offer(d, cn[b], k);
            lists[cn[b]].offer(d, cn[a], k);
          }
          for (int32_t o : co) {
            if (o == cn[a]) continue;
            const float d = dist(cn[a], o);
            ++dists;
            lists[cn[a]].offer(d, o, k);
            lists[o].offer(d, cn[a], k);
          }
        }
      }
#pragma omp for schedule(static)
      for (int64_t v = 0; v < n; ++v) updates += lists[v].take_joined();
    }
    local.distances += dists;
    local.updates.push_back(updates);
    local.iterations = it + 1;
    if (progress) progress(it + 1, updates);
    if (updates < p.delta * static_cast<double>(n) * k) break;
  }

  std::vector<std::vector<Neighbour>> out(n);
  for (int64_t v = 0; v < n; ++v) {
    out[v].reserve(k);
    for (const Entry& e : lists[v].items) out[v].push_back({e.dist, e.id});
  }
  if (stats) *stats = local;
  return out;
}

double knn_graph_recall(const VectorSet& base, const std::vector<std::vector<Neighbour>>& lists,
                        int k, int64_t sample, uint64_t seed) {
  if (static_cast<int64_t>(lists.size()) != base.n)
    throw Error("knn_graph_recall: list count != base size", kExitFailure);
  sample = std::min(sample, base.n);
  // Distinct sampled node ids (partial Fisher-Yates), then exact neighbours of those nodes.
  std::vector<int32_t> ids(base.n);
  for (int64_t i = 0; i < base.n; ++i) ids[i] = static_cast<int32_t>(i);
  Rng rng(seed);
  for (int64_t i = 0; i < sample; ++i) {
    const int64_t j = i + static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(base.n - i));
    std::swap(ids[i], ids[j]);
  }
  VectorSet queries(sample, base.dim);
  for (int64_t i = 0; i < sample; ++i)
    std::copy(base.row(ids[i]), base.row(ids[i]) + base.dim, queries.row(i));
  // k + 1 neighbours: the node itself is among them (distance 0) and is dropped below.
  const KnnResult truth = exact_knn(base, queries, k + 1);
  int64_t hits = 0;
  for (int64_t i = 0; i < sample; ++i) {
    const auto& l = lists[ids[i]];
    int taken = 0;
    for (int j = 0; j < k + 1 && taken < k; ++j) {
      const int32_t t = truth.ids_of(i)[j];
      if (t == ids[i]) continue;
      ++taken;
      for (int m = 0; m < std::min<int>(k, static_cast<int>(l.size())); ++m)
        if (l[m].id == t) {
          ++hits;
          break;
        }
    }
  }
  return static_cast<double>(hits) / (static_cast<double>(sample) * k);
}

}  // namespace tessel::ann
