// GPU copy engines: chunked TLM transactions over the PCIe link, a bounded number in flight.
#include "sim/zero_offload/dma_engine.h"

#include <algorithm>

namespace tessel::zero_offload {

using sc_core::sc_time;

DmaEngine::DmaEngine(sc_core::sc_module_name name, uint64_t chunk_bytes, int64_t writes,
                     int64_t reads)
    : sc_module(name), socket("socket"), chunk_bytes_(chunk_bytes), window_{writes, reads} {
  socket.register_nb_transport_bw(this, &DmaEngine::nb_transport_bw);
  SC_THREAD(engine);
  SC_METHOD(complete_due);
  sensitive << completions_;
  dont_initialize();
}

void DmaEngine::copy(Direction dir, uint64_t host_address, uint64_t bytes,
                     std::function<void()> done) {
  if (bytes == 0) {
    done();
    return;
  }
  auto job = std::make_unique<Job>();
  job->dir = dir;
  job->address = host_address;
  job->bytes = bytes;
  job->done = std::move(done);
  job->start_ns = sc_core::sc_time_stamp().to_seconds() * 1e9;
  queue_[static_cast<int>(dir)].push_back(std::move(job));
  wake_.notify(sc_core::SC_ZERO_TIME);
}

void DmaEngine::engine() {
  for (;;) {
    // Every read the window allows first (headers only on the shared direction), then
    // one write chunk.
    bool posted = false;
    while (post_next(static_cast<int>(Direction::kToGpu))) posted = true;
    if (post_next(static_cast<int>(Direction::kToHost))) posted = true;
    if (!posted) wait(wake_);
  }
}

bool DmaEngine::post_next(int i) {
  if (queue_[i].empty() || in_flight_[i] >= window_[i]) return false;
  Job& job = *queue_[i].front();
  const uint64_t off = job.next;
  job.next += std::min(chunk_bytes_, job.bytes - off);
  if (job.next == job.bytes) {
    // Every chunk is (about to be) posted: the job now waits for completions only.
    active_.push_back(std::move(queue_[i].front()));
    queue_[i].pop_front();
  }
  post(job, off, job.next - off);
  if (job.next == job.bytes) job.posted = true;
  return true;
}

void DmaEngine::post(Job& job, uint64_t offset, uint64_t bytes) {
  // Both directions share the port: one BEGIN_REQ at a time (base protocol).
  while (open_request_ != nullptr) wait(end_req_);
  if (free_.empty()) {
    chunks_.push_back(std::make_unique<Chunk>());
    free_.push_back(chunks_.back().get());
  }
  Chunk* c = free_.back();
  free_.pop_back();
  c->job = &job;
  tlm::tlm_generic_payload& p = c->payload;
  p.set_command(job.dir == Direction::kToHost ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
  p.set_address(job.address + offset);
  p.set_data_ptr(nullptr);  // timing only
  p.set_data_length(static_cast<unsigned int>(bytes));
  p.set_streaming_width(static_cast<unsigned int>(bytes));
  p.set_byte_enable_ptr(nullptr);
  p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  by_payload_[&p] = c;
  ++job.outstanding;
  ++in_flight_[static_cast<int>(job.dir)];
  ++transactions_;
  open_request_ = &p;
  tlm::tlm_phase phase = tlm::BEGIN_REQ;
  sc_time delay = sc_core::SC_ZERO_TIME;
  const tlm::tlm_sync_enum s = socket->nb_transport_fw(p, phase, delay);
  if (s == tlm::TLM_COMPLETED) {
    if (open_request_ == &p) open_request_ = nullptr;
    responded(p, delay);
  } else if (s == tlm::TLM_UPDATED && phase == tlm::END_REQ && open_request_ == &p) {
    open_request_ = nullptr;
  }
  // TLM_ACCEPTED: END_REQ (or BEGIN_RESP, which implies it) comes on the backward path.
}

tlm::tlm_sync_enum DmaEngine::nb_transport_bw(tlm::tlm_generic_payload& p, tlm::tlm_phase& phase,
                                              sc_time& delay) {
  if (phase == tlm::END_REQ || phase == tlm::BEGIN_RESP) {
    if (open_request_ == &p) {
      open_request_ = nullptr;
      end_req_.notify(sc_core::SC_ZERO_TIME);
    }
  }
  if (phase != tlm::BEGIN_RESP) return tlm::TLM_ACCEPTED;
  responded(p, delay);
  return tlm::TLM_COMPLETED;
}

void DmaEngine::responded(tlm::tlm_generic_payload& p, const sc_time& delay) {
  auto it = by_payload_.find(&p);
  if (it == by_payload_.end()) return;
  Chunk* c = it->second;
  by_payload_.erase(it);
  if (p.get_response_status() != tlm::TLM_OK_RESPONSE) ++errors_;
  due_.emplace(sc_core::sc_time_stamp() + delay, c);
  completions_.notify(delay);
}

void DmaEngine::complete_due() {
  auto it = due_.begin();
  Chunk* c = it->second;
  due_.erase(it);
  Job* job = c->job;
  const int i = static_cast<int>(job->dir);
  const uint64_t bytes = c->payload.get_data_length();
  payload_[i] += bytes;
  --in_flight_[i];
  --job->outstanding;
  c->job = nullptr;
  free_.push_back(c);
  wake_.notify(sc_core::SC_ZERO_TIME);
  if (!job->posted || job->outstanding) return;
  spans_.push_back(
      {job->dir, job->start_ns, sc_core::sc_time_stamp().to_seconds() * 1e9, job->bytes});
  std::function<void()> done = std::move(job->done);
  active_.erase(std::find_if(active_.begin(), active_.end(),
                             [job](const std::unique_ptr<Job>& j) { return j.get() == job; }));
  done();
}

}  // namespace tessel::zero_offload
