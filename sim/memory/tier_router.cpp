// Tier address decoding and rebasing in both directions.
#include "sim/memory/tier_router.h"

namespace tessel::memory {

TierRouter::TierRouter(sc_core::sc_module_name name, const std::vector<uint64_t>& bases,
                       const std::vector<uint64_t>& sizes)
    : sc_module(name), upstream("upstream"), bases_(bases), sizes_(sizes) {
  upstream.register_nb_transport_fw(this, &TierRouter::fw);
  upstream.register_b_transport(this, &TierRouter::b_transport);
  for (size_t i = 0; i < bases.size(); ++i) {
    tiers_.push_back(std::make_unique<InitSocket>(sc_core::sc_gen_unique_name("tier")));
    tiers_.back()->register_nb_transport_bw(this, &TierRouter::bw, static_cast<int>(i));
  }
}

int TierRouter::decode(uint64_t a) const {
  for (size_t i = 0; i < bases_.size(); ++i)
    if (a >= bases_[i] && a - bases_[i] < sizes_[i]) return static_cast<int>(i);
  return -1;
}

tlm::tlm_sync_enum TierRouter::fw(tlm::tlm_generic_payload& p, tlm::tlm_phase& phase,
                                  sc_core::sc_time& d) {
  if (phase == tlm::BEGIN_REQ) {
    const int t = decode(p.get_address());
    if (t < 0) {
      p.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
      return tlm::TLM_COMPLETED;
    }
    p.set_address(p.get_address() - bases_[t]);
    // The backward path adds the base back: its socket id names the tier.
    return (*tiers_[t])->nb_transport_fw(p, phase, d);
  }
  // END_RESP: the tier already forgot it (devices never wait for END_RESP).
  return tlm::TLM_COMPLETED;
}

tlm::tlm_sync_enum TierRouter::bw(int id, tlm::tlm_generic_payload& p, tlm::tlm_phase& phase,
                                  sc_core::sc_time& d) {
  if (phase == tlm::BEGIN_RESP) p.set_address(p.get_address() + bases_[id]);
  return upstream->nb_transport_bw(p, phase, d);
}

void TierRouter::b_transport(tlm::tlm_generic_payload& p, sc_core::sc_time& d) {
  const int t = decode(p.get_address());
  if (t < 0) {
    p.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  p.set_address(p.get_address() - bases_[t]);
  (*tiers_[t])->b_transport(p, d);
  p.set_address(p.get_address() + bases_[t]);
}

}  // namespace tessel::memory
