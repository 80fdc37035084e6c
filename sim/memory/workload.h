// Memory workloads for the "memory" model: a trace file or a synthetic generator
// (streaming, random, mixed), resolved to flat addresses of a hierarchy.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/core/config.h"
#include "runtime/core/memory_trace.h"
#include "sim/memory/memory_system.h"
#include "sim/memory/trace_player.h"

namespace tessel::memory {

struct MemoryWorkload {
  bool synthetic = true;
  std::string trace_path;
  std::string pattern = "streaming";  // streaming | random | mixed
  int64_t requests = 0;
  uint32_t request_bytes = 64;
  uint64_t footprint_bytes = 0;
  double read_fraction = 1.0;
  double interarrival_ns = 0;  // 0: as fast as possible
  std::string tier;            // synthetic traffic targets this tier (empty: the first)
  int64_t max_outstanding = 64;
};

MemoryWorkload read_memory_workload(const Config& w);
// Generates the synthetic trace (deterministic in `seed`) as a MemoryTrace.
MemoryTrace generate_trace(const MemoryWorkload& w, uint64_t seed);
// Places objects in their tiers (consecutive, 4 KiB aligned, sized by the largest offset
// the trace touches) and resolves every request to a flat address of the hierarchy; flat
// trace addresses get `flat_offset` added (a synthetic tier's base). Throws ConfigError
// naming `trace_name` when a request falls outside every tier.
std::vector<PlayerRequest> resolve(const MemoryTrace& trace, const HierarchySpec& h,
                                   uint64_t flat_offset, const std::string& trace_name);

}  // namespace tessel::memory
