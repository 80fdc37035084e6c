// A memory hierarchy built from YAML: tiers (DRAM, NVM, SSD), each optionally behind a
// PCIe link, decoded by address range. Its upstream socket is what an accelerator or the
// trace player binds to.
#pragma once

#include <systemc>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/config.h"
#include "runtime/core/counters.h"
#include "sim/memory/dram_params.h"
#include "sim/memory/ftl.h"
#include "sim/memory/memory_device.h"
#include "sim/memory/nvm.h"
#include "sim/memory/pcie_link.h"
#include "sim/memory/tier_router.h"

namespace tessel::memory {

enum class DeviceKind { kDram, kNvm, kSsd };

struct TierSpec {
  std::string name;
  DeviceKind kind = DeviceKind::kDram;
  DramParams dram;
  NvmParams nvm;
  SsdParams ssd;
  bool has_link = false;
  PcieParams link;
  uint64_t capacity = 0;
  uint64_t base = 0;  // flat address of the tier's first byte
};

struct HierarchySpec {
  std::vector<TierSpec> tiers;
  std::map<std::string, size_t> placement;  // object name → tier index
  size_t default_tier = 0;                  // objects not listed in placement
  int tier_index(const std::string& name) const;
};

// Reads a hardware config: either one device (`kind: dram|nvm|ssd` with its section) or
// a hierarchy (`tiers:` list whose `device:` entries are device files or mappings).
HierarchySpec read_hierarchy(const Config& hw);

class MemorySystem {
 public:
  explicit MemorySystem(const HierarchySpec& spec);
  // The TLM target socket of the whole hierarchy (base protocol, see memory_device.h).
  tlm_utils::simple_target_socket<TierRouter>& socket() { return router_->upstream; }
  const HierarchySpec& spec() const { return spec_; }
  MemoryDevice& device(size_t tier) { return *devices_[tier]; }
  int decode(uint64_t address) const { return router_->decode(address); }
  // Priced actions (Counters::define_action) and statistics of every tier and link, for a
  // run ending at `end`.
  void report(const sc_core::sc_time& end, Counters& counters,
              std::map<std::string, double>& metrics);

 private:
  HierarchySpec spec_;
  std::unique_ptr<TierRouter> router_;
  std::vector<std::unique_ptr<MemoryDevice>> devices_;
  std::vector<std::unique_ptr<PcieLink>> links_;  // null where a tier has none
};

}  // namespace tessel::memory
