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

// Instance of a unit over the two steps: its live span and uses. The uses are read from
// the unit (not copied: a large step has a million instances): a transient instance's are
// the unit's shifted into its step, a persistent one's are both steps' in turn.
struct Instance {
  uint32_t unit = 0;
  int alloc = 0, free = 0;  // live span (intervals)
  bool transient = false;
  const View<int>* step_uses = nullptr;  // the unit's uses in one step
  int shift = 0;                         // transient: step * K; persistent: K
  size_t uses() const { return transient ? step_uses->size() : 2 * step_uses->size(); }
  int use(size_t j) const {  // ascending in j
    const size_t m = step_uses->size();
    return transient ? (*step_uses)[j] + shift
           : j < m   ? (*step_uses)[j]
                     : (*step_uses)[j - m] + shift;
  }
};

// Instances in unit order; first[u]..first[u + 1] are unit u's.
std::vector<Instance> instances(const Layout& l, int K, std::vector<uint32_t>* first = nullptr) {
  std::vector<Instance> out;
  out.reserve(2 * l.units.size());
  huge_pages(out);
  if (first) first->assign(l.units.size() + 1, 0);
  for (uint32_t u = 0; u < l.units.size(); ++u) {
    const Unit& un = l.units[u];
    if (first) (*first)[u] = static_cast<uint32_t>(out.size());
    if (un.persistent) {
      out.push_back(Instance{u, 0, 2 * K - 1, false, &un.uses, K});
    } else {
      for (int s = 0; s < 2; ++s)
        out.push_back(Instance{u, un.alloc + s * K, un.free + s * K, true, &un.uses, s * K});
    }
  }
  if (first) first->back() = static_cast<uint32_t>(out.size());
  return out;
}

Plan plan_sentinel(const Profile& p, const PolicyOptions& o) {
  Plan plan = empty_plan(p, o);
  const int K = plan.step_intervals, N = plan.intervals;
  LayoutOptions lo = o.layout;
  lo.page_bytes = o.page_bytes;
  lo.group = o.sentinel.group_allocation;
  const Layout l = build_layout(p, lo);
  const int64_t pg = o.page_bytes;
  int64_t largest_unit = 0;
  for (const Unit& u : l.units) largest_unit = std::max(largest_unit, u.bytes(pg));
  if (o.fast_bytes < (p.largest_tensor + pg - 1) / pg * pg) {
    plan.feasible = false;
    plan.reason = "fast memory (" + std::to_string(o.fast_bytes) +
                  " bytes) is smaller than the largest tensor (" +
                  std::to_string(p.largest_tensor) + " bytes)";
    return plan;
  }
  SentinelSwitches sw = o.sentinel;
  const std::vector<Instance> ins = instances(l, K);
  {
    // When every tensor fits for its whole lifetime there is nothing to migrate.
    std::vector<int64_t> diff(static_cast<size_t>(N) + 1, 0);
    for (const Instance& in : ins) {
      diff[static_cast<size_t>(in.alloc)] += l.units[in.unit].bytes(pg);
      diff[static_cast<size_t>(in.free) + 1] -= l.units[in.unit].bytes(pg);
    }
    int64_t now = 0, peak = 0;
    for (int k = 0; k < N; ++k) peak = std::max(peak, now += diff[static_cast<size_t>(k)]);
    if (peak <= o.fast_bytes) sw.layer_migration = false;
  }

  // Planner's estimate of each interval's duration, and the DMA bytes it can hide.
  std::vector<double> budget(static_cast<size_t>(N));
  for (int k = 0; k < N; ++k) {
    double bytes = 0;
    for (const Access& a : p.intervals[static_cast<size_t>(k % K)].accesses)
      bytes += static_cast<double>(a.bytes);
    const double t =
        std::max(plan.flops[static_cast<size_t>(k)] / o.flops_per_s, bytes / (o.fast_gbps * 1e9));
    budget[static_cast<size_t>(k)] = sw.bandwidth_bound ? t * o.dma_gbps * 1e9 : 1e300;
  }
  // Bytes read and written per unit and interval of the step: unit u's intervals are
  // traffic[traffic_first[u]] .. traffic[traffic_first[u + 1] - 1], ascending. One flat
  // array (counted, then filled) instead of a vector per unit: a large step has ~1M units.
  struct Traffic {
    int k = 0;
    double read = 0, write = 0;
  };
  std::vector<uint32_t> traffic_first(l.units.size() + 1, 0);
  std::vector<Traffic> traffic;
  {
    std::vector<int> last(l.units.size(), -1);
    for (int k = 0; k < K; ++k)
      for (const Access& a : p.intervals[static_cast<size_t>(k)].accesses) {
        const uint32_t u = l.unit_of[a.tensor];
        if (last[u] != k) {
          last[u] = k;
          ++traffic_first[u + 1];
        }
      }
    for (size_t u = 0; u < l.units.size(); ++u) traffic_first[u + 1] += traffic_first[u];
    traffic.resize(traffic_first.back());
    std::vector<uint32_t> next(traffic_first.begin(), traffic_first.end() - 1);
    last.assign(l.units.size(), -1);
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
  // DMA-engine time of a byte copied each way (the NVM side is the slower end).
  const double promote_cost = o.dma_gbps / std::min(o.dma_gbps, o.slow_read_gbps);
  const double writeback_cost = o.dma_gbps / std::min(o.dma_gbps, o.slow_write_gbps);
  const double r_gain = 1 / o.slow_read_gbps - 1 / o.fast_gbps;
  const double w_gain = 1 / o.slow_write_gbps - 1 / o.fast_gbps;

  struct Candidate {  // 16 bytes; its density is in its sort key
    uint32_t inst = 0;
    int a = 0, b = 0;  // first and last use
    bool at_alloc = false, at_free = false, dirty = false, pool = false, whole = false;
  };
  // Pool candidates first, then by density, ties in creation order (a stable sort of the
  // candidates, done on 16-byte keys).
  struct Key {
    double density;
    uint32_t idx;
    bool pool;
  };
  std::vector<Candidate> cands;
  std::vector<Key> order;
  {
    // At most one whole-life candidate and one cluster per use for each instance.
    size_t most = 0;
    for (const Instance& in : ins) most += 1 + in.uses();
    cands.reserve(most);  // untouched capacity costs no page faults
    order.reserve(most);
    huge_pages(cands);
    huge_pages(order);
  }
  auto add = [&](const Candidate& c, double density) {
    order.push_back(Key{density, static_cast<uint32_t>(cands.size()), c.pool});
    cands.push_back(c);
  };
  const int gap = sw.max_lookahead + 2;  // clusters this far apart never overlap their holds
  for (uint32_t i = 0; i < ins.size(); ++i) {
    const Instance& in = ins[i];
    const Unit& u = l.units[in.unit];
    const size_t m = in.uses();
    if (m == 0) continue;
    auto cluster_gain = [&](int a, int b, bool& dirty) {
      double g = 0;
      for (uint32_t x = traffic_first[in.unit]; x < traffic_first[in.unit + 1]; ++x) {
        const Traffic& t = traffic[x];
        for (int s = 0; s < 2; ++s) {
          const int kk = t.k + s * K;
          if (kk < a || kk > b) continue;
          g += t.read * r_gain + t.write * w_gain;
          if (t.write > 0) dirty = true;
        }
      }
      return g;
    };
    const bool pool = sw.short_pool && in.transient && u.short_lived;
    if (!sw.layer_migration || pool) {
      Candidate c{i, in.alloc, in.free, true, true, false, pool, true};
      const double g = cluster_gain(in.alloc, in.free, c.dirty);
      add(c, g / (static_cast<double>(u.bytes(pg)) * (in.free - in.alloc + 1)));
      continue;
    }
    // A transient tensor either lives in DRAM from allocation to free, or is allocated in
    // NVM: allocating it in DRAM and writing it back later costs the same NVM writes as
    // writing it to NVM directly, plus the copy (NVM writes bound the forward pass).
    if (in.transient) {
      Candidate c{i, in.alloc, in.free, true, true, false, false, true};
      const double g = cluster_gain(in.alloc, in.free, c.dirty);
      add(c, g / (static_cast<double>(u.bytes(pg)) * (in.free - in.alloc + 1)));
    }
    size_t s = 0;  // the first cluster of a transient: the candidate above
    if (in.transient) {
      while (s + 1 < m && in.use(s + 1) - in.use(s) <= gap) ++s;
      ++s;
    }
    while (s < m) {
      size_t e = s;
      while (e + 1 < m && in.use(e + 1) - in.use(e) <= gap) ++e;
      Candidate c{i, in.use(s), in.use(e), false, in.transient && e + 1 == m, false, false, false};
      const double g = cluster_gain(c.a, c.b, c.dirty);
      const int start = c.at_alloc ? in.alloc : std::max(0, c.a - 1);
      const int end = c.at_free ? in.free : c.b + 1;
      add(c, g / (static_cast<double>(u.bytes(pg)) * (end - start + 1)));
      s = e + 1;
    }
  }
  std::sort(order.begin(), order.end(), [](const Key& x, const Key& y) {
    if (x.pool != y.pool) return x.pool;
    if (x.density != y.density) return x.density > y.density;
    return x.idx < y.idx;
  });

  MaxTree occ(N);
  // Accepted [a, b] ranges (gathered per unit below).
  struct Range {
    uint32_t unit = 0;
    int a = 0, b = 0;
  };
  std::vector<Range> accepted;
  accepted.reserve(cands.size());
  std::vector<char> whole_taken(ins.size(), 0), part_taken(ins.size(), 0);
  std::vector<std::pair<int, double>> take;  // per candidate: (interval, DMA bytes) it takes
  struct Pending {
    Migration m;
    int hold;
  };
  std::vector<Pending> migs;
  for (const Key& key : order) {
    const Candidate& c = cands[key.idx];
    const Instance& in = ins[c.inst];
    if (c.whole ? part_taken[c.inst] : whole_taken[c.inst]) continue;  // one or the other
    const int64_t bytes = l.units[in.unit].bytes(pg);
    const int64_t unit_off = l.units[in.unit].first_page * pg;
    Hold h{bytes, 0, 0, -1, -1};
    bool promote = false, writeback = false;
    int issue = 0;
    int deadline = 0;  // of the writeback
    take.clear();
    if (c.whole) {
      h.start = in.alloc;
      h.end = in.free;
    } else {
      if (c.at_alloc) {
        h.start = in.alloc;
      } else {
        promote = true;
        // Latest issue interval whose DMA budget up to the use covers the copy.
        double left = static_cast<double>(bytes) * promote_cost;
        issue = -1;
        for (int j = c.a - 1; j >= std::max(0, c.a - sw.max_lookahead) && sw.bandwidth_bound; --j) {
          const double t = std::min(left, budget[static_cast<size_t>(j)]);
          if (t > 0) take.push_back({j, t});
          left -= t;
          if (left <= 0) {
            issue = j;
            break;
          }
        }
        if (issue < 0) {
          if (sw.bandwidth_bound && c.a > 0) continue;  // cannot be hidden: stays in NVM
          issue = std::max(0, c.a - 1);
          take.clear();
        }
        h.start = issue;
      }
      if (c.at_free) {
        h.end = in.free;
      } else if (c.dirty || c.at_alloc) {
        // Written back after the last use, spread over the intervals whose DMA budget
        // covers it; the frame is held until the copy completes.
        writeback = c.b + 1 < N;
        deadline = c.b + 2;
        if (writeback && sw.bandwidth_bound) {
          double left = static_cast<double>(bytes) * writeback_cost;
          int d = -1;
          for (int j = c.b + 1; j < std::min(N, c.b + 1 + sw.max_lookahead); ++j) {
            const double t = std::min(left, budget[static_cast<size_t>(j)]);
            if (t > 0) take.push_back({j, t});
            left -= t;
            if (left <= 0) {
              d = j + 1;
              break;
            }
          }
          if (d < 0 && c.b + 1 + sw.max_lookahead < N) continue;  // cannot be hidden
          deadline = d < 0 ? N : d;
        }
        h.end = std::min(N - 1, deadline - 1);
      } else {
        h.end = c.b;  // clean: the NVM copy is still valid, the frame is simply dropped
      }
    }
    if (occ.max(h.start, h.end) + bytes > o.fast_bytes) continue;
    occ.add(h.start, h.end, bytes);
    for (const auto& [j, t] : take) budget[static_cast<size_t>(j)] -= t;
    const int hold = static_cast<int>(plan.holds.size());
    if (promote) migs.push_back({Migration{unit_off, bytes, true, issue, c.a}, hold});
    if (writeback) migs.push_back({Migration{unit_off, bytes, false, c.b + 1, deadline}, hold});
    plan.holds.push_back(h);
    accepted.push_back(Range{in.unit, c.whole ? in.alloc : c.a, c.whole ? in.free : c.b});
    (c.whole ? whole_taken : part_taken)[c.inst] = 1;
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
  // fast[fast_first[u]] .. fast[fast_first[u + 1] - 1]: unit u's accepted ranges. A
  // range lies within its instance's live span and a unit's instances do not overlap, so
  // "a range of u holds k" is "the instance of u live at k has a range holding k".
  std::vector<uint32_t> fast_first(l.units.size() + 1, 0);
  for (const Range& r : accepted) ++fast_first[r.unit + 1];
  for (size_t u = 0; u < l.units.size(); ++u) fast_first[u + 1] += fast_first[u];
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
