// Size limits that make huge sizes in configurations and input files fail before allocating.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace tessel {

class Config;

// Limits of the configuration loader (configs/README.md, "Limits"): a file, with everything its
// aliases, base: and include: pull in, may hold at most this many nodes, nested at most this deep.
// They stop a few lines of YAML aliases ("billion laughs") from expanding into gigabytes, and
// deep nesting from exhausting the stack.
inline constexpr int64_t kMaxConfigNodes = 1000000;
inline constexpr int kMaxConfigDepth = 256;

// The most bytes one configured size or file header may ask to allocate: the machine's
// physical memory, or TESSEL_MEMORY_LIMIT_GB (a positive number of GiB) when that is set.
// Anything larger would swap or end in std::bad_alloc; failing first names the key.
uint64_t memory_limit_bytes();

// dims[0] * dims[1] * ... * elem_bytes, saturating at UINT64_MAX (negative dims count as 0).
uint64_t product_bytes(std::initializer_list<int64_t> dims, uint64_t elem_bytes);
uint64_t product_bytes(const std::vector<int64_t>& dims, uint64_t elem_bytes);

// "1.5 GiB", "12 MiB", "512 B": sizes as people read them.
std::string format_bytes(uint64_t bytes);

// Throws ConfigError at `cfg`'s `key` (this node when empty) when `what`, dims x elem_bytes
// bytes, exceeds memory_limit_bytes():
//   w.yaml:4:12: workload.vectors: 100000000000 x 128 float vectors need 47.7 TiB, more than
//   the 62.8 GiB limit (physical memory; set TESSEL_MEMORY_LIMIT_GB to change it)
void check_allocation(const Config& cfg, const std::string& key,
                      std::initializer_list<int64_t> dims, uint64_t elem_bytes,
                      const std::string& what);

// The same for a size already in bytes (a sum of several arrays).
void check_allocation_bytes(const Config& cfg, const std::string& key, uint64_t bytes,
                            const std::string& what);

// The same for a size read from a file header: `where` is "file:line" or "file: offset N".
// Throws ConfigError (a malformed input, exit code 3).
void check_file_allocation(const std::string& where, std::initializer_list<int64_t> dims,
                           uint64_t elem_bytes, const std::string& what);

// The most cycles one simulation may be asked to run: 1e10 (at the fastest model's ~7 M
// simulated cycles per CPU second, about 25 minutes; memory-bound HBM runs are 30x slower),
// or TESSEL_MAX_SIM_CYCLES when that is set. Beyond it a run is a mistake more often than a
// study, and it would otherwise run silently for hours.
uint64_t simulated_cycle_limit();

// Throws ConfigError at `cfg`'s `key` when `min_cycles`, a lower bound of the cycles the run
// will simulate (e.g. MACs / MACs per cycle), exceeds simulated_cycle_limit():
//   w.yaml:2:4: workload.m: a 1048576 x 1048576 x 8 GEMM needs at least 3.44e+10 cycles on
//   256 MACs per cycle, more than the 1e+10 limit (set TESSEL_MAX_SIM_CYCLES to change it)
void check_simulated_cycles(const Config& cfg, const std::string& key, double min_cycles,
                            const std::string& what);

}  // namespace tessel
