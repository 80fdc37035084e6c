// The declared keys of the memory models' config forms (runtime/core/keys.h): used by the
// `memory` model and by every model that embeds a memory device or hierarchy (carm's
// storage, sentinel's tiers, zoom's SSD, zero_offload's and lstm_sharp's DRAM).
#pragma once

#include "runtime/core/keys.h"

namespace tessel::memory {

const KeySet& dram_keys();             // a DRAM device's `dram:` section (read_dram_params)
const KeySet& controller_keys();       // a DRAM device's `controller:` section
const KeySet& nvm_keys();              // an NVM device's `nvm:` section (read_nvm_params)
const KeySet& ssd_keys();              // an SSD device's `ssd:` section (read_ssd_params)
const KeySet& pcie_keys();             // a PCIe link, in a file or inline (read_pcie_params)
const KeySet& device_keys();           // one device description: `kind:` and its sections
const KeySet& hierarchy_keys();        // a memory hierarchy (read_hierarchy): device or tiers
const KeySet& memory_workload_keys();  // the memory model's workload (read_memory_workload)
// A whole memory model hw file that another model loads (`hw.memory`, carm's `storage`):
// shared_hw_keys(true) (`model`, `energy.*`) and hierarchy_keys().
const KeySet& memory_file_keys();

}  // namespace tessel::memory
