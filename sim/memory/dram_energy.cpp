// DRAMPower-style energy equations over command counts.
#include "sim/memory/dram_energy.h"

#include <algorithm>

namespace tessel::memory {

DramEnergy dram_energy(const DramParams& p, const DramChannelStats& s, uint64_t rank_cycles) {
  DramEnergy e;
  const DramPower& w = p.power;
  const double tck = p.tck_ns;  // mA · V · ns = pJ
  if (!w.idd) {
    const double bits = static_cast<double>(p.burst_bytes()) * 8;
    e.read = static_cast<double>(s.rd) * bits * w.read_pj_per_bit;
    e.write = static_cast<double>(s.wr) * bits * w.write_pj_per_bit;
    return e;
  }
  const double n = static_cast<double>(w.devices_per_rank);
  const double trc = static_cast<double>(p.t.rc) * tck, tras = static_cast<double>(p.t.ras) * tck;
  // With some published currents IDD0·tRC falls below the background current it replaces
  // (DDR5 moves most activation current to VPP, which IDD tables of VDD alone omit); the
  // activation term is then zero rather than negative.
  const double act =
      std::max(0.0, w.vdd * (w.idd0 * trc - (w.idd3n * tras + w.idd2n * (trc - tras))));
  e.activate = static_cast<double>(s.act) * act * n;
  const double tburst = static_cast<double>(p.t.burst) * tck;
  e.read = static_cast<double>(s.rd) * w.vdd * (w.idd4r - w.idd3n) * tburst * n;
  e.write = static_cast<double>(s.wr) * w.vdd * (w.idd4w - w.idd3n) * tburst * n;
  e.refresh = static_cast<double>(s.ref) * w.vdd * (w.idd5b - w.idd3n) *
              static_cast<double>(p.t.rfc) * tck * n;
  const double active = static_cast<double>(s.active_cycles);
  const double idle =
      static_cast<double>(rank_cycles) > active ? static_cast<double>(rank_cycles) - active : 0.0;
  e.background = w.vdd * (w.idd3n * active + w.idd2n * idle) * tck * n;
  return e;
}

}  // namespace tessel::memory
