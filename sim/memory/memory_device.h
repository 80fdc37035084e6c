// Common TLM-2.0 target behaviour of every memory device (DRAM, NVM, SSD): the socket an
// accelerator or a trace player binds to, with blocking and non-blocking transport.
#pragma once

#include <tlm_utils/simple_target_socket.h>
#include <systemc>
#include <tlm>

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>

#include "runtime/core/counters.h"

namespace tessel::memory {

// The target side of the memory protocol (TLM-2.0 base protocol, generic payload):
//
//  - Address: the byte address inside this device (routers subtract tier bases);
//    data length: any size, split internally into the device's access units.
//    Data pointers are not touched: the models are timing-only.
//  - b_transport: returns when the access has completed (delay is consumed).
//  - nb_transport_fw(BEGIN_REQ, delay): the request arrives at now + delay. The target
//    answers TLM_UPDATED/END_REQ when its queue has room, else TLM_ACCEPTED and sends
//    END_REQ on the backward path once it has (one request in flight per socket, as the
//    base protocol's request exclusion rule says).
//  - The response comes as nb_transport_bw(BEGIN_RESP, delay) where now + delay is the
//    completion time; the initiator must accept it at once (return TLM_COMPLETED, or
//    TLM_ACCEPTED and END_RESP later, which the target ignores: responses never queue).
//
// Derived devices implement try_accept() and call respond() and retry().
class MemoryDevice : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<MemoryDevice> socket;

  explicit MemoryDevice(sc_core::sc_module_name name);

  // Capacity in bytes: addresses at or beyond it are an error response.
  virtual uint64_t capacity() const = 0;
  // Adds the device's actions (component "<tier>.<part>", action "<tier>_<action>", priced
  // by Counters::define_action from the device's own parameters) and statistics
  // ("<tier>.<name>") for a run that ended at `end`.
  virtual void report(const std::string& tier, const sc_core::sc_time& end, Counters& counters,
                      std::map<std::string, double>& metrics) = 0;

 protected:
  // Takes the request if there is room (true) or refuses it for now (false); a refused
  // request is offered again after the device calls retry(). `arrival` >= now.
  virtual bool try_accept(tlm::tlm_generic_payload& p, const sc_core::sc_time& arrival) = 0;
  // Completes `p` at absolute time `done` (>= now).
  void respond(tlm::tlm_generic_payload& p, const sc_core::sc_time& done);
  // Room has freed up: offers the refused request again.
  void retry();

 private:
  struct Blocking {
    sc_core::sc_event done;
  };
  void b_transport(tlm::tlm_generic_payload& p, sc_core::sc_time& delay);
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& p, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);
  bool accept_checked(tlm::tlm_generic_payload& p, const sc_core::sc_time& arrival);

  tlm::tlm_generic_payload* refused_ = nullptr;  // waiting for room (nb_transport)
  sc_core::sc_time refused_arrival_;
  sc_core::sc_event room_;  // wakes blocking callers that were refused
  std::unordered_map<tlm::tlm_generic_payload*, Blocking*> blocking_;
};

}  // namespace tessel::memory
