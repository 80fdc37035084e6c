// Address decoder of a memory hierarchy: one upstream socket, one downstream socket per
// tier; each tier owns a contiguous address range and sees addresses relative to it.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <systemc>
#include <tlm>

#include <cstdint>
#include <memory>
#include <vector>

namespace tessel::memory {

class TierRouter : public sc_core::sc_module {
 public:
  using InitSocket = tlm_utils::simple_initiator_socket_tagged<TierRouter>;
  tlm_utils::simple_target_socket<TierRouter> upstream;

  // `bases[i]`, `sizes[i]`: the address range of tier i.
  TierRouter(sc_core::sc_module_name name, const std::vector<uint64_t>& bases,
             const std::vector<uint64_t>& sizes);
  InitSocket& tier(size_t i) { return *tiers_[i]; }
  // Tier index of a flat address, or -1 outside every range.
  int decode(uint64_t address) const;

 private:
  tlm::tlm_sync_enum fw(tlm::tlm_generic_payload& p, tlm::tlm_phase& phase, sc_core::sc_time& d);
  tlm::tlm_sync_enum bw(int id, tlm::tlm_generic_payload& p, tlm::tlm_phase& phase,
                        sc_core::sc_time& d);
  void b_transport(tlm::tlm_generic_payload& p, sc_core::sc_time& d);

  std::vector<uint64_t> bases_, sizes_;
  std::vector<std::unique_ptr<InitSocket>> tiers_;
};

}  // namespace tessel::memory
