// Sentinel's planner and the baseline policies, each producing a two-step Plan.
#include "sim/sentinel/policies.h"

#include "sim/sentinel/huge_pages.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <set>

#include "runtime/core/error.h"

namespace tessel::sentinel {

int64_t plan_peak_occupancy(const Plan& plan) {
  std::vector<int64_t> diff(static_cast<size_t>(plan.intervals) + 1, 0);
  for (const Hold& h : plan.holds) {
    diff[static_cast<size_t>(std::max(0, h.start))] += h.bytes;
    diff[static_cast<size_t>(std::min(plan.intervals - 1, h.end)) + 1] -= h.bytes;
  }
  int64_t now = 0, peak = 0;
  for (int k = 0; k < plan.intervals; ++k)
    peak = std::max(peak, now += diff[static_cast<size_t>(k)]);
  return peak;
}

namespace {

constexpr uint32_t kNone32 = ~0u;

// Range add / range max over intervals (fast-memory occupancy while planning).
class MaxTree {
 public:
  explicit MaxTree(int n)
      : n_(n), mx_(4 * static_cast<size_t>(n), 0), add_(4 * static_cast<size_t>(n), 0) {}
  int64_t max(int l, int r) const { return query(1, 0, n_ - 1, l, r); }
  void add(int l, int r, int64_t v) { update(1, 0, n_ - 1, l, r, v); }

 private:
  int64_t query(size_t x, int lo, int hi, int l, int r) const {
    if (r < lo || hi < l) return std::numeric_limits<int64_t>::min() / 2;
    if (l <= lo && hi <= r) return mx_[x];
    const int mid = (lo + hi) / 2;
    return add_[x] + std::max(query(2 * x, lo, mid, l, r), query(2 * x + 1, mid + 1, hi, l, r));
  }
  void update(size_t x, int lo, int hi, int l, int r, int64_t v) {
    if (r < lo || hi < l) return;
    if (l <= lo && hi <= r) {
      mx_[x] += v;
      add_[x] += v;
      return;
    }
    const int mid = (lo + hi) / 2;
    update(2 * x, lo, mid, l, r, v);
    update(2 * x + 1, mid + 1, hi, l, r, v);
    mx_[x] = add_[x] + std::max(mx_[2 * x], mx_[2 * x + 1]);
  }
  int n_;
  std::vector<int64_t> mx_, add_;
};

Plan empty_plan(const Profile& p, const PolicyOptions& o) {
  Plan plan;
  plan.policy = o.policy;
  plan.step_intervals = static_cast<int>(p.intervals.size());
  plan.intervals = 2 * plan.step_intervals;
  plan.fast_capacity = o.fast_bytes;
  plan.accesses.resize(static_cast<size_t>(plan.intervals));
  for (int k = 0; k < plan.intervals; ++k)
    plan.flops.push_back(p.intervals[static_cast<size_t>(k % plan.step_intervals)].flops);
  return plan;
}

// Accesses of interval k with a per-page tier; runs of equal tier become one access.
template <typename FastPage>
void emit_accesses(const Profile& p, const Layout& l, int k, Plan& plan, FastPage fast_page) {
  const int64_t pg = l.options.page_bytes;
  const std::vector<Access>& acc =
      p.intervals[static_cast<size_t>(k % plan.step_intervals)].accesses;
  // Each access gives at least one run: one allocation instead of a growing vector.
  plan.accesses[static_cast<size_t>(k)].reserve(acc.size());
  for (const Access& a : acc) {
    int64_t off = l.offset[a.tensor];
    const int64_t end = off + a.bytes;
    while (off < end) {
      const bool f = fast_page(off / pg);
      int64_t run = std::min(end, (off / pg + 1) * pg);
      while (run < end && fast_page(run / pg) == f) run = std::min(end, run + pg);
      plan.accesses[static_cast<size_t>(k)].push_back(PlanAccess{off, run - off, a.write, f});
      off = run;
    }
  }
}

// Sentinel plans one step as a cycle of K intervals and repeats the plan every step, so the
// measured (second) step is a steady state: it pays for the write-backs the step before
// left (a plan that differed between steps could leave its dirty data in DRAM at the end of
// the run and never pay for it). Positions are cyclic: a residency [a, b] has 0 <= a < K
// and may run past K into the next step (b < a + K); its copies may sit before a (the
// previous step) or after b.
class CyclicMax {  // range add / range max over the K intervals of a step, ranges wrapping
 public:
  explicit CyclicMax(int k) : k_(k), tree_(k) {}
  int64_t max(int s, int e) const {
    int64_t m = std::numeric_limits<int64_t>::min();
    split(s, e, [&](int l, int r) { m = std::max(m, tree_.max(l, r)); });
    return m;
  }
  void add(int s, int e, int64_t v) {
    split(s, e, [&](int l, int r) { tree_.add(l, r, v); });
  }

 private:
  template <typename F>
  void split(int s, int e, F&& f) const {
    if (e - s + 1 >= k_) return f(0, k_ - 1);
    const int a = ((s % k_) + k_) % k_, b = a + (e - s);
    if (b < k_) return f(a, b);
    f(a, k_ - 1);
    f(0, b - k_);
  }
  int k_;
  MaxTree tree_;
};

Plan plan_sentinel(const Profile& p, const PolicyOptions& o) {
  Plan plan = empty_plan(p, o);
  const int K = plan.step_intervals, N = plan.intervals;
  LayoutOptions lo = o.layout;
  lo.page_bytes = o.page_bytes;
  lo.group = o.sentinel.group_allocation;
  const Layout l = build_layout(p, lo);
  const int64_t pg = o.page_bytes;
  if (o.fast_bytes < (p.largest_tensor + pg - 1) / pg * pg) {
    plan.feasible = false;
    plan.reason = "fast memory (" + std::to_string(o.fast_bytes) +
                  " bytes) is smaller than the largest tensor (" +
                  std::to_string(p.largest_tensor) + " bytes)";
    return plan;
  }
  SentinelSwitches sw = o.sentinel;
  // A copy window of at least a whole step would overlap the residency it serves.
  sw.max_lookahead = std::max(1, std::min(sw.max_lookahead, K - 1));
  const auto U = static_cast<uint32_t>(l.units.size());
  {
    // When every tensor fits for its whole lifetime there is nothing to migrate.
    std::vector<int64_t> diff(static_cast<size_t>(K) + 1, 0);
    int64_t now = 0, peak = 0;
    for (const Unit& u : l.units) {
      if (u.persistent) {
        now += u.bytes(pg);
      } else {
        diff[static_cast<size_t>(u.alloc)] += u.bytes(pg);
        diff[static_cast<size_t>(u.free) + 1] -= u.bytes(pg);
      }
    }
    for (int k = 0; k < K; ++k) peak = std::max(peak, now += diff[static_cast<size_t>(k)]);
    if (peak <= o.fast_bytes) sw.layer_migration = false;
  }
  auto cyc = [K](int k) { return static_cast<size_t>(((k % K) + K) % K); };

  // Planner's time model of each interval k: it lasts max(compute[k], mem[k] + copy_nvm[k]),
  // where mem is the time of its accesses at the planner's bandwidths (fast and NVM time add
  // up: the streams serve both) and copy_nvm the NVM side of the copies the DMA engine runs
  // in it (they share the NVM with the accesses). mem starts with every access in NVM and
  // falls as residencies are accepted; a copy is free only where the NVM has slack.
  std::vector<double> compute(static_cast<size_t>(K)), mem(static_cast<size_t>(K), 0);
  std::vector<double> copy_nvm(static_cast<size_t>(K), 0);  // NVM seconds of the copies
  std::vector<double> dma_used(static_cast<size_t>(K), 0);  // DMA engine seconds
  for (int k = 0; k < K; ++k) {
    compute[static_cast<size_t>(k)] = plan.flops[static_cast<size_t>(k)] / o.flops_per_s;
    for (const Access& a : p.intervals[static_cast<size_t>(k)].accesses)
      mem[static_cast<size_t>(k)] +=
          static_cast<double>(a.bytes) / ((a.write ? o.slow_write_gbps : o.slow_read_gbps) * 1e9);
  }
  // Bytes read and written per unit and interval of the step: unit u's intervals are
  // traffic[traffic_first[u]] .. traffic[traffic_first[u + 1] - 1], ascending. One flat
  // array (counted, then filled) instead of a vector per unit: a large step has ~1M units.
  struct Traffic {
    int k = 0;
    double read = 0, write = 0;
  };
  std::vector<uint32_t> traffic_first(U + 1, 0);
  std::vector<Traffic> traffic;
  {
    std::vector<int> last(U, -1);
    for (int k = 0; k < K; ++k)
      for (const Access& a : p.intervals[static_cast<size_t>(k)].accesses) {
        const uint32_t u = l.unit_of[a.tensor];
        if (last[u] != k) {
          last[u] = k;
          ++traffic_first[u + 1];
        }
      }
    for (size_t u = 0; u < U; ++u) traffic_first[u + 1] += traffic_first[u];
    traffic.resize(traffic_first.back());
    std::vector<uint32_t> next(traffic_first.begin(), traffic_first.end() - 1);
    last.assign(U, -1);
    for (int k = 0; k < K; ++k)
      for (const Access& a : p.intervals[static_cast<size_t>(k)].accesses) {
        const uint32_t u = l.unit_of[a.tensor];
        if (last[u] != k) {
          last[u] = k;
          traffic[next[u]++].k = k;
        }
        Traffic& t = traffic[next[u] - 1];
        (a.write ? t.write : t.read) += static_cast<double>(a.bytes);
      }
  }
  // Persistent units whose every tensor is first written whole in the step (gradients):
  // their contents are dead from their last use in a step to their first use in the next,
  // so a residency that starts at that first use copies nothing in, and one that ends at
  // that last use writes nothing back.
  std::vector<char> overwritten(U, 1);
  {
    std::vector<char> seen(p.tensors.size(), 0);
    for (int k = 0; k < K; ++k)
      for (const Access& a : p.intervals[static_cast<size_t>(k)].accesses) {
        if (seen[a.tensor]) continue;
        seen[a.tensor] = 1;
        if (!a.write || a.bytes != p.tensors[a.tensor].bytes) overwritten[l.unit_of[a.tensor]] = 0;
      }
  }
  // Seconds saved per byte read or written in fast memory instead of NVM, and the NVM's
  // seconds per byte a copy reads (promotion) or writes (write-back).
  const double r_gain = 1e-9 * (1 / o.slow_read_gbps - 1 / o.fast_gbps);
  const double w_gain = 1e-9 * (1 / o.slow_write_gbps - 1 / o.fast_gbps);
  const double nvm_read_s = 1e-9 / o.slow_read_gbps, nvm_write_s = 1e-9 / o.slow_write_gbps;
  const double dma_s = 1e-9 / o.dma_gbps;  // the DMA engine's seconds per byte
  // Time an interval saves when `saved` seconds of its accesses leave the NVM: only what
  // it is memory-bound by (a compute-bound interval saves nothing).
  auto saving = [&](size_t k, double saved) {
    return std::min(saved, std::max(0.0, mem[k] + copy_nvm[k] - compute[k]));
  };
  // Calls f(interval mod K, seconds saved, writes) for each interval of [lo, hi] (cyclic,
  // shorter than K) in which `unit` has traffic.
  auto each_use = [&](uint32_t unit, int lo, int hi, auto&& f) {
    for (uint32_t x = traffic_first[unit]; x < traffic_first[unit + 1]; ++x) {
      const Traffic& t = traffic[x];
      const int kk = t.k >= lo ? t.k : t.k + K;
      if (kk <= hi) f(static_cast<size_t>(t.k), t.read * r_gain + t.write * w_gain, t.write > 0);
    }
  };

  struct Candidate {  // 20 bytes; its density is in its sort key
    uint32_t unit = 0;
    int a = 0, b = 0;  // first and last use (cyclic)
    bool at_alloc = false, at_free = false, dirty = false, pool = false, whole = false;
    bool fresh = false;  // its first use overwrites the unit: nothing to copy in
    bool dead = false;   // the unit is dead after its last use: nothing to write back
  };
  // Pool candidates first, then by density: the time saved per byte-interval held, with
  // every access in NVM (an upper bound of what a residency can save later), less what its
  // copies would add then; then the NVM time moved per byte-interval (ranks residencies
  // that save nothing by the estimate); ties in creation order.
  struct Key {
    double density, moved;
    uint32_t idx;
    bool pool;
  };
  std::vector<Candidate> cands;
  std::vector<Key> order;
  {
    // At most one whole-life candidate and one cluster per use for each unit.
    size_t most = 0;
    for (const Unit& u : l.units) most += 1 + u.uses.size();
    cands.reserve(most);  // untouched capacity costs no page faults
    order.reserve(most);
    huge_pages(cands);
    huge_pages(order);
  }
  // A copy's placement: (interval, DMA bytes) per interval it is spread over.
  std::vector<std::pair<int, double>> take;
  // Spreads a copy of `bytes` over intervals j = from, from + dir, ... (at most
  // max_lookahead of them): first into the NVM's slack (hidden), then into what the DMA
  // engine has left of the interval's length without copies (a byte takes it the longer
  // of its own and the NVM side's time). Returns the interval reached last (cyclic
  // position; INT_MIN: the engine cannot carry it) and adds the time the copy adds to the
  // step (its NVM time beyond the slack) to `cost`.
  constexpr int kNoRoom = std::numeric_limits<int>::min();
  auto place_copy = [&](double bytes, int from, int dir, double nvm_s, double& cost) {
    const size_t first = take.size();
    double left = bytes;
    int reached = kNoRoom;
    for (int pass = 0; pass < 2 && left > 0; ++pass)
      for (int n = 0, j = from; n < sw.max_lookahead && left > 0; ++n, j += dir) {
        const size_t jj = cyc(j);
        double in_j = 0;  // bytes already put into j by this copy
        for (size_t x = first; x < take.size(); ++x)
          if (take[x].first == j) in_j += take[x].second;
        const double engine =
            (std::max(compute[jj], mem[jj]) - dma_used[jj]) / std::max(dma_s, nvm_s) - in_j;
        const double slack = std::max(0.0, compute[jj] - mem[jj] - copy_nvm[jj]) / nvm_s - in_j;
        const double t = std::min({left, engine, pass == 0 ? slack : engine});
        if (t <= 0) continue;
        take.push_back({j, t});
        left -= t;
        reached = reached == kNoRoom ? j : dir < 0 ? std::min(reached, j) : std::max(reached, j);
      }
    if (left > 0) return kNoRoom;
    for (size_t x = first; x < take.size(); ++x) {
      const size_t jj = cyc(take[x].first);
      const double slack = std::max(0.0, compute[jj] - mem[jj] - copy_nvm[jj]);
      double in_j = 0;  // this copy's NVM time in j (earlier pieces share the slack)
      for (size_t y = first; y < x; ++y)
        if (take[y].first == take[x].first) in_j += take[y].second * nvm_s;
      cost += std::max(0.0, take[x].second * nvm_s - std::max(0.0, slack - in_j));
    }
    return reached;
  };
  const int gap = sw.max_lookahead + 2;  // clusters this far apart never overlap their holds
  std::vector<int> pos;                  // a persistent unit's uses, unrolled from a cluster start
  for (uint32_t ui = 0; ui < U; ++ui) {
    const Unit& u = l.units[ui];
    const View<int>& uses = u.uses;
    const size_t m = uses.size();
    if (m == 0) continue;
    const double unit_bytes = static_cast<double>(u.bytes(pg));
    // Adds candidate c, which holds fast memory over [start, end].
    auto add = [&](Candidate c, int start, int end) {
      double saved = 0, moved = 0;
      each_use(ui, c.a, c.b, [&](size_t k, double t, bool w) {
        saved += saving(k, t);
        moved += t;
        c.dirty |= w;
      });
      const double held = unit_bytes * std::min(K, end - start + 1);
      double cost = 0;
      if (sw.bandwidth_bound && !c.whole) {
        take.clear();
        if (!c.fresh && place_copy(unit_bytes, c.a - 1, -1, nvm_read_s, cost) == kNoRoom)
          cost = saved;
        if (!c.at_free && !c.dead && c.dirty &&
            place_copy(unit_bytes, c.b + 1, 1, nvm_write_s, cost) == kNoRoom)
          cost = saved;
      }
      // Without the bandwidth bound the planner ranks by NVM time moved, as if every
      // interval were memory-bound.
      order.push_back(Key{(sw.bandwidth_bound ? saved - cost : moved) / held, moved / held,
                          static_cast<uint32_t>(cands.size()), c.pool});
      cands.push_back(c);
    };
    if (!u.persistent) {
      const bool pool = sw.short_pool && u.short_lived;
      // The whole life in fast memory; or allocated in NVM (allocating it in DRAM and
      // writing it back later costs the same NVM writes as writing it to NVM directly, plus
      // the copy: NVM writes bound the forward pass), with later clusters of uses
      // prefetched. The first cluster is the whole-life candidate's.
      add(Candidate{ui, u.alloc, u.free, true, true, false, pool, true}, u.alloc, u.free);
      if (!sw.layer_migration || pool) continue;
      size_t s = 0;
      while (s + 1 < m && uses[s + 1] - uses[s] <= gap) ++s;
      for (++s; s < m;) {
        size_t e = s;
        while (e + 1 < m && uses[e + 1] - uses[e] <= gap) ++e;
        const Candidate c{ui, uses[s], uses[e], false, e + 1 == m, false, false, false};
        add(c, c.a - 1, c.at_free ? u.free : c.b + 1);
        s = e + 1;
      }
      continue;
    }
    // Persistent: the whole step, every step; or clusters of uses around the cycle. For
    // an overwritten unit the step boundary always ends a cluster (nothing lives across it).
    add(Candidate{ui, 0, K - 1, true, true, false, false, true}, 0, K - 1);
    if (!sw.layer_migration) continue;
    auto gap_after = [&](size_t i) {  // from use i to the next one around the cycle
      if (i + 1 < m) return uses[i + 1] - uses[i];
      return overwritten[ui] ? K + gap + 1 : uses[0] + K - uses[i];
    };
    size_t start = m;  // a use that opens a cluster
    for (size_t i = 0; i < m && start == m; ++i)
      if (gap_after((i + m - 1) % m) > gap) start = i;
    if (start == m) continue;  // one cluster all around: the whole-step candidate
    pos.clear();
    for (size_t j = 0; j < m; ++j) {
      const size_t i = (start + j) % m;
      pos.push_back(uses[i] + (i < start ? K : 0));
    }
    for (size_t s = 0; s < m;) {
      size_t e = s;
      while (e + 1 < m && gap_after((start + e) % m) <= gap) ++e;
      Candidate c{ui, pos[s], pos[e], false, false, false, false, false};
      if (c.a >= K) {
        c.a -= K;
        c.b -= K;
      }
      if (overwritten[ui]) {
        c.fresh = (start + s) % m == 0;
        c.dead = (start + e) % m == m - 1;
      }
      add(c, c.fresh ? c.a : c.a - 1, c.dead ? c.b : c.b + 1);
      s = e + 1;
    }
  }
  std::sort(order.begin(), order.end(), [](const Key& x, const Key& y) {
    if (x.pool != y.pool) return x.pool;
    if (x.density != y.density) return x.density > y.density;
    if (x.moved != y.moved) return x.moved > y.moved;
    return x.idx < y.idx;
  });

  CyclicMax occ(K);
  // Accepted residencies. A cluster may later give way to its unit's whole-life
  // residency, so they are records first and the plan is built from the live ones.
  struct Piece {  // part of an accepted copy: DMA engine and NVM seconds in one interval
    size_t j = 0;
    double engine_s = 0, nvm_s = 0;
  };
  struct Taken {
    uint32_t cand = 0;
    Hold hold;  // cyclic: start may be negative, end may pass K
    uint32_t first_piece = 0, end_piece = 0;
    int issue = 0, deadline = 0;
    bool promote = false, writeback = false, alive = true;
    double cost = 0;          // seconds its copies add (planner estimate when accepted)
    uint32_t prev = kNone32;  // the unit's previous record
  };
  std::vector<Taken> taken;
  std::vector<Piece> pieces;
  std::vector<uint32_t> last_taken(U, kNone32);
  std::vector<char> whole_taken(U, 0), part_taken(U, 0);
  // Takes candidate idx with hold h and the copy pieces in `take`.
  auto accept = [&](uint32_t idx, const Hold& h, bool promote, bool writeback, int issue,
                    int deadline, double cost) {
    const Candidate& c = cands[idx];
    occ.add(h.start, h.end, h.bytes);
    each_use(c.unit, c.a, c.b, [&](size_t k, double t, bool) { mem[k] -= t; });
    Taken r{idx,
            h,
            static_cast<uint32_t>(pieces.size()),
            0,
            issue,
            deadline,
            promote,
            writeback,
            true,
            cost,
            last_taken[c.unit]};
    for (const auto& [j, t] : take) {
      const double nvm = t * (promote && j < c.a ? nvm_read_s : nvm_write_s);
      const double engine = std::max(t * dma_s, nvm);
      dma_used[cyc(j)] += engine;
      copy_nvm[cyc(j)] += nvm;
      pieces.push_back(Piece{cyc(j), engine, nvm});
    }
    r.end_piece = static_cast<uint32_t>(pieces.size());
    last_taken[c.unit] = static_cast<uint32_t>(taken.size());
    taken.push_back(r);
    (c.whole ? whole_taken : part_taken)[c.unit] = 1;
  };
  // The whole life of a unit in place of the clusters taken for it, when that is worth
  // more: it also saves the accesses outside them and the time their copies add.
  std::vector<uint32_t> clusters;
  auto upgrade = [&](uint32_t idx) {
    const Candidate& c = cands[idx];
    const int64_t bytes = l.units[c.unit].bytes(pg);
    clusters.clear();
    double worth = 0;
    for (uint32_t r = last_taken[c.unit]; r != kNone32; r = taken[r].prev) {
      clusters.push_back(r);
      worth += taken[r].cost;
    }
    each_use(c.unit, c.a, c.b, [&](size_t k, double t, bool) {
      for (uint32_t r : clusters) {
        const Candidate& q = cands[taken[r].cand];
        const int kk = static_cast<int>(k) >= q.a ? static_cast<int>(k) : static_cast<int>(k) + K;
        if (kk <= q.b) return;
      }
      worth += saving(k, t);
    });
    if (worth <= 0) return;
    for (uint32_t r : clusters) occ.add(taken[r].hold.start, taken[r].hold.end, -bytes);
    if (occ.max(c.a, c.b) + bytes > o.fast_bytes) {
      for (uint32_t r : clusters) occ.add(taken[r].hold.start, taken[r].hold.end, bytes);
      return;
    }
    for (uint32_t r : clusters) {
      Taken& t = taken[r];
      t.alive = false;
      for (uint32_t x = t.first_piece; x < t.end_piece; ++x) {
        dma_used[pieces[x].j] -= pieces[x].engine_s;
        copy_nvm[pieces[x].j] -= pieces[x].nvm_s;
      }
      each_use(c.unit, cands[t.cand].a, cands[t.cand].b,
               [&](size_t k, double s, bool) { mem[k] += s; });
    }
    part_taken[c.unit] = 0;
    last_taken[c.unit] = kNone32;
    take.clear();
    accept(idx, Hold{bytes, c.a, c.b, -1, -1}, false, false, 0, 0, 0);
  };
  // Residencies that save nothing by the planner's estimate and need no copy; they fill
  // what fast memory is left at the end (the estimate is coarse; free room is wasted room).
  std::vector<uint32_t> leftover;
  for (const Key& key : order) {
    const Candidate& c = cands[key.idx];
    if (!c.whole && whole_taken[c.unit]) continue;  // one or the other
    if (c.whole && part_taken[c.unit]) {
      if (sw.bandwidth_bound) upgrade(key.idx);
      continue;
    }
    const Unit& un = l.units[c.unit];
    const int64_t bytes = un.bytes(pg);
    Hold h{bytes, c.a, c.b, -1, -1};
    bool promote = false, writeback = false;
    int issue = 0, deadline = 0;  // of the promotion, of the write-back
    double cost = 0;              // seconds the copies add to the step (planner estimate)
    take.clear();
    if (!c.whole) {
      if (!c.fresh) {
        promote = true;
        // Issued as late as the copy can still be carried before the use.
        issue = sw.bandwidth_bound
                    ? place_copy(static_cast<double>(bytes), c.a - 1, -1, nvm_read_s, cost)
                    : c.a - 1;
        if (issue == kNoRoom) continue;  // the engine cannot carry it: stays in NVM
        h.start = issue;
      }
      if (c.at_free) {
        h.end = un.free;
      } else if (!c.dead && c.dirty) {
        // Written back after the last use, spread over the following intervals; the frame
        // is held until the copy completes.
        writeback = true;
        deadline = c.b + 2;
        if (sw.bandwidth_bound) {
          const int d = place_copy(static_cast<double>(bytes), c.b + 1, 1, nvm_write_s, cost);
          if (d == kNoRoom) continue;  // cannot be carried
          deadline = d + 1;
        }
        h.end = deadline - 1;
      }
      // Otherwise clean (the NVM copy is still valid) or dead: the frame is simply dropped.
    }
    if (occ.max(h.start, h.end) + bytes > o.fast_bytes) continue;
    if (sw.bandwidth_bound) {
      // The residency's worth now: the time its accesses save, as the intervals stand after
      // what was accepted before it, less what its copies add.
      double saved = 0;
      each_use(c.unit, c.a, c.b, [&](size_t k, double t, bool) { saved += saving(k, t); });
      if (saved - cost <= 0) {
        if (!promote && !writeback) leftover.push_back(key.idx);
        continue;
      }
    }
    accept(key.idx, h, promote, writeback, issue, deadline, cost);
  }
  for (uint32_t idx : leftover) {
    const Candidate& c = cands[idx];
    if (part_taken[c.unit] || whole_taken[c.unit]) continue;
    const int64_t bytes = l.units[c.unit].bytes(pg);
    if (occ.max(c.a, c.b) + bytes > o.fast_bytes) continue;
    take.clear();
    accept(idx, Hold{bytes, c.a, c.b, -1, -1}, false, false, 0, 0, 0);
  }

  // The plan: every live residency in each step it touches (the step before the first
  // one only for what runs into the first; the run starts with it resident), clipped to
  // the run. Copies outside the run are dropped: a promotion issued before the run starts
  // resident, a write-back after it is never needed.
  struct Range {  // accepted [a, b] ranges, absolute (gathered per unit below)
    uint32_t unit = 0;
    int a = 0, b = 0;
  };
  std::vector<Range> accepted;
  struct Pending {
    Migration m;
    int hold;
  };
  std::vector<Pending> migs;
  for (const Taken& r : taken) {
    if (!r.alive) continue;
    const Candidate& c = cands[r.cand];
    const int64_t off = l.units[c.unit].first_page * pg;
    const bool whole_step = c.whole && l.units[c.unit].persistent;
    for (int step = whole_step ? 0 : -1; step < (whole_step ? 1 : 2); ++step) {
      const int shift = step * K;
      Hold h = r.hold;
      if (whole_step) {
        h.start = 0;
        h.end = N - 1;
      } else {
        h.start += shift;
        h.end += shift;
      }
      if (h.end < 0 || h.start > N - 1) continue;
      const bool promoted = r.promote && h.start >= 0;
      const bool written = r.writeback && c.b + 1 + shift <= N - 1;
      h.start = std::max(0, h.start);
      h.end = std::min(N - 1, h.end);
      const int hold = static_cast<int>(plan.holds.size());
      plan.holds.push_back(h);
      if (promoted)
        migs.push_back({Migration{off, h.bytes, true, r.issue + shift, c.a + shift}, hold});
      if (written)
        migs.push_back({Migration{off, h.bytes, false, c.b + 1 + shift, r.deadline + shift}, hold});
      if (whole_step)
        accepted.push_back(Range{c.unit, 0, N - 1});
      else if (c.b + shift >= 0)
        accepted.push_back(Range{c.unit, std::max(0, c.a + shift), std::min(N - 1, c.b + shift)});
    }
  }
  // DMA order: by issue interval, demotions first (they free the frames promotions take).
  std::stable_sort(migs.begin(), migs.end(), [](const Pending& x, const Pending& y) {
    if (x.m.issue != y.m.issue) return x.m.issue < y.m.issue;
    if (x.m.to_fast != y.m.to_fast) return !x.m.to_fast;
    return x.m.deadline < y.m.deadline;
  });
  for (const Pending& pm : migs) {
    const int idx = static_cast<int>(plan.migrations.size());
    plan.migrations.push_back(pm.m);
    Hold& h = plan.holds[static_cast<size_t>(pm.hold)];
    (pm.m.to_fast ? h.start_migration : h.end_migration) = idx;
  }
  // fast[fast_first[u]] .. fast[fast_first[u + 1] - 1]: unit u's accepted ranges.
  std::vector<uint32_t> fast_first(U + 1, 0);
  for (const Range& r : accepted) ++fast_first[r.unit + 1];
  for (size_t u = 0; u < U; ++u) fast_first[u + 1] += fast_first[u];
  std::vector<std::pair<int, int>> fast(accepted.size());
  {
    std::vector<uint32_t> next(fast_first.begin(), fast_first.end() - 1);
    for (const Range& r : accepted) fast[next[r.unit]++] = {r.a, r.b};
  }
  // A tensor's pages all belong to its unit, and a unit's tier is one per interval, so
  // each access is one run (what emit_accesses would produce page by page).
  for (int k = 0; k < N; ++k) {
    const std::vector<Access>& acc = p.intervals[static_cast<size_t>(k % K)].accesses;
    std::vector<PlanAccess>& out = plan.accesses[static_cast<size_t>(k)];
    out.reserve(acc.size());
    huge_pages(out);
    for (const Access& a : acc) {
      const uint32_t u = l.unit_of[a.tensor];
      bool f = false;
      for (uint32_t x = fast_first[u]; x < fast_first[u + 1] && !f; ++x)
        f = k >= fast[x].first && k <= fast[x].second;
      out.push_back(PlanAccess{l.offset[a.tensor], a.bytes, a.write, f});
    }
  }
  return plan;
}

// Page-level placement: first touch into fast memory while it has room; with `migrate`,
// an OS-style scan promotes hot pages and demotes the least recently used.
Plan plan_pages(const Profile& p, const PolicyOptions& o, bool migrate) {
  Plan plan = empty_plan(p, o);
  const int K = plan.step_intervals, N = plan.intervals;
  LayoutOptions lo = o.layout;
  lo.page_bytes = o.page_bytes;
  lo.group = false;
  const Layout l = build_layout(p, lo);
  const int64_t pg = o.page_bytes;
  const int64_t cap_pages = o.fast_bytes / pg;
  const auto P = static_cast<size_t>(l.pages);
  std::vector<char> fast(P, 0), live(P, 0);
  std::vector<int> last(P, -1), count(P, 0), hold(P, -1);
  std::set<std::pair<int, int64_t>> lru;  // (last access, page) of fast pages
  int64_t used = 0;
  std::vector<int64_t> touched;  // pages accessed since the last scan

  // Per interval: units allocated and freed.
  std::vector<std::vector<uint32_t>> allocs(static_cast<size_t>(N)), frees(static_cast<size_t>(N));
  for (uint32_t u = 0; u < l.units.size(); ++u) {
    const Unit& un = l.units[u];
    if (un.persistent) continue;  // persistent pages: first touch at their first access
    for (int s = 0; s < 2; ++s) {
      allocs[static_cast<size_t>(un.alloc + s * K)].push_back(u);
      frees[static_cast<size_t>(un.free + s * K)].push_back(u);
    }
  }
  auto place = [&](int64_t q, int k) {
    live[static_cast<size_t>(q)] = 1;
    if (used < cap_pages) {
      fast[static_cast<size_t>(q)] = 1;
      ++used;
      hold[static_cast<size_t>(q)] = static_cast<int>(plan.holds.size());
      plan.holds.push_back(Hold{pg, k, N - 1, -1, -1});
      if (migrate) lru.insert({last[static_cast<size_t>(q)], q});
    }
  };
  for (int k = 0; k < N; ++k) {
    if (migrate && k > 0 && k % o.os.period == 0) {
      std::vector<int64_t> hot;
      for (int64_t q : touched)
        if (live[static_cast<size_t>(q)] && !fast[static_cast<size_t>(q)] &&
            count[static_cast<size_t>(q)] >= o.os.hot_threshold)
          hot.push_back(q);
      std::sort(hot.begin(), hot.end(), [&](int64_t x, int64_t y) {
        return count[static_cast<size_t>(x)] != count[static_cast<size_t>(y)]
                   ? count[static_cast<size_t>(x)] > count[static_cast<size_t>(y)]
                   : x < y;
      });
      hot.erase(std::unique(hot.begin(), hot.end()), hot.end());
      int64_t budget = o.os.max_promote_bytes / pg;
      for (int64_t q : hot) {
        if (budget-- <= 0) break;
        if (used >= cap_pages) {
          if (lru.empty()) break;
          const auto victim = *lru.begin();
          if (victim.first >= last[static_cast<size_t>(q)]) break;  // nothing colder to give up
          const int64_t v = victim.second;
          lru.erase(lru.begin());
          fast[static_cast<size_t>(v)] = 0;
          --used;
          plan.holds[static_cast<size_t>(hold[static_cast<size_t>(v)])].end = k - 1;
          plan.holds[static_cast<size_t>(hold[static_cast<size_t>(v)])].end_migration =
              static_cast<int>(plan.migrations.size());
          plan.migrations.push_back(Migration{v * pg, pg, false, k, k});
        }
        fast[static_cast<size_t>(q)] = 1;
        ++used;
        hold[static_cast<size_t>(q)] = static_cast<int>(plan.holds.size());
        plan.holds.push_back(Hold{pg, k, N - 1, static_cast<int>(plan.migrations.size()), -1});
        plan.migrations.push_back(Migration{q * pg, pg, true, k, k});
        lru.insert({last[static_cast<size_t>(q)], q});
      }
      for (int64_t q : touched) count[static_cast<size_t>(q)] = 0;
      touched.clear();
    }
    for (uint32_t u : allocs[static_cast<size_t>(k)])
      for (int64_t q = l.units[u].first_page; q < l.units[u].first_page + l.units[u].pages; ++q)
        place(q, k);
    // Accesses: first touch of persistent pages, then tier lookups and LRU updates.
    for (const Access& a : p.intervals[static_cast<size_t>(k % K)].accesses) {
      const int64_t q0 = l.offset[a.tensor] / pg, q1 = (l.offset[a.tensor] + a.bytes - 1) / pg;
      for (int64_t q = q0; q <= q1; ++q)
        if (!live[static_cast<size_t>(q)]) place(q, k);
    }
    emit_accesses(p, l, k, plan, [&](int64_t q) { return fast[static_cast<size_t>(q)] != 0; });
    // Recency and hotness only feed the scan: static first touch skips their upkeep (an
    // ordered-set erase and insert per accessed page was most of its planning time).
    if (migrate)
      for (const Access& a : p.intervals[static_cast<size_t>(k % K)].accesses) {
        const int64_t q0 = l.offset[a.tensor] / pg, q1 = (l.offset[a.tensor] + a.bytes - 1) / pg;
        for (int64_t q = q0; q <= q1; ++q) {
          const auto qs = static_cast<size_t>(q);
          if (fast[qs]) {
            lru.erase({last[qs], q});
            lru.insert({k, q});
          }
          last[qs] = k;
          if (count[qs]++ == 0) touched.push_back(q);
        }
      }
    for (uint32_t u : frees[static_cast<size_t>(k)])
      for (int64_t q = l.units[u].first_page; q < l.units[u].first_page + l.units[u].pages; ++q) {
        const auto qs = static_cast<size_t>(q);
        live[qs] = 0;
        if (fast[qs]) {
          fast[qs] = 0;
          --used;
          if (migrate) lru.erase({last[qs], q});
          plan.holds[static_cast<size_t>(hold[qs])].end = k;
        }
      }
  }
  return plan;
}

}  // namespace

double step_lower_bound_s(const Profile& p, double flops_per_s, double nvm_write_bps,
                          int64_t fast_bytes) {
  const size_t K = p.intervals.size();
  std::vector<double> live(K + 1, 0);
  for (const TensorInfo& t : p.tensors) {
    if (t.persistent) continue;
    live[static_cast<size_t>(t.alloc)] += static_cast<double>(t.bytes);
    live[static_cast<size_t>(t.free) + 1] -= static_cast<double>(t.bytes);
  }
  std::vector<signed char> last_write(p.tensors.size(), -1);
  size_t last_backward = 0;
  for (size_t k = 0; k < K; ++k) {
    if (p.intervals[k].backward) last_backward = k;
    for (const Access& a : p.intervals[k].accesses) last_write[a.tensor] = a.write;
  }
  double dirty = 0;
  for (size_t t = 0; t < p.tensors.size(); ++t)
    if (p.tensors[t].persistent && last_write[t] == 1)
      dirty += static_cast<double>(p.tensors[t].bytes);
  double now = 0, peak = 0, compute = 0, window = 0;
  size_t at = 0;
  for (size_t k = 0; k < K; ++k) {
    now += live[k];
    compute += p.intervals[k].flops / flops_per_s;
    if (now > peak) {
      peak = now;
      at = k;
    }
  }
  for (size_t k = 0; k < K; ++k)
    if (k <= at || k > last_backward) window += p.intervals[k].flops / flops_per_s;
  const double writes_s =
      std::max(0.0, peak + dirty - static_cast<double>(fast_bytes)) / nvm_write_bps;
  return compute + std::max(0.0, writes_s - window);
}

Plan make_plan(const Profile& p, const PolicyOptions& o) {
  if (p.intervals.empty()) throw ConfigError(p.name + ": the profile has no intervals");
  if (o.policy == "sentinel") return plan_sentinel(p, o);
  if (o.policy == "first_touch") return plan_pages(p, o, false);
  if (o.policy == "os_hotness") return plan_pages(p, o, true);
  if (o.policy == "all_dram" || o.policy == "all_nvm") {
    Plan plan = empty_plan(p, o);
    const bool f = o.policy == "all_dram";
    LayoutOptions lo = o.layout;
    lo.page_bytes = o.page_bytes;
    lo.group = false;
    const Layout l = build_layout(p, lo);
    for (int k = 0; k < plan.intervals; ++k)
      emit_accesses(p, l, k, plan, [&](int64_t) { return f; });
    return plan;
  }
  throw ConfigError("sentinel: unknown policy '" + o.policy + "'");
}

}  // namespace tessel::sentinel
