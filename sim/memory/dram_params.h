// DRAM device and controller parameters (organisation, JEDEC timings in clocks, IDD power).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/core/config.h"

namespace tessel::memory {

// Timing constraints in device clocks (tCK), named as in the JEDEC standards.
struct DramTiming {
  int64_t cl = 0, cwl = 0;      // read / write latency
  int64_t rcd = 0, rcd_wr = 0;  // ACT to RD / ACT to WR (HBM has separate values)
  int64_t rp = 0, ras = 0, rc = 0;
  int64_t ccd_s = 0, ccd_l = 0;  // CAS to CAS, different / same bank group
  int64_t rrd_s = 0, rrd_l = 0;  // ACT to ACT, different / same bank group
  int64_t faw = 0;               // four-activate window
  int64_t wtr_s = 0, wtr_l = 0;  // end of write data to RD
  int64_t wr = 0, rtp = 0;       // write recovery, RD to PRE
  int64_t rfc = 0, refi = 0;     // all-bank refresh cycle time and interval
  int64_t rtrs = 0;              // rank-to-rank data-bus switch
  int64_t burst = 0;             // data-bus clocks per burst (BL / 2 for DDR)
};

// DRAMPower-style current model (Chandrasekar et al., DATE 2011 / DRAMPower 4), or a
// per-bit model for devices without published IDD values (HBM).
struct DramPower {
  bool idd = true;
  double vdd = 0;                         // V
  double idd0 = 0, idd2n = 0, idd3n = 0;  // mA per device
  double idd4r = 0, idd4w = 0, idd5b = 0;
  int64_t devices_per_rank = 1;
  double read_pj_per_bit = 0, write_pj_per_bit = 0;  // per-bit model
};

enum class MapField { kChannel, kRank, kBankGroup, kBank, kRow, kColumn };

// Command scheduling policy (controller.scheduler).
//  kFcfs: per bank only the oldest request; the oldest ready command of all banks issues.
//  kFrFcfs: row hits first, then the oldest (reads and writes alike), with a row-hit cap.
//  kFrFcfsWriteDrain: FR-FCFS over reads only until the write queue passes the high
//    watermark (or no read waits), then over writes only until it falls below the low one.
enum class DramPolicy { kFcfs, kFrFcfs, kFrFcfsWriteDrain };

struct DramParams {
  std::string standard;  // DDR4, DDR5, HBM2E, HBM3 (for messages and reports)
  double data_rate_mtps = 0;
  double tck_ns = 0;  // 2000 / data rate (double data rate)
  int64_t bus_bits = 0;
  int64_t burst_length = 0;
  int64_t channels = 1, ranks = 1, bankgroups = 1, banks_per_group = 1, rows = 0, columns = 0;
  DramTiming t;
  DramPower power;
  // Controller (defaults: Ramulator 2.0's generic DDR controller, see dram_params.cpp).
  bool open_page = true;
  DramPolicy scheduler = DramPolicy::kFrFcfsWriteDrain;
  int64_t read_queue = 32, write_queue = 32;  // bursts per channel
  double write_high = 0.8, write_low = 0.2;   // watermarks, fractions of write_queue
  int64_t bank_queue = 0;         // per-bank command queue entries per direction; 0: none
  int64_t row_hit_cap = 16;       // hits served before a waiting conflict may close the row
  std::vector<MapField> mapping;  // most significant first

  int64_t burst_bytes() const { return bus_bits / 8 * burst_length; }
  int64_t bursts_per_row() const { return columns / burst_length; }
  int64_t banks_per_rank() const { return bankgroups * banks_per_group; }
  uint64_t capacity_bytes() const {
    return static_cast<uint64_t>(channels * ranks * banks_per_rank() * rows) *
           static_cast<uint64_t>(bursts_per_row() * burst_bytes());
  }
  // Data-bus peak of all channels, GB/s (10^9 B/s).
  double peak_gbps() const { return data_rate_mtps * 1e6 * bus_bits / 8 * channels / 1e9; }
  // Peak less the time all-bank refresh takes the bus away: the sustained ceiling.
  double refresh_bound_gbps() const {
    return peak_gbps() * (1.0 - static_cast<double>(t.rfc) / static_cast<double>(t.refi));
  }
};

// Reads the `dram:` and `controller:` mappings of a device file.
DramParams read_dram_params(const Config& dram, const Config& controller);

}  // namespace tessel::memory
