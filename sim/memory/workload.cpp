// Synthetic memory traces and object placement.
#include "sim/memory/workload.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "runtime/core/error.h"
#include "runtime/core/seed.h"
#include "sim/memory/memory_keys.h"

namespace tessel::memory {

MemoryWorkload read_memory_workload(const Config& workload) {
  const Keyed w(memory_workload_keys(), workload);
  MemoryWorkload m;
  m.synthetic = w.choice("kind") == "synthetic";
  m.max_outstanding = w.integer("max_outstanding");
  if (m.synthetic) {
    m.pattern = w.choice("pattern");
    // requests · interarrival_ns · 1000 (issue times in ps) stays below 2^63.
    m.requests = w.integer("requests");
    m.request_bytes = static_cast<uint32_t>(w.integer("request_bytes"));
    m.footprint_bytes = static_cast<uint64_t>(w.number("footprint_mib") * (1 << 20));
    if (m.footprint_bytes < m.request_bytes)
      w.fail("footprint_mib", "must hold at least one request");
    // Reads only, unless the pattern is the mixed one (two reads to one write).
    m.read_fraction = w.has("read_fraction") ? w.number("read_fraction")
                      : m.pattern == "mixed" ? 2.0 / 3.0
                                             : 1.0;
    m.interarrival_ns = w.number("interarrival_ns");
    if (w.has("tier")) m.tier = w.text("tier");
  } else {
    m.trace_path = w.path("trace");
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

namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// 8 GiB, 512 MiB, 96 KiB or 1000 bytes: the largest unit that divides `bytes`.
std::string size_str(uint64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (u < 5 && bytes >= 1024 && bytes % 1024 == 0) bytes /= 1024, ++u;
  return std::to_string(bytes) + " " + units[u];
}

std::string holds(const TierSpec& t) {
  return "tier '" + t.name + "' holds " + hex(t.base) + " to " + hex(t.base + t.capacity - 1) +
         ", " + size_str(t.capacity);
}

// Where request `i` came from: "trace.txt:12" (text line) or "trace.bin: request 7".
std::string origin(const std::string& name, const MemoryRequest& r, size_t i) {
  if (r.line) return name + ":" + std::to_string(r.line);
  return name + ": request " + std::to_string(i + 1);
}

}  // namespace

std::vector<PlayerRequest> resolve(const MemoryTrace& trace, const HierarchySpec& h,
                                   uint64_t flat_offset, const std::string& name) {
  // A run without requests measures nothing; its all-zero metrics would pass for results.
  if (trace.requests.empty())
    throw ConfigError(name + ": the trace holds no requests (nothing to simulate)");
  const uint64_t kMax = std::numeric_limits<uint64_t>::max();
  // The last byte each object touches (and the request that sets it), then consecutive
  // placement inside each object's tier. Last bytes, not ends: a request ending at 2^64
  // has its last byte at 2^64 - 1, while its end would wrap to 0.
  std::vector<uint64_t> last(trace.objects.size(), 0);
  std::vector<bool> used(trace.objects.size(), false);
  std::vector<size_t> last_at(trace.objects.size(), 0);
  for (size_t i = 0; i < trace.requests.size(); ++i) {
    const MemoryRequest& r = trace.requests[i];
    if (r.object == MemoryRequest::kNoObject) continue;
    if (r.bytes - 1 > kMax - r.address)
      throw ConfigError(origin(name, r, i) + ": offset " + hex(r.address) + " (" +
                        std::to_string(r.bytes) + " bytes) in object '" + trace.objects[r.object] +
                        "' runs past 64-bit addresses");
    const uint64_t end = r.address + (r.bytes - 1);
    if (!used[r.object] || end > last[r.object]) {
      last[r.object] = end;
      last_at[r.object] = i;
      used[r.object] = true;
    }
  }
  std::vector<uint64_t> next(h.tiers.size(), 0);
  std::vector<uint64_t> object_base(trace.objects.size(), 0);
  for (size_t o = 0; o < trace.objects.size(); ++o) {
    auto it = h.placement.find(trace.objects[o]);
    const size_t tier = it == h.placement.end() ? h.default_tier : it->second;
    const TierSpec& t = h.tiers[tier];
    object_base[o] = t.base + next[tier];
    if (!used[o]) continue;
    // In 4 KiB pages, so that nothing is rounded past 2^64.
    const uint64_t left = t.capacity - next[tier];
    const uint64_t pages = last[o] / 4096 + 1;
    if (last[o] >= left || pages > left / 4096) {
      const size_t i = last_at[o];
      const std::string needs =
          last[o] == kMax ? "18446744073709551616" : std::to_string(last[o] + 1);
      throw ConfigError(origin(name, trace.requests[i], i) + ": object '" + trace.objects[o] +
                        "' needs " + needs + " bytes from " + hex(object_base[o]) +
                        ", past the end of its tier (" + holds(t) + ")");
    }
    next[tier] += pages * 4096;
  }
  std::vector<PlayerRequest> out;
  out.reserve(trace.requests.size());
  for (size_t i = 0; i < trace.requests.size(); ++i) {
    const MemoryRequest& r = trace.requests[i];
    PlayerRequest p;
    p.time_ps = r.time_ps;
    p.write = r.write;
    p.bytes = r.bytes;
    const bool wraps = r.object == MemoryRequest::kNoObject && r.address > kMax - flat_offset;
    p.address = r.object != MemoryRequest::kNoObject ? object_base[r.object] + r.address
                                                     : r.address + flat_offset;
    const TierSpec* home = nullptr;
    for (const TierSpec& t : h.tiers)
      if (!wraps && p.address >= t.base && p.address - t.base < t.capacity) home = &t;
    const std::string what = origin(name, r, i) + ": address " +
                             hex(wraps ? r.address : p.address) + " (" + std::to_string(r.bytes) +
                             " bytes)";
    if (!home) {
      std::string tiers;
      for (const TierSpec& t : h.tiers) tiers += (tiers.empty() ? "" : "; ") + holds(t);
      throw ConfigError(what + " is outside the memory (" + tiers + ")");
    }
    if (r.bytes > home->capacity - (p.address - home->base))
      throw ConfigError(what + " runs past the end of its tier (" + holds(*home) + ")");
    out.push_back(p);
  }
  return out;
}

}  // namespace tessel::memory
