// DRAM channel scheduler tests: JEDEC latencies by hand, peak bandwidth, refresh overhead,
// and an independent timing checker run over the command log of random traffic.
#include <algorithm>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/config.h"
#include "runtime/core/seed.h"
#include "sim/memory/dram_channel.h"
#include "sim/memory/dram_energy.h"
#include "sim/memory/dram_timing_check.h"

namespace tessel::memory {
namespace {

DramParams preset(const std::string& file) {
  Config c = Config::load(std::string(TESSEL_SOURCE_DIR) + "/configs/hw/memory/" + file, "hw");
  return read_dram_params(c.child("dram"), c.child("controller"));
}

struct Drive {
  std::vector<BurstDone> done;
  int64_t last = 0;
};

// Feeds `bursts` (in order, each from its arrival cycle, as queue room allows) into one
// channel and runs it until every burst completed.
Drive drive(DramChannel& ch, std::vector<DramBurst> bursts) {
  Drive d;
  size_t next = 0;
  int64_t now = 0;
  std::vector<BurstDone> step_done;
  for (uint32_t i = 0; i < bursts.size(); ++i) bursts[i].txn = i;
  int64_t guard = 0;
  while (d.done.size() < bursts.size() && ++guard < 100000000) {
    while (next < bursts.size() && bursts[next].arrival <= now &&
           ch.can_accept(bursts[next].write)) {
      if (ch.empty()) ch.catch_up(now);
      ch.enqueue(bursts[next++]);
    }
    step_done.clear();
    int64_t nx = ch.step(now, step_done);
    for (const BurstDone& b : step_done) {
      d.done.push_back(b);
      d.last = std::max(d.last, b.done);
    }
    if (next < bursts.size() && ch.can_accept(bursts[next].write))
      nx = std::min(nx, std::max(now + 1, bursts[next].arrival));
    now = nx == kNever ? now + 1 : nx;
  }
  return d;
}

DramBurst burst_at(const AddressMapper& m, uint64_t burst_index, bool write, int64_t arrival) {
  AddressMapper::Fields f = m.decode(burst_index);
  DramBurst b;
  b.rank = static_cast<int32_t>(f.rank);
  b.bankgroup = static_cast<int32_t>(f.bankgroup);
  b.bank = static_cast<int32_t>(f.bank);
  b.row = f.row;
  b.write = write;
  b.arrival = arrival;
  return b;
}

// Unloaded latencies by JEDEC arithmetic: a closed bank costs tRCD + CL + tBURST, an open
// row CL + tBURST, another open row tRP + tRCD + CL + tBURST.
TEST(DramChannel, RowHitMissConflictLatenciesMatchJedecArithmetic) {
  DramParams p = preset("ddr4_3200.yaml");
  const DramTiming& t = p.t;
  DramChannel ch(p);
  // Bank 0 of bank group 0, rows 5 and 9.
  auto at = [&](int64_t row, int64_t arrival) {
    DramBurst b;
    b.row = row;
    b.arrival = arrival;
    return b;
  };
  // Arrivals far apart so each request sees an idle channel; after tRAS for the conflict.
  Drive d = drive(ch, {at(5, 100), at(5, 400), at(9, 700)});
  ASSERT_EQ(d.done.size(), 3u);
  EXPECT_EQ(d.done[0].outcome, RowOutcome::kMiss);
  EXPECT_EQ(d.done[1].outcome, RowOutcome::kHit);
  EXPECT_EQ(d.done[2].outcome, RowOutcome::kConflict);
  const int64_t miss = d.done[0].done - 100, hit = d.done[1].done - 400,
                conflict = d.done[2].done - 700;
  EXPECT_EQ(miss, t.rcd + t.cl + t.burst);             // 22 + 22 + 4 = 48 tCK = 30 ns
  EXPECT_EQ(hit, t.cl + t.burst);                      // 26 tCK = 16.25 ns
  EXPECT_EQ(conflict, t.rp + t.rcd + t.cl + t.burst);  // 70 tCK = 43.75 ns
  EXPECT_NEAR(miss * p.tck_ns, 30.0, 1e-9);
  EXPECT_NEAR(hit * p.tck_ns, 16.25, 1e-9);
  EXPECT_NEAR(conflict * p.tck_ns, 43.75, 1e-9);
  EXPECT_LT(hit, miss);
  EXPECT_LT(miss, conflict);
}

TEST(DramChannel, ClosedPagePolicyTurnsHitsIntoMisses) {
  DramParams p = preset("ddr4_3200.yaml");
  p.open_page = false;
  DramChannel ch(p);
  DramBurst a, b;
  a.row = b.row = 5;
  a.arrival = 100;
  b.arrival = 400;
  Drive d = drive(ch, {a, b});
  EXPECT_EQ(d.done[1].outcome, RowOutcome::kMiss);
  EXPECT_EQ(d.done[1].done - 400, p.t.rcd + p.t.cl + p.t.burst);
}

TEST(DramChannel, FrFcfsServesYoungerRowHitBeforeOlderConflict) {
  DramParams p = preset("ddr4_3200.yaml");
  DramChannel ch(p);
  DramBurst open, conflict, hit;
  open.row = 1;
  conflict.row = 2;
  conflict.arrival = 200;
  hit.row = 1;
  hit.arrival = 200;  // same cycle, queued behind the conflict
  Drive d = drive(ch, {open, conflict, hit});
  ASSERT_EQ(d.done.size(), 3u);
  EXPECT_EQ(d.done[1].txn, 2u);  // the younger hit first
  EXPECT_EQ(d.done[2].txn, 1u);
}

// Streaming reads reach the data-bus peak less the refresh time: (1 - tRFC/tREFI) of
// data rate x bus width (JESD79-4 arithmetic).
double streaming_fraction(DramParams p, bool write, bool refresh) {
  if (!refresh) p.t.refi = int64_t{1} << 40;
  DramChannel ch(p);
  AddressMapper m(p);
  const int n = 200000;
  std::vector<DramBurst> bursts;
  for (int i = 0; i < n; ++i) bursts.push_back(burst_at(m, static_cast<uint64_t>(i), write, 0));
  Drive d = drive(ch, bursts);
  EXPECT_EQ(d.done.size(), static_cast<size_t>(n));
  return static_cast<double>(n) * static_cast<double>(p.t.burst) / static_cast<double>(d.last);
}

TEST(DramChannel, StreamingReadsReachRefreshBoundPeak) {
  DramParams p = preset("ddr4_3200.yaml");
  const double frac = streaming_fraction(p, false, true);
  const double bound = 1.0 - static_cast<double>(p.t.rfc) / static_cast<double>(p.t.refi);
  EXPECT_NEAR(frac, bound, 0.01 * bound);  // 95.5 % of 25.6 GB/s
  EXPECT_GT(frac, 0.95);                   // within 5 % of the raw peak
  EXPECT_NEAR(streaming_fraction(p, false, false), 1.0, 0.005);
  EXPECT_NEAR(streaming_fraction(p, true, false), 1.0, 0.005);
}

// Each all-bank refresh stops a read stream for: RD→PRE (tRTP), one PRE per open bank
// (one per bank group under this mapping) on the command bus, tRP, tRFC, then ACT→RD
// (tRCD), less the burst the stream would have used anyway. Per tREFI that is the loss.
TEST(DramChannel, RefreshOverheadMatchesJedecArithmetic) {
  DramParams p = preset("ddr5_4800.yaml");
  p.channels = 1;  // one subchannel alone
  const double with = streaming_fraction(p, false, true);
  const double without = streaming_fraction(p, false, false);
  const DramTiming& t = p.t;
  const double gap =
      static_cast<double>(t.rtp + (p.bankgroups - 1) + t.rp + t.rfc + t.rcd - t.burst);
  const double expected = gap / static_cast<double>(t.refi);  // 803 / 9360 = 8.6 %
  EXPECT_NEAR(1.0 - with / without, expected, 0.05 * expected);
  EXPECT_GT(1.0 - with / without, static_cast<double>(t.rfc) / static_cast<double>(t.refi));
  // Refresh count over the run: one per tREFI.
  DramChannel ch(p);
  AddressMapper m(p);
  std::vector<DramBurst> bursts;
  for (int i = 0; i < 100000; ++i)
    bursts.push_back(burst_at(m, static_cast<uint64_t>(i), false, 0));
  Drive d = drive(ch, bursts);
  ch.finish(d.last);
  EXPECT_NEAR(static_cast<double>(ch.stats().ref), static_cast<double>(d.last) / p.t.refi, 1.0);
}

void random_traffic_obeys_timing(const std::string& file, int ranks) {
  DramParams p = preset(file);
  p.channels = 1;
  p.ranks = ranks;
  DramChannel ch(p);
  std::vector<DramCommand> log;
  ch.set_command_log(&log);
  AddressMapper m(p);
  uint64_t state = 42;
  const uint64_t space = p.capacity_bytes() / static_cast<uint64_t>(p.burst_bytes());
  std::vector<DramBurst> bursts;
  int64_t arrival = 0;
  const int n = 30000;
  for (int i = 0; i < n; ++i) {
    // Mostly random, some runs of locality, some pauses that let refresh fall due idle.
    const uint64_t r = splitmix64(state);
    const uint64_t idx =
        (r % 4 == 0 && i > 0) ? (splitmix64(state) % space) : (splitmix64(state) % 4096);
    arrival += static_cast<int64_t>(splitmix64(state) % 16 == 0 ? splitmix64(state) % 20000 : 0);
    bursts.push_back(burst_at(m, idx, splitmix64(state) % 3 == 0, arrival));
  }
  Drive d = drive(ch, bursts);
  ASSERT_EQ(d.done.size(), bursts.size());
  std::vector<int> seen(bursts.size(), 0);
  for (const BurstDone& b : d.done) ++seen[b.txn];
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<long>(bursts.size()))
      << "every burst completes exactly once";
  const DramChannelStats& s = ch.stats();
  EXPECT_EQ(s.rd + s.wr, bursts.size());
  EXPECT_EQ(s.hits + s.misses + s.conflicts, bursts.size());
  EXPECT_GT(s.ref, 0u);
  // The constraint checker (written from the JEDEC parameters, not from the scheduler; its
  // own tests break each rule on purpose) replays the whole log.
  const TimingCheckResult r = check_dram_timing(p, log);
  EXPECT_EQ(r.commands, log.size());
  EXPECT_EQ(r.violations, 0u) << r.first;
}

TEST(DramChannel, RandomTrafficObeysDdr4Timing) {
  random_traffic_obeys_timing("ddr4_3200.yaml", 2);
}
TEST(DramChannel, RandomTrafficObeysDdr5Timing) {
  random_traffic_obeys_timing("ddr5_4800.yaml", 1);
}
TEST(DramChannel, RandomTrafficObeysHbm3Timing) {
  random_traffic_obeys_timing("hbm3.yaml", 1);
}

TEST(DramChannel, AddressMappingRoundTrips) {
  DramParams p = preset("hbm2e.yaml");
  AddressMapper m(p);
  uint64_t state = 7;
  const uint64_t space = p.capacity_bytes() / static_cast<uint64_t>(p.burst_bytes());
  for (int i = 0; i < 10000; ++i) {
    const uint64_t idx = splitmix64(state) % space;
    EXPECT_EQ(m.encode(m.decode(idx)), idx);
  }
  // Mapping [ro, ra, ba, co, bg, ch]: consecutive bursts walk channels first.
  EXPECT_EQ(m.decode(1).channel, 1);
  EXPECT_EQ(m.decode(static_cast<uint64_t>(p.channels)).bankgroup, 1);
  EXPECT_EQ(m.decode(static_cast<uint64_t>(p.channels * p.bankgroups)).column, 1);
}

}  // namespace
}  // namespace tessel::memory

namespace tessel::memory {
namespace {

// DRAMPower arithmetic done by hand for DDR4-3200 (x8, 8 devices, tCK 0.625 ns, 1.2 V):
//   ACT+PRE  1.2 · (48·74 − (43·52 + 34·22)) · 0.625 · 8 = 3408 pJ
//   RD burst 1.2 · (135 − 43) · 4 · 0.625 · 8           = 2208 pJ (34.5 pJ/B)
//   REF      1.2 · (250 − 43) · 560 · 0.625 · 8         = 695520 pJ
TEST(DramEnergy, Ddr4MatchesHandDrampowerArithmetic) {
  DramParams p = preset("ddr4_3200.yaml");
  DramChannelStats s;
  s.act = 1;
  EXPECT_NEAR(dram_energy(p, s, 0).activate, 3408, 1e-6);
  s = DramChannelStats{};
  s.rd = 1;
  EXPECT_NEAR(dram_energy(p, s, 0).read, 2208, 1e-6);
  s = DramChannelStats{};
  s.ref = 1;
  EXPECT_NEAR(dram_energy(p, s, 0).refresh, 695520, 1e-6);
  // Background: one rank idle (IDD2N) for 1000 cycles: 1.2 · 34 · 1000 · 0.625 · 8.
  s = DramChannelStats{};
  EXPECT_NEAR(dram_energy(p, s, 1000).background, 204000, 1e-6);
}

TEST(DramEnergy, Ddr5ActivationTermNeverNegative) {
  DramParams p = preset("ddr5_4800.yaml");
  DramChannelStats s;
  s.act = 1000;
  s.rd = 1000;
  DramEnergy e = dram_energy(p, s, 0);
  EXPECT_GE(e.activate, 0);
  EXPECT_GT(e.read, 0);
}

}  // namespace
}  // namespace tessel::memory
