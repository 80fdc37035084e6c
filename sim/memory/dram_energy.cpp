// DRAMPower-style energy per DRAM action, and the run's commands priced with it.
#include "sim/memory/dram_energy.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

namespace tessel::memory {
namespace {

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

}  // namespace

DramActionPrices dram_action_prices(const DramParams& p) {
  DramActionPrices a;
  const DramPower& w = p.power;
  const double tck = p.tck_ns;  // mA · V · ns = pJ
  const char* std_name = p.standard.c_str();
  if (!w.idd) {
    const double bits = static_cast<double>(p.burst_bytes()) * 8;
    a.read_burst = {bits * w.read_pj_per_bit,
                    format("%s per-bit preset: %g bits per burst x %g pJ/bit", std_name, bits,
                           w.read_pj_per_bit)};
    a.write_burst = {bits * w.write_pj_per_bit,
                     format("%s per-bit preset: %g bits per burst x %g pJ/bit", std_name, bits,
                            w.write_pj_per_bit)};
    const std::string none = p.standard +
                             " per-bit preset: the pJ/bit figure is the whole access energy "
                             "(activation included); no current for this action is published";
    a.activate = a.refresh = a.background_active = a.background_idle = {0, none};
    return a;
  }
  const double n = static_cast<double>(w.devices_per_rank);
  const double trc = static_cast<double>(p.t.rc) * tck, tras = static_cast<double>(p.t.ras) * tck;
  // With some published currents IDD0·tRC falls below the background current it replaces
  // (DDR5 moves most activation current to VPP, which IDD tables of VDD alone omit); the
  // activation term is then zero rather than negative.
  a.activate = {
      std::max(0.0, w.vdd * (w.idd0 * trc - (w.idd3n * tras + w.idd2n * (trc - tras)))) * n,
      format("DRAMPower ACT+PRE, %s: VDD*[IDD0*tRC - (IDD3N*tRAS + IDD2N*(tRC-tRAS))]*devices, "
             "at least 0 = %g V*[%g mA*%g ns - (%g mA*%g ns + %g mA*%g ns)]*%g",
             std_name, w.vdd, w.idd0, trc, w.idd3n, tras, w.idd2n, trc - tras, n)};
  const double tburst = static_cast<double>(p.t.burst) * tck;
  a.read_burst = {w.vdd * (w.idd4r - w.idd3n) * tburst * n,
                  format("DRAMPower read burst, %s: VDD*(IDD4R-IDD3N)*tBURST*devices = "
                         "%g V*(%g-%g) mA*%g ns*%g",
                         std_name, w.vdd, w.idd4r, w.idd3n, tburst, n)};
  a.write_burst = {w.vdd * (w.idd4w - w.idd3n) * tburst * n,
                   format("DRAMPower write burst, %s: VDD*(IDD4W-IDD3N)*tBURST*devices = "
                          "%g V*(%g-%g) mA*%g ns*%g",
                          std_name, w.vdd, w.idd4w, w.idd3n, tburst, n)};
  const double trfc = static_cast<double>(p.t.rfc) * tck;
  a.refresh = {w.vdd * (w.idd5b - w.idd3n) * trfc * n,
               format("DRAMPower all-bank refresh, %s: VDD*(IDD5B-IDD3N)*tRFC*devices = "
                      "%g V*(%g-%g) mA*%g ns*%g",
                      std_name, w.vdd, w.idd5b, w.idd3n, trfc, n)};
  a.background_active = {w.vdd * w.idd3n * tck * n,
                         format("DRAMPower active standby, %s, per rank-cycle with a bank open: "
                                "VDD*IDD3N*tCK*devices = %g V*%g mA*%g ns*%g",
                                std_name, w.vdd, w.idd3n, tck, n)};
  a.background_idle = {w.vdd * w.idd2n * tck * n,
                       format("DRAMPower precharge standby, %s, per rank-cycle with all banks "
                              "closed: VDD*IDD2N*tCK*devices = %g V*%g mA*%g ns*%g",
                              std_name, w.vdd, w.idd2n, tck, n)};
  return a;
}

uint64_t dram_idle_rank_cycles(const DramChannelStats& s, uint64_t rank_cycles) {
  return rank_cycles > s.active_cycles ? rank_cycles - s.active_cycles : 0;
}

DramEnergy dram_energy(const DramParams& p, const DramChannelStats& s, uint64_t rank_cycles) {
  const DramActionPrices a = dram_action_prices(p);
  auto d = [](uint64_t n) { return static_cast<double>(n); };
  DramEnergy e;
  e.activate = d(s.act) * a.activate.pj;
  e.read = d(s.rd) * a.read_burst.pj;
  e.write = d(s.wr) * a.write_burst.pj;
  e.refresh = d(s.ref) * a.refresh.pj;
  e.background = d(s.active_cycles) * a.background_active.pj +
                 d(dram_idle_rank_cycles(s, rank_cycles)) * a.background_idle.pj;
  return e;
}

void count_dram_energy(const std::string& tier, const DramParams& p, const DramChannelStats& s,
                       uint64_t rank_cycles, Counters& counters) {
  const DramActionPrices a = dram_action_prices(p);
  auto count = [&](const std::string& part, const std::string& action, const DramPrice& price,
                   uint64_t n) {
    counters.define_action(tier + "_" + action, price.pj, price.source);
    counters.add(tier + "." + part, tier + "_" + action, n);
  };
  count("activate", "activate", a.activate, s.act);
  count("read", "read_burst", a.read_burst, s.rd);
  count("write", "write_burst", a.write_burst, s.wr);
  count("refresh", "refresh", a.refresh, s.ref);
  count("background", "background_active_cycle", a.background_active, s.active_cycles);
  count("background", "background_idle_cycle", a.background_idle,
        dram_idle_rank_cycles(s, rank_cycles));
}

}  // namespace tessel::memory
