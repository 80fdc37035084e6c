// Sentinel's profile, layout and plans against independent references: lifetimes,
// accesses and peak from a brute-force pass over the raw events (names as strings, no
// interning), unit uses from set unions, and plan invariants computed from the plan alone
// (fast pages per interval within capacity and within the holds, accesses one-to-one with
// the profile's) on a hand-written trace and a generated ~100k-event Transformer trace.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "sim/sentinel/allocator.h"
#include "sim/sentinel/capacity_check.h"
#include "sim/sentinel/policies.h"
#include "sim/sentinel/tensor_profile.h"
#include "sim/sentinel/trace_gen.h"

namespace tessel::sentinel {
namespace {

// What the profile should say about one tensor, from the events directly.
struct Ref {
  int64_t bytes = 0;
  bool persistent = false;
  int alloc = -1, free = -1;
  int64_t accesses = 0, read_bytes = 0, write_bytes = 0;
  std::set<int> uses;
};

struct RefProfile {
  std::map<std::string, Ref> tensors;
  int intervals = 0;
  int64_t peak_bytes = 0, access_bytes = 0;
};

// Brute force over the first step's events: an interval is a run of equal layers.
RefProfile reference(const TraceFile& t) {
  RefProfile r;
  int iv = -1, layer = 0;
  int64_t live = 0, live_peak = 0;
  for (const TraceEvent& e : t.events) {
    if (e.step != t.events.front().step) break;
    if (iv < 0 || e.layer != layer) ++iv;
    layer = e.layer;
    const std::string name = t.tensors[e.tensor];
    const bool fresh = r.tensors.count(name) == 0;
    Ref& x = r.tensors[name];
    if (e.op == 'A') {
      x.alloc = iv;
      x.bytes = e.bytes;
      live += e.bytes;
      live_peak = std::max(live_peak, live);
    } else if (e.op == 'F') {
      x.free = iv;
      live -= x.bytes;
    } else {
      if (fresh) x.persistent = true;
      if (x.persistent) x.bytes = std::max(x.bytes, e.bytes);
      ++x.accesses;
      (e.op == 'W' ? x.write_bytes : x.read_bytes) += e.bytes;
      x.uses.insert(iv);
      r.access_bytes += e.bytes;
    }
  }
  r.intervals = iv + 1;
  int64_t persistent = 0;
  for (const auto& [name, x] : r.tensors)
    if (x.persistent) persistent += x.bytes;
  r.peak_bytes = persistent + live_peak;
  return r;
}

void expect_tensor_matches(const TensorInfo& t, const Ref& x) {
  EXPECT_EQ(t.bytes, x.bytes) << t.name;
  EXPECT_EQ(t.persistent, x.persistent) << t.name;
  EXPECT_EQ(t.alloc, x.alloc) << t.name;
  EXPECT_EQ(t.free, x.free) << t.name;
  EXPECT_EQ(t.accesses, x.accesses) << t.name;
  EXPECT_EQ(t.read_bytes, x.read_bytes) << t.name;
  EXPECT_EQ(t.write_bytes, x.write_bytes) << t.name;
  EXPECT_EQ(t.uses, std::vector<int>(x.uses.begin(), x.uses.end())) << t.name;
}

// The whole profile against the brute force (no optimizer-state splitting).
void expect_profile_matches(const TraceFile& trace) {
  ProfileOptions o;
  o.split_optimizer_state = false;
  const Profile p = build_profile(trace, o);
  const RefProfile r = reference(trace);
  ASSERT_EQ(p.tensors.size(), r.tensors.size());
  EXPECT_EQ(static_cast<int>(p.intervals.size()), r.intervals);
  EXPECT_EQ(p.peak_bytes, r.peak_bytes);
  EXPECT_EQ(p.access_bytes, r.access_bytes);
  std::set<std::string> names;
  for (const TensorInfo& t : p.tensors) {
    const auto it = r.tensors.find(std::string(t.name));
    ASSERT_NE(it, r.tensors.end()) << t.name;
    expect_tensor_matches(t, it->second);
    names.insert(std::string(t.name));
  }
  EXPECT_EQ(names.size(), p.tensors.size());  // every name once
}

TraceFile parse(const std::string& text) {
  std::istringstream in(text);
  return parse_tensor_trace(in, "hand.trace");
}

// Two forward layers, the head, two backward layers; w0/w1 parameters, x0 the input.
const char* kHand =
    "0 -1 R param:w0 2048\n"  // interval 0
    "0 -1 A x0 4096\n"
    "0 -1 W x0 4096\n"
    "0 0 R param:w0 2048\n"  // interval 1
    "0 0 R x0 4096\n"
    "0 0 A h0 8192\n"
    "0 0 W h0 8192\n"
    "0 1 R param:w1 1024\n"  // interval 2
    "0 1 R h0 8192\n"
    "0 1 A h1 512\n"
    "0 1 W h1 512\n"
    "0 -1 R h1 512\n"  // interval 3
    "0 -1 A loss 64\n"
    "0 -1 W loss 64\n"
    "0 -1 F loss 64\n"
    "0 1 R h1 256\n"  // interval 4: a partial read
    "0 1 W grad:w1 1024\n"
    "0 1 F h1 512\n"
    "0 0 R h0 8192\n"  // interval 5
    "0 0 W grad:w0 2048\n"
    "0 0 F h0 8192\n"
    "0 0 F x0 4096\n";

TEST(SentinelInvariants, HandWrittenLifetimesMatchBruteForceAndHand) {
  const TraceFile t = parse(kHand);
  expect_profile_matches(t);
  // The same numbers by hand, so the brute force itself is checked.
  const Profile p = build_profile(t);
  ASSERT_EQ(p.intervals.size(), 6u);
  for (const TensorInfo& x : p.tensors) {
    if (x.name == "h0") {
      EXPECT_EQ(x.alloc, 1);
      EXPECT_EQ(x.free, 5);
      EXPECT_EQ(x.uses, (std::vector<int>{1, 2, 5}));
      EXPECT_EQ(x.read_bytes, 2 * 8192);
    }
    if (x.name == "h1") {
      EXPECT_EQ(x.uses, (std::vector<int>{2, 3, 4}));
      EXPECT_EQ(x.read_bytes, 512 + 256);
      EXPECT_EQ(x.lifetime(), 3);
    }
    if (x.name == "param:w0") {
      EXPECT_EQ(x.uses, (std::vector<int>{0, 1}));
    }
    if (x.name == "loss") {
      EXPECT_TRUE(x.uses == std::vector<int>{3});
    }
  }
  // Persistent 2048 + 1024 + 1024 + 2048; live peak x0 + h0 + h1 + loss (interval 3).
  EXPECT_EQ(p.peak_bytes, 6144 + 4096 + 8192 + 512 + 64);
}

// A `params` store larger than its parameters, in a trace with no other pieces: the
// remainder is a new "param:rest" of 700 - 400 - 200 bytes, read and written once.
TEST(SentinelInvariants, StoreRemainderWithoutOtherPieces) {
  const Profile p = build_profile(
      parse("0 0 R param:a 400\n0 0 R param:b 200\n0 -1 R params 700\n0 -1 W params 700\n"));
  ASSERT_EQ(p.tensors.size(), 3u);
  EXPECT_EQ(p.tensors[2].name, "param:rest");
  EXPECT_EQ(p.tensors[2].bytes, 100);
  EXPECT_EQ(p.tensors[2].accesses, 2);
  EXPECT_EQ(p.tensors[0].accesses, 3);
  EXPECT_EQ(p.tensors[0].uses, (std::vector<int>{0, 1}));
}

TransformerShape shape_100k() {
  TransformerShape s;  // 1,400 blocks of 68 events plus the optimizer: ~100k events
  s.vocab = 256;
  s.max_seq = 64;
  s.seq = 64;
  s.layers = 1400;
  s.width = 64;
  s.heads = 4;
  s.batch = 4;
  return s;
}

TEST(SentinelInvariants, GeneratedTraceLifetimesMatchBruteForce) {
  const TraceFile t = generate_transformer_trace(shape_100k());
  ASSERT_GT(t.events.size(), 90000u);
  expect_profile_matches(t);
  // With the optimizer split, tensors outside the optimizer keep their brute-force numbers.
  const Profile p = build_profile(t);
  const RefProfile r = reference(t);
  int checked = 0;
  for (const TensorInfo& x : p.tensors) {
    if (x.persistent || !r.tensors.count(std::string(x.name))) continue;
    expect_tensor_matches(x, r.tensors.at(std::string(x.name)));
    ++checked;
  }
  EXPECT_EQ(checked, 1400 * 8 + 3);  // every activation, x0, lnf and logits
}

TEST(SentinelInvariants, ProfileCopiesOutliveTheOriginal) {
  const TraceFile t = parse(kHand);
  Profile copy;
  {
    const Profile p = build_profile(t);
    copy = p;
  }
  const Profile fresh = build_profile(t);
  ASSERT_EQ(copy.tensors.size(), fresh.tensors.size());
  for (size_t i = 0; i < copy.tensors.size(); ++i) {
    EXPECT_EQ(copy.tensors[i].name, fresh.tensors[i].name);
    EXPECT_TRUE(copy.tensors[i].uses == fresh.tensors[i].uses);
  }
}

TEST(SentinelInvariants, UnitsHoldTheUnionOfTheirTensorsUses) {
  const Profile p = build_profile(generate_transformer_trace(shape_100k()));
  for (bool group : {true, false})
    for (int64_t page : {4096, 65536}) {
      LayoutOptions o;
      o.group = group;
      o.page_bytes = page;
      const Layout l = build_layout(p, o);
      std::vector<int> owner(p.tensors.size(), -1);
      for (size_t u = 0; u < l.units.size(); ++u) {
        std::set<int> uses;
        int64_t prev_end = -1;
        for (uint32_t i : l.units[u].tensors) {
          ASSERT_EQ(owner[i], -1);
          owner[i] = static_cast<int>(u);
          EXPECT_EQ(l.unit_of[i], u);
          EXPECT_GE(l.offset[i], prev_end);  // ascending, no overlap
          prev_end = l.offset[i] + p.tensors[i].bytes;
          EXPECT_GE(l.offset[i] / page, l.units[u].first_page);
          EXPECT_LT((prev_end - 1) / page, l.units[u].first_page + l.units[u].pages);
          uses.insert(p.tensors[i].uses.begin(), p.tensors[i].uses.end());
        }
        ASSERT_TRUE(l.units[u].uses == std::vector<int>(uses.begin(), uses.end())) << u;
      }
      EXPECT_EQ(std::count(owner.begin(), owner.end(), -1), 0);
    }
}

// Invariants of a plan computed from the plan alone: per interval the pages accessed in
// fast memory fit in the capacity and in what the holds keep there; accesses are the
// profile's, one-to-one (Sentinel) or split into page runs (the page-level policies).
void expect_plan_invariants(const Profile& p, const PolicyOptions& o, const std::string& what) {
  const Plan plan = make_plan(p, o);
  if (!plan.feasible) {
    EXPECT_LT(o.fast_bytes, (p.largest_tensor + o.page_bytes - 1) / o.page_bytes * o.page_bytes)
        << what;
    return;
  }
  const int N = plan.intervals, K = plan.step_intervals;
  ASSERT_EQ(K, static_cast<int>(p.intervals.size())) << what;
  ASSERT_EQ(static_cast<int>(plan.accesses.size()), N) << what;
  std::vector<int64_t> held(static_cast<size_t>(N) + 1, 0);
  for (const Hold& h : plan.holds) {
    ASSERT_LE(h.start, h.end) << what;
    held[static_cast<size_t>(h.start)] += h.bytes;
    held[static_cast<size_t>(h.end) + 1] -= h.bytes;
  }
  int64_t occupancy = 0;
  for (int k = 0; k < N; ++k) {
    occupancy += held[static_cast<size_t>(k)];
    ASSERT_LE(occupancy, o.fast_bytes) << what << " interval " << k;
    const std::vector<Access>& want = p.intervals[static_cast<size_t>(k % K)].accesses;
    const std::vector<PlanAccess>& got = plan.accesses[static_cast<size_t>(k)];
    int64_t want_bytes = 0, got_bytes = 0;
    for (const Access& a : want) want_bytes += a.bytes;
    std::set<int64_t> fast_pages;
    for (const PlanAccess& a : got) {
      got_bytes += a.bytes;
      if (a.fast)
        for (int64_t q = a.offset / o.page_bytes; q <= (a.offset + a.bytes - 1) / o.page_bytes; ++q)
          fast_pages.insert(q);
    }
    EXPECT_EQ(got_bytes, want_bytes) << what << " interval " << k;
    const auto fast_bytes = static_cast<int64_t>(fast_pages.size()) * o.page_bytes;
    ASSERT_LE(fast_bytes, occupancy) << what << " interval " << k;
    if (o.policy == "sentinel") {
      ASSERT_EQ(got.size(), want.size()) << what;
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].bytes, want[i].bytes) << what;
        ASSERT_EQ(got[i].write, want[i].write) << what;
      }
    }
  }
  for (const Migration& m : plan.migrations) {
    EXPECT_LE(m.issue, m.deadline) << what;
    EXPECT_GE(m.offset, 0) << what;
    EXPECT_EQ(m.bytes % o.page_bytes, 0) << what;
  }
  // The same holds on an interval-granular timeline, through the capacity checker.
  std::vector<TimedHold> timed;
  for (const Hold& h : plan.holds)
    timed.push_back(TimedHold{h.start * 1000LL, (h.end + 1) * 1000LL, h.bytes});
  EXPECT_TRUE(check_capacity(timed, o.fast_bytes).ok) << what;
}

TEST(SentinelInvariants, PlansOfHandAndGeneratedTracesKeepInvariants) {
  for (const bool hand : {true, false}) {
    const Profile p = build_profile(hand ? parse(kHand) : generate_transformer_trace(shape_100k()));
    for (const char* policy : {"sentinel", "first_touch"})
      for (double f : {0.05, 0.2, 0.5, 1.0})
        for (bool group : {true, false}) {
          PolicyOptions o;
          o.policy = policy;
          o.page_bytes = hand ? 1024 : 4096;
          o.fast_bytes = static_cast<int64_t>(f * static_cast<double>(p.peak_bytes));
          o.fast_bytes = std::max<int64_t>(o.fast_bytes, 4 * o.page_bytes);
          o.sentinel.group_allocation = group;
          expect_plan_invariants(p, o,
                                 std::string(hand ? "hand " : "generated ") + policy + " " +
                                     std::to_string(f) + (group ? " grouped" : " packed"));
        }
  }
}

// With room for every page of the layout, Sentinel keeps every access in fast memory and
// moves nothing.
TEST(SentinelInvariants, EverythingFastWhenEverythingFits) {
  const Profile p = build_profile(generate_transformer_trace(shape_100k()));
  PolicyOptions o;
  o.policy = "sentinel";
  LayoutOptions lo;
  lo.page_bytes = o.page_bytes;
  o.fast_bytes = 2 * build_layout(p, lo).pages * o.page_bytes;
  const Plan plan = make_plan(p, o);
  ASSERT_TRUE(plan.feasible);
  EXPECT_TRUE(plan.migrations.empty());
  size_t n = 0;
  for (const auto& iv : plan.accesses)
    for (const PlanAccess& a : iv) {
      ASSERT_TRUE(a.fast);
      ++n;
    }
  EXPECT_EQ(
      n, 2 * [&] {
        size_t m = 0;
        for (const Interval& iv : p.intervals) m += iv.accesses.size();
        return m;
      }());
}

}  // namespace
}  // namespace tessel::sentinel
