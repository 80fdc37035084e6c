// Synthetic memory traces and object placement.
#include "sim/memory/workload.h"

#include <algorithm>

#include "runtime/core/error.h"
#include "runtime/core/seed.h"

namespace tessel::memory {

MemoryWorkload read_memory_workload(const Config& w) {
  MemoryWorkload m;
  if (w.has("description")) w.get<std::string>("description");
  const std::string kind = w.get_choice("kind", {"synthetic", "trace"});
  m.synthetic = kind == "synthetic";
  m.max_outstanding = w.get_positive_int("max_outstanding", 64);
  if (m.synthetic) {
    m.pattern = w.get_choice("pattern", {"streaming", "random", "mixed"});
    m.requests = w.get_positive_int("requests");
    const int64_t b = w.get_positive_int("request_bytes", 64);
    if (b > (1ll << 30)) w.fail("request_bytes", "must be at most 1 GiB");
    m.request_bytes = static_cast<uint32_t>(b);
    m.footprint_bytes = static_cast<uint64_t>(w.get_positive("footprint_mib") * (1 << 20));
    if (m.footprint_bytes < m.request_bytes)
      w.fail("footprint_mib", "must hold at least one request");
    m.read_fraction = w.get_non_negative("read_fraction", m.pattern == "mixed" ? 2.0 / 3.0 : 1.0);
    if (m.read_fraction > 1) w.fail("read_fraction", "must be from 0 to 1");
    m.interarrival_ns = w.get_non_negative("interarrival_ns", 0);
    m.tier = w.get<std::string>("tier", "");
  } else {
    m.trace_path = w.get_path("trace");
  }
  return m;
}

MemoryTrace generate_trace(const MemoryWorkload& w, uint64_t seed) {
  MemoryTrace t;
  t.requests.reserve(static_cast<size_t>(w.requests));
  uint64_t state = seed;
  const uint64_t slots = w.footprint_bytes / w.request_bytes;
  const uint64_t threshold =
      static_cast<uint64_t>(w.read_fraction * 18446744073709551615.0);  // P(read)
  for (int64_t i = 0; i < w.requests; ++i) {
    MemoryRequest r;
    r.bytes = w.request_bytes;
    const uint64_t slot =
        w.pattern == "streaming" ? static_cast<uint64_t>(i) % slots : splitmix64(state) % slots;
    r.address = slot * w.request_bytes;
    r.write = w.read_fraction < 1.0 && splitmix64(state) >= threshold;
    r.time_ps = w.interarrival_ns > 0
                    ? static_cast<int64_t>(static_cast<double>(i) * w.interarrival_ns * 1000)
                    : MemoryRequest::kAsap;
    t.requests.push_back(r);
  }
  return t;
}

std::vector<PlayerRequest> resolve(const MemoryTrace& trace, const HierarchySpec& h,
                                   uint64_t flat_offset, const std::string& name) {
  // Object extents, then consecutive placement inside each object's tier.
  std::vector<uint64_t> extent(trace.objects.size(), 0);
  for (const MemoryRequest& r : trace.requests)
    if (r.object != MemoryRequest::kNoObject)
      extent[r.object] = std::max(extent[r.object], r.address + r.bytes);
  std::vector<uint64_t> next(h.tiers.size(), 0);
  std::vector<uint64_t> object_base(trace.objects.size(), 0);
  for (size_t o = 0; o < trace.objects.size(); ++o) {
    auto it = h.placement.find(trace.objects[o]);
    const size_t tier = it == h.placement.end() ? h.default_tier : it->second;
    object_base[o] = h.tiers[tier].base + next[tier];
    next[tier] += (extent[o] + 4095) / 4096 * 4096;
    if (next[tier] > h.tiers[tier].capacity)
      throw ConfigError(name + ": objects placed in tier '" + h.tiers[tier].name + "' need " +
                        std::to_string(next[tier]) + " bytes, it holds " +
                        std::to_string(h.tiers[tier].capacity));
  }
  std::vector<PlayerRequest> out;
  out.reserve(trace.requests.size());
  for (size_t i = 0; i < trace.requests.size(); ++i) {
    const MemoryRequest& r = trace.requests[i];
    PlayerRequest p;
    p.time_ps = r.time_ps;
    p.write = r.write;
    p.bytes = r.bytes;
    if (r.object != MemoryRequest::kNoObject) {
      p.address = object_base[r.object] + r.address;
    } else {
      p.address = r.address + flat_offset;
    }
    bool inside = false;
    for (const TierSpec& t : h.tiers)
      if (p.address >= t.base && p.address - t.base + r.bytes <= t.capacity) inside = true;
    if (!inside)
      throw ConfigError(name + ": request " + std::to_string(i + 1) + " (" +
                        std::to_string(r.bytes) + " bytes at flat address " +
                        std::to_string(p.address) + ") is outside every tier");
    out.push_back(p);
  }
  return out;
}

}  // namespace tessel::memory
