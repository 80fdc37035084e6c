// Size checks shared by the GEMM accelerators (mac_array, nm_unit): each of m, n, k may be 2^20,
// and their products are what must fail fast (docs/hardening.md, "Limits").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/core/config.h"
#include "runtime/core/limits.h"

namespace tessel::sim {

struct GemmTiling {
  int64_t m = 0, n = 0, k = 0;  // the GEMM
  int64_t rows = 1, cols = 1;   // PE array: output tile rows x columns
  int64_t k_chunks = 1;         // schedule entries per tile
  int64_t k_steps = 1;          // cycles per tile at the array's best K rate
  std::size_t entry_bytes = 0;  // one schedule entry
};

// Fails at the workload's largest dimension when the schedule (tiles x k_chunks entries) or,
// when operand_bytes > 0, the functional operands exceed the memory limit, or (simulated:
// a cycle-level model) when tiles x k_steps, a lower bound of the cycles, exceeds
// simulated_cycle_limit().
inline void check_gemm_size(const Config& workload, const GemmTiling& g, uint64_t operand_bytes,
                            const std::string& operands, bool simulated) {
  const std::string key = g.m >= g.n && g.m >= g.k ? "m" : g.n >= g.k ? "n" : "k";
  const int64_t tiles = (g.m + g.rows - 1) / g.rows * ((g.n + g.cols - 1) / g.cols);  // <= 2^40
  check_allocation(workload, key, {tiles, g.k_chunks}, g.entry_bytes,
                   "tiles x K chunks of schedule");
  if (operand_bytes > 0) check_allocation_bytes(workload, key, operand_bytes, operands);
  if (simulated)
    check_simulated_cycles(workload, key, double(tiles) * double(g.k_steps),
                           "a " + std::to_string(g.m) + " x " + std::to_string(g.n) + " x " +
                               std::to_string(g.k) + " GEMM on " + std::to_string(g.rows) + " x " +
                               std::to_string(g.cols) + " PEs");
}

}  // namespace tessel::sim
