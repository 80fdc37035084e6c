// Parameters of the demo MAC-array GEMM accelerator and its tile schedule.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/core/config.h"
#include "runtime/core/keys.h"

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
  bool offchip_memory = false;  // `memory:` binds a simulated memory instead of the link
  // The twin's memory term (mac_array_twin.cpp): a DRAM device's unloaded latency and its
  // refreshes (the data bus moves nothing for refresh_cycles every refresh_period_cycles,
  // from the first at refresh_period_cycles).
  double memory_refresh_period_cycles = 0, memory_refresh_cycles = 0;
  uint64_t memory_latency_cycles = 0;
  std::string sram_action;  // energy-table action prefix for the input buffer
};

struct GemmWorkload {
  int64_t m = 0, n = 0, k = 0;
  bool functional = true;  // compute values and check them against the reference
};

// One K-chunk of one output tile: the unit the loader fetches and the array consumes.
struct Chunk {
  int64_t tile = 0;  // output tile index (row-major over the output)
  int64_t row0 = 0, rows = 0, col0 = 0, cols = 0, k0 = 0, kt = 0;
  bool last = false;    // last chunk of its tile: results leave the array after it
  uint64_t ticket = 0;  // set by the loader: its off-chip transfer (sim/core/offchip_port.h)
  uint64_t load_bytes() const { return static_cast<uint64_t>(rows * kt + kt * cols); }
  uint64_t store_bytes() const { return static_cast<uint64_t>(rows * cols) * 4; }
};

// The keys of mac_array and mac_array_analytical (one declaration for both).
const ModelKeys& model_keys();
MacArrayParams read_params(const Config& hw);
GemmWorkload read_workload(const Config& workload);
// K-chunk depth that lets two chunks (double buffering) fit the input buffer.
int64_t chunk_depth(const MacArrayParams& p, const GemmWorkload& w);
std::vector<Chunk> schedule(const MacArrayParams& p, const GemmWorkload& w);

// Fails at the workload's largest dimension when the schedule or (functional) the operands
// would not fit in memory, or (simulated: the SystemC model) when the GEMM needs more cycles
// than simulated_cycle_limit() (runtime/core/limits.h). Each of m, n, k may be 2^20; their
// product is what runs out.
void check_size(const Config& workload, const MacArrayParams& p, const GemmWorkload& w,
                bool simulated);

// Where A (m x k int8), B (k x n int8) and C (m x n int32) live off chip, as the loader and
// storer address them: three regions from address 0, each aligned to 4 KiB, each stored
// tile-major, as a compiler lays operands out for a streaming DMA engine, so that what one
// chunk fetches (a row block's K chunk of A, a column block's K chunk of B) and what one
// tile stores is one contiguous range. Row blocks are `rows` rows, column blocks `cols`
// columns, K chunks chunk_depth() deep (the last block or chunk may be shorter); inside a
// chunk the bytes are K-major (the column of A and the row of B the array takes each cycle).
//   A  row block at row0, chunk at k0:  a + row0·k + rows·k0         (rows·kt bytes)
//   B  col block at col0, chunk at k0:  b + col0·k + cols·k0         (kt·cols bytes)
//   C  tile (row0, col0):               c + (row0·n + rows·col0)·4   (rows·cols·4 bytes)
// Every block before row0 (col0) is full, so row0·k (col0·k) is the bytes before it.
struct Layout {
  uint64_t a = 0, b = 0, c = 0, end = 0;
};
struct AddressRange {
  uint64_t address = 0, bytes = 0;
};
Layout make_layout(const GemmWorkload& w);
// The two ranges a chunk reads (its A part, then its B part) and the range a tile writes.
std::vector<AddressRange> load_ranges(const GemmWorkload& w, const Layout& l, const Chunk& ch);
AddressRange store_range(const GemmWorkload& w, const Layout& l, const Chunk& ch);

}  // namespace tessel::mac_array
