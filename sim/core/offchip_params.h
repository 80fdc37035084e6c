// What every accelerator's configuration reader needs of the off-chip choice, in plain C++
// (no SystemC), so that plan libraries and analytical twins read it the same way as the
// cycle-level models (sim/system/offchip.h).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "runtime/core/config.h"
#include "runtime/core/keys.h"

namespace tessel::sim {

// How a MemoryPort cuts transfers into requests.
struct MemoryPortParams {
  uint64_t request_bytes = 64;   // one request covers at most this many bytes, aligned
  int64_t max_outstanding = 64;  // requests in flight (issued, not yet completed)
};

// The keys of the off-chip choice, shared by every accelerator that has one: `memory` and
// the `offchip` section (link figures, and the port's request size and requests in flight).
inline const KeySet& offchip_keys() {
  static const KeySet keys = [] {
    KeySet k("offchip");
    k.text("memory",
           "a memory model's hardware file (`configs/hw/memory/*.yaml`, `model: memory`) that "
           "replaces the link, or `link`; a file is checked against the memory model's keys")
        .def("link");
    k.section("offchip", "the off-chip link (and, with `memory`, the port to the memory)");
    k.number("offchip.read_gbps", 0.001, 100000,
             "read bandwidth; optional with `memory` (checked when given)")
        .opt("required without `memory`")
        .in("GB/s");
    k.number("offchip.write_gbps", 0.001, 100000,
             "write bandwidth (a separate link: full duplex); optional with `memory`")
        .opt("required without `memory`")
        .in("GB/s");
    k.number("offchip.latency_ns", 0, 1e6, "latency of each transfer, rounded to cycles")
        .def("0")
        .in("ns");
    k.integer("offchip.request_bytes", 8, 4096,
              "with `memory`: transfers are cut into aligned requests of at most this size "
              "(a power of two)")
        .def("64")
        .in("B");
    k.integer("offchip.max_outstanding", 1, 65536,
              "with `memory`: requests in flight (reads and writes together)")
        .def("256");
    return k;
  }();
  return keys;
}

// True when `hw.memory` names a memory model's file (absent or `link`: the analytical link).
inline bool names_memory(const Config& hw) {
  return hw.has("memory") && Keyed(offchip_keys(), hw).text("memory") != "link";
}

// The link's figures in cycles of a `clock_ghz` clock. With `memory:` the bandwidths are
// optional (checked when given, so one file can switch between the two) and 0 when absent.
struct LinkFigures {
  double read_bytes_per_cycle = 0, write_bytes_per_cycle = 0;
  uint64_t latency_cycles = 0;
};

inline LinkFigures read_link_figures(const Config& hw, double clock_ghz) {
  const Keyed off(offchip_keys(), hw.child("offchip"), "offchip.");
  const bool memory = names_memory(hw);
  LinkFigures f;
  // GB/s divided by Gcycles/s gives bytes per cycle.
  if (!memory || off.has("read_gbps")) f.read_bytes_per_cycle = off.number("read_gbps") / clock_ghz;
  if (!memory || off.has("write_gbps"))
    f.write_bytes_per_cycle = off.number("write_gbps") / clock_ghz;
  f.latency_cycles = static_cast<uint64_t>(std::llround(off.number("latency_ns") * clock_ghz));
  return f;
}

// `offchip.request_bytes` and `offchip.max_outstanding`. 64 B: a cache line, the unit GPU and
// accelerator DMA engines issue in; 4 KiB: AXI's largest burst. Enough outstanding requests
// to cover bandwidth × latency is the designer's choice (Little's law), so the default is
// generous and the key documented.
inline MemoryPortParams read_port_params(const Config& offchip) {
  const Keyed off(offchip_keys(), offchip, "offchip.");
  MemoryPortParams p;
  p.request_bytes = static_cast<uint64_t>(off.integer("request_bytes"));
  if ((p.request_bytes & (p.request_bytes - 1)) != 0)
    offchip.fail("request_bytes", "must be a power of two (requests are aligned to it)");
  p.max_outstanding = off.integer("max_outstanding");
  return p;
}

}  // namespace tessel::sim
