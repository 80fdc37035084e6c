#include "sim/memory/dram_timing_check.h"

#include <map>
#include <tuple>
#include <utility>

namespace tessel::memory {
namespace {

const char* kind_name(DramCommand::Kind k) {
  switch (k) {
    case DramCommand::kAct:
      return "ACT";
    case DramCommand::kPre:
      return "PRE";
    case DramCommand::kRd:
      return "RD";
    case DramCommand::kWr:
      return "WR";
    case DramCommand::kRef:
      return "REF";
  }
  return "?";
}

}  // namespace

TimingCheckResult check_dram_timing(const DramParams& p, const std::vector<DramCommand>& log) {
  const DramTiming& t = p.t;
  const int64_t none = -(int64_t{1} << 40);  // "never": every distance from it is large
  struct BankState {
    int64_t row = -1, act = none, pre = none, rd = none, wr = none;
  };
  std::map<std::tuple<int, int, int>, BankState> banks;
  std::map<int, std::vector<int64_t>> acts;  // activations per rank, for tFAW
  std::map<std::pair<int, int>, int64_t> bg_act, bg_rd, bg_wr;
  std::map<int, int64_t> rank_act, rank_rd, rank_wr, rank_ref;
  int64_t last_cmd = -1;
  auto get = [&](const auto& m, auto k) {
    auto it = m.find(k);
    return it == m.end() ? none : it->second;
  };
  TimingCheckResult r;
  const DramCommand* cur = nullptr;
  // One constraint: `ok` must hold; the first failure is described.
  auto expect = [&](bool ok, const char* what) {
    if (ok) return;
    if (r.violations++ == 0)
      r.first = "cycle " + std::to_string(cur->cycle) + " " + kind_name(cur->kind) + " rank " +
                std::to_string(cur->rank) + " bg " + std::to_string(cur->bankgroup) + " bank " +
                std::to_string(cur->bank) + ": " + what;
  };
  for (const DramCommand& c : log) {
    cur = &c;
    ++r.commands;
    if (c.kind != DramCommand::kPre) {
      expect(c.cycle > last_cmd, "two commands in one cycle");
      last_cmd = c.cycle;
    }
    if (c.kind == DramCommand::kRef) {
      for (const auto& kv : banks)
        if (std::get<0>(kv.first) == c.rank) {
          expect(kv.second.row == -1, "REF with an open bank");
          expect(c.cycle - kv.second.pre >= t.rp, "tRP before REF");
          expect(c.cycle - kv.second.act >= t.rc, "tRC before REF");
        }
      rank_ref[c.rank] = c.cycle;
      continue;
    }
    BankState& b = banks[{c.rank, c.bankgroup, c.bank}];
    const std::pair<int, int> g{c.rank, c.bankgroup};
    switch (c.kind) {
      case DramCommand::kAct: {
        expect(b.row == -1, "ACT to an open bank");
        expect(c.cycle - b.pre >= t.rp, "tRP");
        expect(c.cycle - b.act >= t.rc, "tRC");
        expect(c.cycle - get(bg_act, g) >= t.rrd_l, "tRRD_L");
        expect(c.cycle - get(rank_act, c.rank) >= t.rrd_s, "tRRD_S");
        expect(c.cycle - get(rank_ref, c.rank) >= t.rfc, "tRFC");
        std::vector<int64_t>& a = acts[c.rank];
        if (a.size() >= 4) expect(c.cycle - a[a.size() - 4] >= t.faw, "tFAW");
        a.push_back(c.cycle);
        if (a.size() > 8) a.erase(a.begin(), a.end() - 4);
        b.row = c.row;
        b.act = c.cycle;
        bg_act[g] = c.cycle;
        rank_act[c.rank] = c.cycle;
        break;
      }
      case DramCommand::kPre:
        expect(c.cycle - b.act >= t.ras, "tRAS");
        expect(c.cycle - b.rd >= t.rtp, "tRTP");
        expect(c.cycle - b.wr >= t.cwl + t.burst + t.wr, "write recovery (tCWL + burst + tWR)");
        b.row = -1;
        b.pre = c.cycle;
        break;
      case DramCommand::kRd:
        expect(b.row == c.row, "RD to a row that is not open");
        expect(c.cycle - b.act >= t.rcd, "tRCD");
        expect(c.cycle - get(bg_rd, g) >= t.ccd_l, "tCCD_L");
        expect(c.cycle - get(rank_rd, c.rank) >= t.ccd_s, "tCCD_S");
        expect(c.cycle - get(bg_wr, g) >= t.cwl + t.burst + t.wtr_l, "tWTR_L");
        expect(c.cycle - get(rank_wr, c.rank) >= t.cwl + t.burst + t.wtr_s, "tWTR_S");
        b.rd = c.cycle;
        bg_rd[g] = c.cycle;
        rank_rd[c.rank] = c.cycle;
        break;
      case DramCommand::kWr:
        expect(b.row == c.row, "WR to a row that is not open");
        expect(c.cycle - b.act >= t.rcd_wr, "tRCD (write)");
        expect(c.cycle - get(bg_wr, g) >= t.ccd_l, "tCCD_L");
        expect(c.cycle - get(rank_wr, c.rank) >= t.ccd_s, "tCCD_S");
        expect(c.cycle - get(rank_rd, c.rank) >= t.cl + t.burst + 2 - t.cwl, "read to write");
        b.wr = c.cycle;
        bg_wr[g] = c.cycle;
        rank_wr[c.rank] = c.cycle;
        break;
      default:
        break;
    }
  }
  return r;
}

}  // namespace tessel::memory
