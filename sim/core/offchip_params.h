// What every accelerator's configuration reader needs of the off-chip choice, in plain C++
// (no SystemC), so that plan libraries and analytical twins read it the same way as the
// cycle-level models (sim/system/offchip.h).
#pragma once

#include <cstdint>
#include <string>

#include "runtime/core/config.h"

namespace tessel::sim {

// How a MemoryPort cuts transfers into requests.
struct MemoryPortParams {
  uint64_t request_bytes = 64;   // one request covers at most this many bytes, aligned
  int64_t max_outstanding = 64;  // requests in flight (issued, not yet completed)
};

// True when `hw.memory` names a memory model's file (absent or `link`: the analytical link).
inline bool names_memory(const Config& hw) {
  return hw.has("memory") && hw.get<std::string>("memory") != "link";
}

// `offchip.request_bytes` and `offchip.max_outstanding`. 64 B: a cache line, the unit GPU and
// accelerator DMA engines issue in; 4 KiB: AXI's largest burst. Enough outstanding requests
// to cover bandwidth × latency is the designer's choice (Little's law), so the default is
// generous and the key documented.
inline MemoryPortParams read_port_params(const Config& offchip) {
  MemoryPortParams p;
  p.request_bytes = static_cast<uint64_t>(offchip.get_int_range("request_bytes", 8, 4096, 64));
  if ((p.request_bytes & (p.request_bytes - 1)) != 0)
    offchip.fail("request_bytes", "must be a power of two (requests are aligned to it)");
  p.max_outstanding = offchip.get_int_range("max_outstanding", 1, 65536, 256);
  return p;
}

}  // namespace tessel::sim
