// TLM-2.0 target plumbing shared by the memory devices.
#include "sim/memory/memory_device.h"

namespace tessel::memory {

using sc_core::sc_time;

MemoryDevice::MemoryDevice(sc_core::sc_module_name name) : sc_module(name), socket("socket") {
  socket.register_b_transport(this, &MemoryDevice::b_transport);
  socket.register_nb_transport_fw(this, &MemoryDevice::nb_transport_fw);
}

bool MemoryDevice::accept_checked(tlm::tlm_generic_payload& p, const sc_time& arrival) {
  if (p.get_data_length() == 0 || p.get_address() >= capacity() ||
      p.get_data_length() > capacity() - p.get_address()) {
    // Out of range: answered at once with an error, as a bus decoder would.
    p.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    respond(p, arrival);
    return true;
  }
  if (!p.is_read() && !p.is_write()) {
    p.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
    respond(p, arrival);
    return true;
  }
  p.set_response_status(tlm::TLM_OK_RESPONSE);
  return try_accept(p, arrival);
}

void MemoryDevice::b_transport(tlm::tlm_generic_payload& p, sc_time& delay) {
  Blocking call;
  blocking_[&p] = &call;
  sc_time arrival = sc_core::sc_time_stamp() + delay;
  while (!accept_checked(p, std::max(arrival, sc_core::sc_time_stamp()))) sc_core::wait(room_);
  sc_core::wait(call.done);
  delay = sc_core::SC_ZERO_TIME;
}

tlm::tlm_sync_enum MemoryDevice::nb_transport_fw(tlm::tlm_generic_payload& p, tlm::tlm_phase& phase,
                                                 sc_time& delay) {
  if (phase == tlm::END_RESP) return tlm::TLM_COMPLETED;
  if (phase != tlm::BEGIN_REQ) return tlm::TLM_ACCEPTED;
  sc_time arrival = sc_core::sc_time_stamp() + delay;
  if (refused_ == nullptr && accept_checked(p, arrival)) {
    phase = tlm::END_REQ;
    return tlm::TLM_UPDATED;
  }
  refused_ = &p;
  refused_arrival_ = arrival;
  return tlm::TLM_ACCEPTED;
}

void MemoryDevice::respond(tlm::tlm_generic_payload& p, const sc_time& done) {
  const sc_time now = sc_core::sc_time_stamp();
  sc_time delay = done > now ? done - now : sc_core::SC_ZERO_TIME;
  auto it = blocking_.find(&p);
  if (it != blocking_.end()) {
    it->second->done.notify(delay);
    blocking_.erase(it);
    return;
  }
  tlm::tlm_phase phase = tlm::BEGIN_RESP;
  socket->nb_transport_bw(p, phase, delay);
}

void MemoryDevice::retry() {
  room_.notify(sc_core::SC_ZERO_TIME);
  if (refused_ == nullptr) return;
  tlm::tlm_generic_payload* p = refused_;
  refused_ = nullptr;
  const sc_time now = sc_core::sc_time_stamp();
  if (!accept_checked(*p, std::max(refused_arrival_, now))) {
    refused_ = p;
    return;
  }
  tlm::tlm_phase phase = tlm::END_REQ;
  sc_time delay = sc_core::SC_ZERO_TIME;
  socket->nb_transport_bw(*p, phase, delay);
}

}  // namespace tessel::memory
