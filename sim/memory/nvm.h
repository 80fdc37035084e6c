// Optane-DC-PMM-like non-volatile memory: DIMMs interleaved at `interleave_bytes`, each
// behind an iMC write-pending queue of 64 B entries (NvmWpq) and with its own controller,
// buffer and media scheduler (NvmDimm). Service times are computed when a request arrives.
#pragma once

#include <systemc>

#include <vector>

#include "runtime/core/config.h"
#include "sim/memory/memory_device.h"
#include "sim/memory/nvm_dimm.h"
#include "sim/memory/nvm_wpq.h"

namespace tessel::memory {

NvmParams read_nvm_params(const Config& c);

class Nvm : public MemoryDevice {
 public:
  Nvm(sc_core::sc_module_name name, const NvmParams& params);
  uint64_t capacity() const override {
    return params_.capacity_per_dimm * static_cast<uint64_t>(params_.dimms);
  }
  void report(const std::string& tier, const sc_core::sc_time& end, Counters& counters,
              std::map<std::string, double>& metrics) override;

 protected:
  bool try_accept(tlm::tlm_generic_payload& p, const sc_core::sc_time& arrival) override;

 private:
  NvmParams params_;
  std::vector<NvmWpq> wpq_;
  std::vector<NvmDimm> dimms_;
  uint64_t read_bytes_ = 0, write_bytes_ = 0;
};

}  // namespace tessel::memory
