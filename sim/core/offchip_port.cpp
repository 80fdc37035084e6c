// The two off-chip port implementations: analytical link and TLM initiator.
#include "sim/core/offchip_port.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace tessel::sim {

using sc_core::sc_time;

uint64_t LinkPort::occupancy_cycles(uint64_t bytes) const {
  return static_cast<uint64_t>(std::ceil(static_cast<double>(bytes) / bytes_per_cycle_ - 1e-9));
}

OffchipPort::Ticket LinkPort::transfer(uint64_t bytes) {
  ++requests_;
  const uint64_t now = clock_.now_cycles();
  const uint64_t start = std::max(now, free_cycle_);
  const uint64_t held = occupancy_cycles(bytes) + (pipelined_ ? 0 : latency_cycles_);
  free_cycle_ = start + held;
  sc_core::wait(clock_.cycles(free_cycle_ - now));
  done_cycle_.push_back(free_cycle_ + (pipelined_ ? latency_cycles_ : 0));
  return done_cycle_.size() - 1;
}

namespace {
uint64_t total_bytes(const std::vector<OffchipPort::Range>& ranges) {
  uint64_t b = 0;
  for (const OffchipPort::Range& r : ranges) b += r.bytes;
  return b;
}
}  // namespace

OffchipPort::Ticket LinkPort::read(const std::vector<Range>& ranges) {
  const uint64_t bytes = total_bytes(ranges);
  bytes_read_ += bytes;
  return transfer(bytes);
}

OffchipPort::Ticket LinkPort::write(const std::vector<Range>& ranges) {
  const uint64_t bytes = total_bytes(ranges);
  bytes_written_ += bytes;
  return transfer(bytes);
}

void LinkPort::wait_done(Ticket t) {
  const uint64_t now = clock_.now_cycles(), done = done_cycle_.at(t);
  if (done > now) sc_core::wait(clock_.cycles(done - now));
}

MemoryPort::MemoryPort(sc_core::sc_module_name name, const Clock& clock,
                       const MemoryPortParams& params)
    : sc_module(name),
      socket("socket"),
      clock_(clock),
      params_(params),
      pool_(static_cast<size_t>(params.max_outstanding)),
      slot_ticket_(static_cast<size_t>(params.max_outstanding)),
      ps_unit_(sc_time(1, sc_core::SC_PS).value()) {
  if (params.request_bytes == 0 || params.max_outstanding < 1)
    throw std::invalid_argument("MemoryPort: request_bytes and max_outstanding must be positive");
  socket.register_nb_transport_bw(this, &MemoryPort::bw);
  for (uint32_t i = static_cast<uint32_t>(params.max_outstanding); i-- > 0;)
    free_slots_.push_back(i);
}

uint64_t MemoryPort::backpressure_cycles() const {
  return clock_.to_cycles(sc_time::from_value(backpressure_ps_ * ps_unit_));
}

uint64_t MemoryPort::now_ps() const {
  return sc_core::sc_time_stamp().value() / ps_unit_;
}

OffchipPort::Ticket MemoryPort::read(const std::vector<Range>& ranges) {
  bytes_read_ += total_bytes(ranges);
  return transfer(false, ranges);
}

OffchipPort::Ticket MemoryPort::write(const std::vector<Range>& ranges) {
  bytes_written_ += total_bytes(ranges);
  return transfer(true, ranges);
}

OffchipPort::Ticket MemoryPort::transfer(bool write, const std::vector<Range>& ranges) {
  const Ticket t = pending_.size();
  pending_.push_back(Pending{});
  pending_[t].done_ps = now_ps();
  // Aligned pieces: a request never crosses a request_bytes boundary, as a DMA engine's
  // bursts do not cross their alignment (and a DRAM row is a multiple of it). All pieces
  // are counted before the first is issued, so that an early response cannot finish the
  // ticket.
  const uint64_t unit = params_.request_bytes;
  for (const Range& r : ranges)
    for (uint64_t x = r.address; x < r.address + r.bytes; x = (x / unit + 1) * unit)
      ++pending_[t].left;
  for (const Range& r : ranges) {
    for (uint64_t a = r.address, end = r.address + r.bytes; a < end;) {
      const uint64_t next = std::min(end, (a / unit + 1) * unit);
      issue(write, a, static_cast<uint32_t>(next - a), t);
      a = next;
    }
  }
  return t;
}

void MemoryPort::issue(bool write, uint64_t address, uint32_t bytes, Ticket t) {
  const uint64_t wait_from = now_ps();
  for (;;) {
    const uint64_t now = now_ps();
    while (!frees_.empty() && frees_.top() <= now) {
      frees_.pop();
      --outstanding_;
    }
    if (waiting_end_req_) {
      sc_core::wait(end_req_);
      continue;
    }
    if (outstanding_ < params_.max_outstanding && !free_slots_.empty()) break;
    // Full: the earliest known completion frees a slot; a response not yet known may
    // come sooner.
    if (!frees_.empty())
      sc_core::wait(sc_time::from_value((frees_.top() - now) * ps_unit_), response_);
    else
      sc_core::wait(response_);
  }
  stall_ps_ += now_ps() - wait_from;
  const uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  tlm::tlm_generic_payload& p = pool_[slot];
  p.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
  p.set_address(address);
  p.set_data_ptr(nullptr);  // the memory models are timing-only
  p.set_data_length(bytes);
  p.set_streaming_width(bytes);
  p.set_byte_enable_ptr(nullptr);
  p.set_dmi_allowed(false);
  p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  slot_ticket_[slot] = t;
  ++outstanding_;
  ++requests_;
  tlm::tlm_phase phase = tlm::BEGIN_REQ;
  sc_time delay = sc_core::SC_ZERO_TIME;
  const tlm::tlm_sync_enum s = socket->nb_transport_fw(p, phase, delay);
  if (s == tlm::TLM_COMPLETED)
    complete(p, now_ps() + delay.value() / ps_unit_);
  else if (s == tlm::TLM_ACCEPTED || phase == tlm::BEGIN_REQ) {
    waiting_end_req_ = true;  // END_REQ on the backward path lets the next request go
    refused_since_ps_ = now_ps();
  }
}

tlm::tlm_sync_enum MemoryPort::bw(tlm::tlm_generic_payload& p, tlm::tlm_phase& phase, sc_time& d) {
  if (phase == tlm::END_REQ) {
    waiting_end_req_ = false;
    backpressure_ps_ += now_ps() + d.value() / ps_unit_ - refused_since_ps_;
    end_req_.notify(d);
    return tlm::TLM_ACCEPTED;
  }
  if (phase == tlm::BEGIN_RESP) {
    complete(p, now_ps() + d.value() / ps_unit_);
    return tlm::TLM_COMPLETED;
  }
  return tlm::TLM_ACCEPTED;
}

void MemoryPort::complete(tlm::tlm_generic_payload& p, uint64_t at_ps) {
  if (!p.is_response_ok())
    throw std::runtime_error("off-chip port '" + std::string(name()) + "': the memory answered " +
                             p.get_response_string() + " for address " +
                             std::to_string(p.get_address()) + " (" +
                             std::to_string(p.get_data_length()) + " bytes)");
  const uint32_t slot = static_cast<uint32_t>(&p - pool_.data());
  Pending& pend = pending_[slot_ticket_[slot]];
  pend.done_ps = std::max(pend.done_ps, at_ps);
  --pend.left;
  free_slots_.push_back(slot);
  // The payload is reusable now; the outstanding cap counts the request until it completes.
  frees_.push(at_ps);
  response_.notify(sc_core::SC_ZERO_TIME);
}

void MemoryPort::wait_done(Ticket t) {
  while (pending_.at(t).left > 0) sc_core::wait(response_);
  const uint64_t now = now_ps(), done = pending_[t].done_ps;
  if (done > now) sc_core::wait(sc_time::from_value((done - now) * ps_unit_));
}

void MemoryPort::report(const std::string& name, Counters& counters) const {
  counters.stat(name + ".requests", requests_);
  counters.stat(name + ".read_bytes", bytes_read_);
  counters.stat(name + ".write_bytes", bytes_written_);
  counters.stat(name + ".issue_stall_cycles",
                clock_.to_cycles(sc_time::from_value(stall_ps_ * ps_unit_)));
  counters.stat(name + ".backpressure_cycles", backpressure_cycles());
}

}  // namespace tessel::sim
