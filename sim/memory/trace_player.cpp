// Trace player: one method that wakes at issue times, on END_REQ and on completions.
#include "sim/memory/trace_player.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace tessel::memory {

using sc_core::sc_time;

TracePlayer::TracePlayer(sc_core::sc_module_name name, const std::vector<PlayerRequest>& requests,
                         int64_t max_outstanding)
    : sc_module(name),
      socket("socket"),
      requests_(requests),
      max_outstanding_(max_outstanding),
      pool_(static_cast<size_t>(max_outstanding)),
      slot_request_(static_cast<size_t>(max_outstanding)),
      issued_(requests_.size(), -1),
      completed_(requests_.size(), -1),
      ps_unit_(sc_time(1, sc_core::SC_PS).value()) {
  socket.register_nb_transport_bw(this, &TracePlayer::bw);
  // Dense batch indices, so that issue and completion update a batch in O(1).
  std::unordered_map<uint32_t, uint32_t> index;
  for (size_t i = 0; i < requests_.size(); ++i) {
    const uint32_t id = requests_[i].batch;
    if (id == 0xFFFFFFFFu) continue;
    if (batch_of_.empty()) batch_of_.assign(requests_.size(), 0xFFFFFFFFu);
    auto it = index.emplace(id, static_cast<uint32_t>(batches_.size())).first;
    if (it->second == batches_.size()) batches_.push_back(Batch{id, -1, -1, 0, 0});
    batch_of_[i] = it->second;
    ++batches_[it->second].requests;
  }
  for (uint32_t i = static_cast<uint32_t>(max_outstanding); i-- > 0;) free_slots_.push_back(i);
  SC_METHOD(issue);
  sensitive << wake_;
}

int64_t TracePlayer::now_ps() const {
  return static_cast<int64_t>(sc_core::sc_time_stamp().value() / ps_unit_);
}

sc_time TracePlayer::ps(int64_t v) const {
  return sc_time::from_value(static_cast<uint64_t>(std::max<int64_t>(v, 0)) * ps_unit_);
}

void TracePlayer::complete(tlm::tlm_generic_payload& p, int64_t at_ps) {
  const uint32_t slot = static_cast<uint32_t>(&p - pool_.data());
  const uint64_t r = slot_request_[slot];
  if (completed_[r] >= 0) {
    ++duplicates_;
    return;
  }
  completed_[r] = at_ps;
  ++completions_;
  if (!batch_of_.empty() && batch_of_[r] != 0xFFFFFFFFu) {
    Batch& b = batches_[batch_of_[r]];
    b.last_completion_ps = std::max(b.last_completion_ps, at_ps);
    ++b.completed;
  }
  if (!p.is_response_ok()) ++errors_;
  last_ps_ = std::max(last_ps_, at_ps);
  free_slots_.push_back(slot);
  // The slot is reusable at once (the payload is ours), but the outstanding-request cap
  // counts the request until its completion time.
  frees_.push(at_ps);
  // Issue the next request now (at a delta): issue() annotates its entry time.
  wake_.notify(sc_core::SC_ZERO_TIME);
}

void TracePlayer::issue() {
  const int64_t now = now_ps();
  while (!frees_.empty() && frees_.top() <= now) {
    frees_.pop();
    --outstanding_;
  }
  while (next_ < requests_.size() && !waiting_end_req_) {
    const PlayerRequest& r = requests_[next_];
    if (r.time_ps > now) {
      wake_.notify(ps(r.time_ps - now));
      return;
    }
    int64_t at = now;
    if (outstanding_ >= max_outstanding_ || free_slots_.empty()) {
      if (frees_.empty() || r.time_ps >= 0) {
        // Timed requests wait for the slot's completion time; a completion wakes us.
        if (!frees_.empty()) wake_.notify(ps(frees_.top() - now));
        return;
      }
      // As fast as possible: the next request enters when the earliest outstanding one
      // completes. That time is already known, so the request is sent now with the
      // difference as annotated delay (TLM temporal decoupling) instead of waking then.
      at = frees_.top();
      frees_.pop();
      --outstanding_;
    }
    const uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    tlm::tlm_generic_payload& p = pool_[slot];
    p.set_command(r.write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    p.set_address(r.address);
    p.set_data_ptr(nullptr);
    p.set_data_length(r.bytes);
    p.set_streaming_width(r.bytes);
    p.set_byte_enable_ptr(nullptr);
    p.set_dmi_allowed(false);
    p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    slot_request_[slot] = next_;
    issued_[next_] = at;
    if (!batch_of_.empty() && batch_of_[next_] != 0xFFFFFFFFu) {
      Batch& b = batches_[batch_of_[next_]];
      if (b.first_issue_ps < 0 || at < b.first_issue_ps) b.first_issue_ps = at;
    }
    ++next_;
    ++outstanding_;
    tlm::tlm_phase phase = tlm::BEGIN_REQ;
    sc_time delay = ps(at - now);
    tlm::tlm_sync_enum s = socket->nb_transport_fw(p, phase, delay);
    if (s == tlm::TLM_COMPLETED) {
      complete(p, now + static_cast<int64_t>(delay.value() / ps_unit_));
    } else if (s == tlm::TLM_ACCEPTED || phase == tlm::BEGIN_REQ) {
      waiting_end_req_ = true;  // END_REQ on the backward path resumes issuing
    }
  }
}

std::vector<int64_t> TracePlayer::batch_latencies_ps() const {
  std::vector<int64_t> out;
  for (const Batch& b : batches_)
    if (b.requests && b.completed == b.requests)
      out.push_back(b.last_completion_ps - b.first_issue_ps);
  return out;
}

tlm::tlm_sync_enum TracePlayer::bw(tlm::tlm_generic_payload& p, tlm::tlm_phase& phase, sc_time& d) {
  if (phase == tlm::END_REQ) {
    waiting_end_req_ = false;
    wake_.notify(d);
    return tlm::TLM_ACCEPTED;
  }
  if (phase == tlm::BEGIN_RESP) {
    complete(p, now_ps() + static_cast<int64_t>(d.value() / ps_unit_));
    return tlm::TLM_COMPLETED;
  }
  return tlm::TLM_ACCEPTED;
}

}  // namespace tessel::memory
