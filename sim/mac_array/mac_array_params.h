// Parameters of the demo MAC-array GEMM accelerator and its tile schedule.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/core/config.h"

namespace tessel::mac_array {

struct MacArrayParams {
  double clock_ghz = 1.0;
  int64_t rows = 16;           // PE rows: output rows computed at once
  int64_t cols = 16;           // PE columns: output columns computed at once
  int64_t pipeline_depth = 3;  // MAC pipeline stages (fill latency at the end of a tile)
  int64_t buffer_bytes = 0;    // input buffer for A and B chunks, split in two halves
  double read_bytes_per_cycle = 0;
  double write_bytes_per_cycle = 0;
  uint64_t latency_cycles = 0;  // off-chip access latency per transfer
  std::string sram_action;      // energy-table action prefix for the input buffer
};

struct GemmWorkload {
  int64_t m = 0, n = 0, k = 0;
  bool functional = true;  // compute values and check them against the reference
};

// One K-chunk of one output tile: the unit the loader fetches and the array consumes.
struct Chunk {
  int64_t tile = 0;  // output tile index (row-major over the output)
  int64_t row0 = 0, rows = 0, col0 = 0, cols = 0, k0 = 0, kt = 0;
  bool last = false;  // last chunk of its tile: results leave the array after it
  uint64_t load_bytes() const { return static_cast<uint64_t>(rows * kt + kt * cols); }
  uint64_t store_bytes() const { return static_cast<uint64_t>(rows * cols) * 4; }
};

MacArrayParams read_params(const Config& hw);
GemmWorkload read_workload(const Config& workload);
// K-chunk depth that lets two chunks (double buffering) fit the input buffer.
int64_t chunk_depth(const MacArrayParams& p, const GemmWorkload& w);
std::vector<Chunk> schedule(const MacArrayParams& p, const GemmWorkload& w);

}  // namespace tessel::mac_array
