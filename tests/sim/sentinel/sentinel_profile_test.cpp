// Sentinel's profiler, allocator and planners (plain C++): lifetimes of a hand-written
// trace, bad-input errors, the generator against the engine's own trace, class-pure pages,
// the page-LRU baseline against a hand-simulated sequence, plan capacity and infeasibility.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <tuple>

#include "runtime/core/error.h"
#include "sim/sentinel/allocator.h"
#include "sim/sentinel/policies.h"
#include "sim/sentinel/tensor_profile.h"
#include "sim/sentinel/trace_gen.h"

namespace tessel::sentinel {
namespace {

const std::string kWorkloads = std::string(TESSEL_SOURCE_DIR) + "/configs/workloads/sentinel/";

TraceFile parse(const std::string& text, const std::string& name = "t.trace") {
  std::istringstream in(text);
  return parse_tensor_trace(in, name);
}

const TensorInfo& find(const Profile& p, const std::string& name) {
  for (const TensorInfo& t : p.tensors)
    if (t.name == name) return t;
  throw std::runtime_error("no tensor " + name);
}

// Forward layer 0 and 1, then the head, then backward; w0 a parameter.
const char* kHand =
    "# hand-written\n"
    "0 -1 R param:w0 1024\n"  // interval 0
    "0 0 A a0 4096\n"         // interval 1
    "0 0 W a0 4096\n"
    "0 1 A a1 8192\n"  // interval 2
    "0 1 W a1 8192\n"
    "0 1 R a0 4096\n"
    "0 1 F a0 4096\n"
    "0 1 W grad:w0 1024\n"
    "0 -1 R a1 8192\n"  // interval 3
    "0 -1 F a1 8192\n"
    "1 0 R param:w0 1024\n";  // next step: ignored

TEST(SentinelProfile, LifetimesOfHandWrittenTrace) {
  ProfileOptions o;
  o.rows = 10;
  const Profile p = build_profile(parse(kHand), o);
  ASSERT_EQ(p.intervals.size(), 4u);
  EXPECT_EQ(p.events, 10);
  const TensorInfo& a0 = find(p, "a0");
  EXPECT_FALSE(a0.persistent);
  EXPECT_EQ(a0.alloc, 1);
  EXPECT_EQ(a0.free, 2);
  EXPECT_EQ(a0.lifetime(), 2);
  EXPECT_EQ(a0.uses, (std::vector<int>{1, 2}));
  EXPECT_EQ(a0.accesses, 2);
  EXPECT_EQ(a0.read_bytes, 4096);
  EXPECT_EQ(a0.write_bytes, 4096);
  const TensorInfo& a1 = find(p, "a1");
  EXPECT_EQ(a1.alloc, 2);
  EXPECT_EQ(a1.free, 3);
  EXPECT_EQ(a1.uses, (std::vector<int>{2, 3}));
  const TensorInfo& w = find(p, "param:w0");
  EXPECT_TRUE(w.persistent);
  EXPECT_EQ(w.uses, (std::vector<int>{0}));
  EXPECT_EQ(find(p, "grad:w0").uses, (std::vector<int>{2}));
  // Persistent 1024 + 1024 plus the most live at once: a0 and a1 (12288).
  EXPECT_EQ(p.peak_bytes, 1024 + 1024 + 12288);
  EXPECT_EQ(p.largest_tensor, 8192);
  EXPECT_EQ(p.access_bytes, 1024 + 4096 + 8192 + 4096 + 1024 + 8192);
  // Forward: 2 * rows * 256 elements; interval 2 writes 256 gradient elements: 4 * rows * 256.
  EXPECT_DOUBLE_EQ(p.intervals[0].flops, 2 * 10 * 256);
  EXPECT_DOUBLE_EQ(p.intervals[2].flops, 4 * 10 * 256);
  EXPECT_TRUE(p.intervals[2].backward);
  EXPECT_DOUBLE_EQ(p.intervals[1].flops, 0);
}

TEST(SentinelProfile, SplitsWholeStoreOptimizerAccesses) {
  const Profile p =
      build_profile(parse("0 0 R param:a 400\n0 0 R param:b 200\n0 -1 R adam_m 700\n"));
  EXPECT_EQ(find(p, "adam_m:a").bytes, 400);
  EXPECT_EQ(find(p, "adam_m:b").bytes, 200);
  EXPECT_EQ(find(p, "adam_m:rest").bytes, 100);
  EXPECT_THROW(build_profile(parse("0 0 R param:a 400\n0 -1 R grads 300\n")), ConfigError);
}

std::string error_of(const std::string& text) {
  try {
    build_profile(parse(text));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(SentinelProfile, BadInputErrorsNameFileAndLine) {
  EXPECT_EQ(error_of("0 0 F x 64\n0 0 A x 64\n"),
            "t.trace:1: free of unknown tensor 'x' (never allocated)");
  EXPECT_EQ(error_of("0 0 A x 64\n0 0 F x 64\n0 1 F x 64\n"),
            "t.trace:3: free of tensor 'x' that is not allocated");
  EXPECT_EQ(error_of("0 0 A x 64\n0 0 F x 64\n0 1 R x 64\n"),
            "t.trace:3: access to freed tensor 'x'");
  EXPECT_EQ(error_of("0 0 R x 64\n0 1 A x 64\n"),
            "t.trace:2: tensor 'x' allocated after it was accessed (t.trace:1)");
  EXPECT_EQ(error_of("0 0 A x 64\n0 0 A x 64\n"),
            "t.trace:2: tensor 'x' allocated twice without a free");
  EXPECT_EQ(error_of("0 0 A x 64\n0 0 W x 128\n0 0 F x 64\n"),
            "t.trace:2: access of 128 bytes to tensor 'x' of 64");
  // Truncated: an allocation never freed, a last line without newline, a cut line.
  EXPECT_EQ(error_of("0 0 R w 64\n0 0 A x 64\n0 1 R x 64\n"),
            "t.trace:2: tensor 'x' is allocated and never freed in the step (truncated trace?)");
  EXPECT_EQ(error_of("0 0 A x 64\n0 0 F x 6"),
            "t.trace:2: truncated file: the last line has no newline");
  EXPECT_EQ(error_of("0 0 A x 64\n0 0 F x\n"),
            "t.trace:2: expected 5 fields '<step> <layer> <A|F|R|W> <tensor> <bytes>', got 4");
  EXPECT_EQ(error_of("0 0 X x 64\n"), "t.trace:1: op: expected A, F, R or W, got 'X'");
  EXPECT_EQ(error_of("0 -2 R x 64\n"), "t.trace:1: layer: expected an integer >= -1, got '-2'");
  EXPECT_EQ(error_of("0 0 R x 0\n"), "t.trace:1: bytes: expected a positive integer, got '0'");
  EXPECT_EQ(error_of("# only a comment\n"), "t.trace: the tensor trace has no events");
  EXPECT_THROW(read_tensor_trace(kWorkloads + "no_such.trace"), IoError);
}

// The generator against the engine: configs/workloads/sentinel/tfm_4x128_b16_t128.trace
// was written by models/nn's Trainer (tinyshakespeare, vocab 65, max_seq 128).
TEST(SentinelTraceGen, MatchesTheEngineTraceEventForEvent) {
  const TraceFile engine = read_tensor_trace(kWorkloads + "tfm_4x128_b16_t128.trace");
  TransformerShape s;
  s.vocab = 65;
  s.max_seq = 128;
  s.layers = 4;
  s.width = 128;
  s.heads = 4;
  s.batch = 16;
  s.seq = 128;
  const TraceFile gen = generate_transformer_trace(s);
  ASSERT_EQ(gen.events.size(), engine.events.size());
  for (size_t i = 0; i < gen.events.size(); ++i) {
    const TraceEvent &g = gen.events[i], &e = engine.events[i];
    ASSERT_EQ(gen.tensors[g.tensor], engine.tensors[e.tensor]) << "event " << i;
    ASSERT_EQ(g.op, e.op) << "event " << i;
    ASSERT_EQ(g.layer, e.layer) << "event " << i;
    ASSERT_EQ(g.bytes, e.bytes) << "event " << i;
  }
  s.heads = 3;
  EXPECT_THROW(generate_transformer_trace(s), ConfigError);
}

// Classes of the tensors overlapping each page of a layout.
std::vector<std::set<int>> page_classes(const Profile& p, const Layout& l) {
  std::vector<std::set<int>> pages(static_cast<size_t>(l.pages));
  const int64_t pg = l.options.page_bytes;
  for (size_t i = 0; i < p.tensors.size(); ++i)
    for (int64_t q = l.offset[i] / pg; q <= (l.offset[i] + p.tensors[i].bytes - 1) / pg; ++q)
      pages[static_cast<size_t>(q)].insert(tensor_class(p.tensors[i], l.options));
  return pages;
}

TEST(SentinelAllocator, GroupedLayoutNeverMixesClassesInAPage) {
  for (const char* w : {"tfm_4x128_b16_t128", "tfm_6x384_b8_t256", "mlp_3x1024_b1024"}) {
    const Profile p = build_profile(read_tensor_trace(kWorkloads + w + ".trace"));
    for (int64_t page : {4096, 65536, 2 << 20}) {
      LayoutOptions o;
      o.page_bytes = page;
      o.group = true;
      const Layout l = build_layout(p, o);
      int mixed = 0;
      for (const auto& s : page_classes(p, l)) mixed += s.size() > 1;
      EXPECT_EQ(mixed, 0) << w << " page " << page;
      // Tensors never overlap.
      for (size_t i = 0; i < p.tensors.size(); ++i)
        for (size_t j = i + 1; j < p.tensors.size(); ++j)
          ASSERT_TRUE(l.offset[i] + p.tensors[i].bytes <= l.offset[j] ||
                      l.offset[j] + p.tensors[j].bytes <= l.offset[i]);
      // Packed in allocation order, the same tensors do share pages across classes
      // (small parameters next to activations), so the check above can fail.
      o.group = false;
      const Layout packed = build_layout(p, o);
      int packed_mixed = 0;
      for (const auto& s : page_classes(p, packed)) packed_mixed += s.size() > 1;
      if (page == (2 << 20)) {
        EXPECT_GT(packed_mixed, 0) << w;
      }
    }
  }
}

// Three one-page tensors, two pages of fast memory, a scan before every interval.
//   interval (per step): 0: R A   1: R B   2: R C   3: R C, R A
// Hand simulation (first touch, then promote pages touched in the last interval, demoting
// the least recently used fast page while it is colder than the candidate):
//   k0: A first-touched fast        k1: B first-touched fast     k2: C first-touched slow
//   k3: scan: C hot, LRU victim A (last 0) -> demote A, promote C; C fast, A slow
//   k4: scan: A hot, victim B (1)   -> demote B, promote A; A fast
//   k5: scan: nothing slow was hot; B slow
//   k6: scan: B hot, victim C (3)   -> demote C, promote B; C slow
//   k7: scan: C hot, victim A (4)   -> demote A, promote C; C fast, A slow
TEST(SentinelPolicies, PageLruBaselineMatchesHandSimulation) {
  const Profile p = build_profile(
      parse("0 0 R A 4096\n0 1 R B 4096\n0 0 R C 4096\n0 1 R C 4096\n0 1 R A 4096\n"));
  ASSERT_EQ(p.intervals.size(), 4u);
  PolicyOptions o;
  o.policy = "os_hotness";
  o.fast_bytes = 2 * 4096;
  o.page_bytes = 4096;
  o.os.period = 1;
  o.os.hot_threshold = 1;
  o.os.max_promote_bytes = 1 << 20;
  const Plan plan = make_plan(p, o);
  const int64_t A = 0, B = 4096, C = 8192;
  struct M {
    int issue;
    bool to_fast;
    int64_t offset;
  };
  const std::vector<M> want = {{3, false, A}, {3, true, C}, {4, false, B}, {4, true, A},
                               {6, false, C}, {6, true, B}, {7, false, A}, {7, true, C}};
  ASSERT_EQ(plan.migrations.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(plan.migrations[i].issue, want[i].issue) << i;
    EXPECT_EQ(plan.migrations[i].deadline, want[i].issue) << i;
    EXPECT_EQ(plan.migrations[i].to_fast, want[i].to_fast) << i;
    EXPECT_EQ(plan.migrations[i].offset, want[i].offset) << i;
  }
  // (offset, fast) of each access, interval by interval.
  const std::vector<std::vector<std::pair<int64_t, bool>>> tiers = {
      {{A, true}}, {{B, true}},  {{C, false}}, {{C, true}, {A, false}},
      {{A, true}}, {{B, false}}, {{C, false}}, {{C, true}, {A, false}}};
  ASSERT_EQ(plan.accesses.size(), tiers.size());
  for (size_t k = 0; k < tiers.size(); ++k) {
    ASSERT_EQ(plan.accesses[k].size(), tiers[k].size()) << k;
    for (size_t i = 0; i < tiers[k].size(); ++i) {
      EXPECT_EQ(plan.accesses[k][i].offset, tiers[k][i].first) << k;
      EXPECT_EQ(plan.accesses[k][i].fast, tiers[k][i].second) << k;
    }
  }
  EXPECT_LE(plan_peak_occupancy(plan), 2 * 4096);
}

TEST(SentinelPolicies, PlansStayWithinCapacityAndBaselinesAreUniform) {
  const Profile p = build_profile(read_tensor_trace(kWorkloads + "tfm_4x256_b16_t256.trace"));
  for (const char* policy : {"sentinel", "first_touch", "os_hotness"})
    for (double f : {0.05, 0.1, 0.2, 0.5}) {
      PolicyOptions o;
      o.policy = policy;
      o.fast_bytes = static_cast<int64_t>(f * static_cast<double>(p.peak_bytes));
      for (bool lm : {true, false}) {
        o.sentinel.layer_migration = lm;
        const Plan plan = make_plan(p, o);
        if (!plan.feasible) continue;
        EXPECT_LE(plan_peak_occupancy(plan), o.fast_bytes) << policy << " " << f;
        for (const Migration& m : plan.migrations) {
          EXPECT_LE(m.issue, m.deadline);
        }
      }
    }
  PolicyOptions o;
  for (const char* policy : {"all_dram", "all_nvm"}) {
    o.policy = policy;
    const Plan plan = make_plan(p, o);
    EXPECT_TRUE(plan.migrations.empty());
    for (const auto& iv : plan.accesses) {
      for (const PlanAccess& a : iv) {
        EXPECT_EQ(a.fast, o.policy == "all_dram");
      }
    }
  }
}

TEST(SentinelPolicies, FastMemorySmallerThanLargestTensorIsInfeasible) {
  const Profile p = build_profile(read_tensor_trace(kWorkloads + "tfm_4x256_b16_t256.trace"));
  PolicyOptions o;
  o.policy = "sentinel";
  o.fast_bytes = p.largest_tensor - 4096;
  const Plan plan = make_plan(p, o);
  EXPECT_FALSE(plan.feasible);
  EXPECT_NE(plan.reason.find("smaller than the largest tensor"), std::string::npos) << plan.reason;
  // The page-level baselines still run (pages of a tensor may sit in both tiers).
  o.policy = "first_touch";
  EXPECT_TRUE(make_plan(p, o).feasible);
}

// Sentinel's plan repeats every step: the measured second step places every access as
// the first does and issues the same copies one step later (so it pays for the write-backs
// the step before left), except promotions the first step would have issued before the
// run started (those residencies start resident) and write-backs due after the run.
TEST(SentinelPolicies, SentinelPlanRepeatsEveryStep) {
  const Profile p = build_profile(read_tensor_trace(kWorkloads + "tfm_4x256_b16_t256.trace"));
  for (double f : {0.1, 0.2, 0.5}) {
    PolicyOptions o;
    o.fast_bytes = static_cast<int64_t>(f * static_cast<double>(p.peak_bytes));
    const Plan plan = make_plan(p, o);
    ASSERT_TRUE(plan.feasible);
    const int K = plan.step_intervals;
    for (int k = 0; k < K; ++k) {
      const auto& a = plan.accesses[static_cast<size_t>(k)];
      const auto& b = plan.accesses[static_cast<size_t>(k + K)];
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].fast, b[i].fast) << f << " " << k;
    }
    using Copy = std::tuple<int64_t, int64_t, bool, int, int>;  // offset, bytes, up, issue, due
    std::multiset<Copy> first, second;
    size_t written_back = 0;
    for (const Migration& m : plan.migrations) {
      const Copy c{m.offset, m.bytes, m.to_fast, m.issue % K, m.deadline - m.issue};
      (m.issue < K ? first : second).insert(c);
      written_back += !m.to_fast && m.issue >= K;
    }
    EXPECT_GT(written_back, 0u) << f;  // the measured step writes something back
    for (const Copy& c : first) EXPECT_EQ(second.count(c), first.count(c)) << f;
    for (const Copy& c : second)
      if (!std::get<2>(c) || std::get<3>(c) - std::get<4>(c) + K >= 0)  // not before the run
        EXPECT_EQ(first.count(c), second.count(c)) << f;
  }
}

// The step-time lower bound against hand arithmetic on a two-layer trace: compute
// 2 * 10 * 256 FLOPs per forward layer, 4 * 10 * 256 per backward layer, none in the head
// and the optimizer; live transients peak at a0 + a1 = 12288 bytes in interval 1; the
// optimizer's last accesses write param:w and param:u (D = 2048 bytes; the gradients are
// read last); the window for the writes is intervals 0-1 and the optimizer (10240 FLOPs).
TEST(SentinelBound, HandTraceMatchesHandArithmetic) {
  const char* trace =
      "0 0 R param:w 1024\n"  // 0: forward layer 0
      "0 0 A a0 8192\n"
      "0 0 W a0 8192\n"
      "0 1 R param:u 1024\n"  // 1: forward layer 1
      "0 1 A a1 4096\n"
      "0 1 W a1 4096\n"
      "0 -1 R a1 4096\n"  // 2: head
      "0 1 R a1 4096\n"   // 3: backward layer 1
      "0 1 F a1 4096\n"
      "0 1 W grad:u 1024\n"
      "0 0 R a0 8192\n"  // 4: backward layer 0
      "0 0 F a0 8192\n"
      "0 0 W grad:w 1024\n"
      "0 -1 R grad:w 1024\n"  // 5: optimizer
      "0 -1 R grad:u 1024\n"
      "0 -1 W param:w 1024\n"
      "0 -1 W param:u 1024\n"
      "1 0 R param:w 1024\n";
  ProfileOptions po;
  po.rows = 10;
  const Profile p = build_profile(parse(trace), po);
  ASSERT_EQ(p.intervals.size(), 6u);
  const double flops_per_s = 1e6, write_bps = 1e6;
  const double compute = (5120 + 5120 + 10240 + 10240) / flops_per_s, window = 10240 / flops_per_s;
  // Fast memory for nothing: L + D = 14336 bytes to write in the window.
  EXPECT_NEAR(step_lower_bound_s(p, flops_per_s, write_bps, 0),
              compute + 14336 / write_bps - window, 1e-12);
  EXPECT_NEAR(step_lower_bound_s(p, flops_per_s, write_bps, 2048),
              compute + 12288 / write_bps - window, 1e-12);
  // 4096 bytes of fast memory leave writes that fit the window exactly: compute only.
  EXPECT_NEAR(step_lower_bound_s(p, flops_per_s, write_bps, 4096), compute, 1e-12);
  EXPECT_NEAR(step_lower_bound_s(p, flops_per_s, write_bps, 1 << 20), compute, 1e-12);
}

}  // namespace
}  // namespace tessel::sentinel
