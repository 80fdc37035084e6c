// What an analytical twin needs of the memory `hw.memory` names when the accelerator streams
// from it: a DRAM device's sustained bandwidth and its unloaded read latency (plain C++, no
// SystemC; the twins of sim/lstm_sharp and sim/nm_unit share it).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "runtime/core/config.h"
#include "sim/core/offchip_params.h"
#include "sim/memory/dram_params.h"
#include "sim/memory/memory_keys.h"

namespace tessel::sim {

struct DramStreamTerm {
  bool dram = false;          // false: not a single DRAM device (tiers, NVM, SSD)
  std::string kind;           // the device file's `kind`, for messages
  double peak_gbps = 0;       // data-bus peak of all channels
  double efficiency = 0;      // refresh × row-switch efficiency (docs/lstm_sharp_memory.md)
  double sustained_gbps = 0;  // min(peak × efficiency, Little's law bound of the port)
  double latency_ns = 0;      // ACT + RD + burst: a row miss on an idle bank
  // (tRP + tRCD) / the bus time of one open row across the bank groups: how much a row
  // switch costs a stream. The twins are held to the cycle models only where it is small.
  double row_switch_fraction = 0;
};

// Above this the time of row switches and of bank conflicts between streams is a large part
// of the memory's time and the twins' term misses it (HBM2e: 0.17, HBM3: 0.16); DDR4-3200 (0.021)
// and DDR5-4800 (0.019) are held within 5% (tests/sim/lstm_sharp/lstm_sharp_memory_test.cpp,
// tests/sim/nm_unit/nm_unit_memory_test.cpp). Remeasured on HBM2e/HBM3 (docs/systems.md
// "Limits"): up to 36% slow where one stream's row switches hide behind other banks, up to
// 42% fast where streams share banks or refresh pauses stall compute; a row-granular
// model of both and of refresh pauses still left 27%, so HBM stays refused.
inline constexpr double kTwinMaxRowSwitchFraction = 0.05;

// Reads the device file `hw.memory` names and the port keys `hw.offchip.request_bytes` and
// `max_outstanding` (sim/system/offchip.h's ranges and defaults).
inline DramStreamTerm read_dram_stream_term(const Config& hw) {
  DramStreamTerm m;
  // The port's keys as sim/system/offchip.cpp's read_offchip reads them (declared once in
  // offchip_keys(); the runner has checked their ranges).
  const MemoryPortParams port = read_port_params(hw.child("offchip"));
  const double request_bytes = static_cast<double>(port.request_bytes);
  const double outstanding = static_cast<double>(port.max_outstanding);
  const Config mem = Config::load(hw.get_path("memory"),
                                  hw.key_path().empty() ? "memory" : hw.key_path() + ".memory");
  memory::memory_file_keys().check(mem);
  m.kind = mem.get<std::string>("kind", "");
  if (m.kind != "dram" || !mem.has("dram")) return m;
  const memory::DramParams p = memory::read_dram_params(mem.child("dram"), mem.child("controller"));
  m.dram = true;
  m.peak_gbps = p.peak_gbps();
  m.latency_ns = static_cast<double>(p.t.rcd + p.t.cl + p.t.burst) * p.tck_ns;
  // Refresh: all banks are closed for tRFC every tREFI (JESD79-4 4.26; JESD235C).
  const double refresh = 1.0 - static_cast<double>(p.t.rfc) / static_cast<double>(p.t.refi);
  // Row switches: a sequential stream fills a bank's open row across the bank groups
  // (bursts_per_row x bankgroups bursts, the presets' mappings put the bank groups and
  // channels below the columns), then precharges and activates the next: tRP + tRCD of
  // bus time per row if nothing else hides it.
  const double stripe = static_cast<double>(p.bursts_per_row() * p.bankgroups * p.t.burst);
  m.row_switch_fraction = static_cast<double>(p.t.rp + p.t.rcd) / stripe;
  const double row = 1.0 / (1.0 + m.row_switch_fraction);
  m.efficiency = refresh * row;
  // Little's law: the port keeps at most `outstanding` requests in flight.
  const double little_gbps = outstanding * request_bytes / m.latency_ns;
  m.sustained_gbps = std::min(m.peak_gbps * m.efficiency, little_gbps);
  return m;
}

// A number as `format` prints it, for refusal messages.
inline std::string format_number(double v, const char* format) {
  char buf[32];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// The term for a twin held to its cycle model only on one DRAM device whose row switches
// are cheap (kTwinMaxRowSwitchFraction) with requests in flight for at least `min_cover` x
// bandwidth x unloaded latency (fewer, and the loaded latency decides the time; 0: no such
// rule). Anything else is a config error at the key, naming `twin` and the cycle model to run
// instead.
inline DramStreamTerm read_twin_dram_term(const Config& hw, const std::string& twin,
                                          const std::string& cycle_model, double min_cover) {
  const DramStreamTerm term = read_dram_stream_term(hw);
  const std::string file = hw.get<std::string>("memory");
  const std::string use = "; use model " + cycle_model;
  if (!term.dram)
    hw.fail("memory", twin + " prices off-chip traffic with a DRAM device's bandwidth; '" + file +
                          "' is not one DRAM device" + use);
  if (term.row_switch_fraction > kTwinMaxRowSwitchFraction)
    hw.fail("memory", twin + " is not held to the cycle model for '" + file +
                          "': a row switch costs " +
                          format_number(term.row_switch_fraction, "%.3f") +
                          " of an open row's bus time (above " +
                          format_number(kTwinMaxRowSwitchFraction, "%.2f") +
                          "), so row conflicts between the operand streams decide the time" + use);
  const MemoryPortParams port = read_port_params(hw.child("offchip"));
  const double needed = std::ceil(min_cover * term.peak_gbps * term.latency_ns /
                                      static_cast<double>(port.request_bytes) -
                                  1e-9);
  if (static_cast<double>(port.max_outstanding) < needed)
    hw.child("offchip").fail("max_outstanding",
                             twin + " needs requests in flight for at least " +
                                 format_number(min_cover, "%.0f") + "x bandwidth x latency (" +
                                 format_number(needed, "%.0f") + " requests of " +
                                 std::to_string(port.request_bytes) + " B on '" + file +
                                 "'): with fewer the loaded latency decides the time" + use);
  return term;
}

}  // namespace tessel::sim
