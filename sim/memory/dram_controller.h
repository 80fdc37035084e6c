// DRAM memory controller + devices behind one TLM socket: splits requests into bursts,
// maps them to channels, and runs one command scheduler (DramChannel) per channel.
#pragma once

#include <systemc>

#include <memory>
#include <utility>
#include <vector>

#include "sim/memory/dram_channel.h"
#include "sim/memory/dram_params.h"
#include "sim/memory/memory_device.h"

namespace tessel::memory {

class DramController : public MemoryDevice {
 public:
  SC_HAS_PROCESS(DramController);
  DramController(sc_core::sc_module_name name, const DramParams& params);

  uint64_t capacity() const override { return capacity_; }
  void report(const std::string& tier, const sc_core::sc_time& end, Counters& counters,
              std::map<std::string, double>& metrics) override;
  const DramParams& params() const { return params_; }
  DramChannelStats total_stats() const;
  // Records every command of channel ch into (*logs)[ch] (null: none), for the timing
  // checker (dram_timing_check.h). Call before the simulation starts.
  void set_command_logs(std::vector<std::vector<DramCommand>>* logs);

 protected:
  bool try_accept(tlm::tlm_generic_payload& p, const sc_core::sc_time& arrival) override;

 private:
  struct Txn {
    tlm::tlm_generic_payload* payload = nullptr;
    uint32_t remaining = 0;
    int64_t done = 0;
    int64_t arrival = 0;         // cycle it reached the controller (first offer)
    int64_t first_cmd = kNever;  // cycle of the first DRAM command for any of its bursts
  };
  struct Channel {
    std::unique_ptr<DramChannel> core;
    sc_core::sc_event wake;
    int64_t wake_at = kNever;  // cycle of the pending wake-up, kNever when idle
  };
  void run_channel(int ch);
  uint32_t new_txn(tlm::tlm_generic_payload& p, uint32_t bursts, int64_t arrival);
  // The cycle `p` first reached the controller: a refused request keeps its first arrival.
  int64_t first_arrival(const tlm::tlm_generic_payload& p, int64_t arrival);
  bool refuse(const tlm::tlm_generic_payload& p, int64_t arrival);
  // Cycle conversions on the kernel's integer time (sc_time from a double is slow).
  int64_t cycle_ceil(const sc_core::sc_time& t) const {
    const uint64_t per_cycle = static_cast<uint64_t>(tck_ps_) * ps_unit_;
    return static_cast<int64_t>((t.value() + per_cycle - 1) / per_cycle);
  }
  sc_core::sc_time at_cycle(int64_t c) const {
    return sc_core::sc_time::from_value(static_cast<uint64_t>(c * tck_ps_) * ps_unit_);
  }
  void wake_channel(int ch, int64_t cycle);

  DramParams params_;
  uint64_t capacity_;
  AddressMapper mapper_;
  int64_t tck_ps_;
  uint64_t ps_unit_;  // sc_time ticks per picosecond
  std::vector<Channel> channels_;
  std::vector<Txn> txns_;
  std::vector<uint32_t> free_txns_;
  std::vector<BurstDone> done_;
  std::vector<DramBurst> scratch_;  // the current multi-burst request, split
  // The channels its bursts go to: a refused request is checked again after every freed
  // burst, against these few channels rather than all of them.
  std::vector<int> split_channels_;
  const tlm::tlm_generic_payload* split_of_ = nullptr;
  uint64_t split_address_ = 0, split_length_ = 0;
  bool split_write_ = false;
  // Refused requests and their first arrival cycles: one per waiting initiator (a handful),
  // so a list searched in place beats a hash map on every refusal and acceptance.
  std::vector<std::pair<const tlm::tlm_generic_payload*, int64_t>> refused_at_;
  // Per completed request, in cycles: completion less arrival at the controller, and
  // completion less its first DRAM command.
  std::vector<int32_t> from_arrival_, from_issue_;
};

}  // namespace tessel::memory
