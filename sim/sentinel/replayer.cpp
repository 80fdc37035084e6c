// Plan replay through the memory hierarchy: access streams, DMA engine, roofline compute.
#include "sim/sentinel/replayer.h"

#include <algorithm>
#include <cmath>

namespace tessel::sentinel {

using sc_core::SC_PS;
using sc_core::sc_time;

StepReplayer::StepReplayer(sc_core::sc_module_name name, const Plan& plan, const ReplayOptions& o)
    : sc_module(name), socket("socket"), plan_(plan), o_(o) {
  start_.assign(static_cast<size_t>(plan.intervals), -1);
  end_.assign(static_cast<size_t>(plan.intervals), -1);
  mig_start_.assign(plan.migrations.size(), -1);
  mig_end_.assign(plan.migrations.size(), -1);
  pending_.assign(static_cast<size_t>(plan.intervals) + 1, 0);
  for (const Migration& m : plan.migrations)
    ++pending_[static_cast<size_t>(std::min(m.deadline, plan.intervals))];
  SC_THREAD(control);
  for (int i = 0; i < o.streams; ++i)
    sc_core::sc_spawn([this]() { worker(); }, sc_core::sc_gen_unique_name("stream"));
  SC_THREAD(dma_reader);
  SC_THREAD(dma_writer);
}

int64_t StepReplayer::now_ps() const {
  return static_cast<int64_t>(std::llround(sc_core::sc_time_stamp().to_seconds() * 1e12));
}

uint64_t StepReplayer::address(int64_t offset, bool fast) const {
  // Scaled offset, 64-byte aligned, folded into the tier's range (timing-only models: the
  // addresses shape row and bank locality, not contents).
  const uint64_t size = fast ? o_.fast_size : o_.slow_size;
  const auto off = static_cast<uint64_t>(static_cast<double>(offset) * o_.scale) / 64 * 64;
  return (fast ? o_.fast_base : o_.slow_base) + off % (size / 2);
}

void StepReplayer::transport(tlm::tlm_generic_payload& p, const Chunk& c) {
  p.set_command(c.write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
  p.set_address(c.address);
  p.set_data_length(c.bytes);
  p.set_streaming_width(c.bytes);
  p.set_data_ptr(nullptr);
  p.set_byte_enable_ptr(nullptr);
  p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  sc_time d = sc_core::SC_ZERO_TIME;
  socket->b_transport(p, d);
  if (p.get_response_status() != tlm::TLM_OK_RESPONSE) ++errors_;
}

void StepReplayer::worker() {
  tlm::tlm_generic_payload p;
  for (;;) {
    sc_core::wait(work_ev_);
    while (next_ < work_.size()) transport(p, work_[next_++]);
    if (--active_ == 0) done_ev_.notify();
  }
}

void StepReplayer::control() {
  const int N = plan_.intervals, K = plan_.step_intervals;
  size_t mig = 0;
  for (int k = 0; k < N; ++k) {
    // Migrations issued at this boundary go to the DMA engine.
    bool queued = false;
    while (mig < plan_.migrations.size() && plan_.migrations[mig].issue <= k) {
      dma_queue_.push_back(static_cast<int>(mig++));
      queued = true;
    }
    if (queued) dma_ev_.notify(sc_core::SC_ZERO_TIME);
    const int64_t ready = now_ps();
    while (pending_[static_cast<size_t>(k)] > 0) sc_core::wait(mig_done_ev_);
    start_[static_cast<size_t>(k)] = now_ps();
    if (k >= K) stall_ps += static_cast<double>(start_[static_cast<size_t>(k)] - ready);
    const sc_time compute(plan_.flops[static_cast<size_t>(k)] * o_.scale / o_.flops_per_s * 1e12,
                          SC_PS);
    const sc_time t0 = sc_core::sc_time_stamp();
    work_.clear();
    next_ = 0;
    for (const PlanAccess& a : plan_.accesses[static_cast<size_t>(k)]) {
      if (k >= K) (a.fast ? fast_bytes : slow_bytes) += static_cast<double>(a.bytes);
      auto left =
          static_cast<int64_t>(std::ceil(static_cast<double>(a.bytes) * o_.scale / 64)) * 64;
      int64_t off = a.offset;
      while (left > 0) {
        const int64_t c = std::min(left, o_.chunk_bytes);
        work_.push_back(Chunk{address(off, a.fast), static_cast<uint32_t>(c), a.write});
        off += static_cast<int64_t>(static_cast<double>(c) / o_.scale);
        left -= c;
      }
    }
    if (!work_.empty()) {
      active_ = o_.streams;
      work_ev_.notify(sc_core::SC_ZERO_TIME);
      sc_core::wait(done_ev_);
    }
    const sc_time busy = sc_core::sc_time_stamp() - t0;
    if (busy < compute) sc_core::wait(compute - busy);
    end_[static_cast<size_t>(k)] = now_ps();
  }
  finished_ = true;
}

void StepReplayer::dma_reader() {
  tlm::tlm_generic_payload p;
  const double ps_per_byte = 1000.0 / o_.dma_gbps;
  for (;;) {
    while (dma_queue_.empty()) sc_core::wait(dma_ev_);
    const int i = dma_queue_.front();
    dma_queue_.pop_front();
    const Migration& m = plan_.migrations[static_cast<size_t>(i)];
    if (m.issue >= plan_.step_intervals) migrated_bytes += static_cast<double>(m.bytes);
    auto left = static_cast<int64_t>(std::ceil(static_cast<double>(m.bytes) * o_.scale / 64)) * 64;
    int64_t off = m.offset;
    while (left > 0) {
      const int64_t c = std::min(left, o_.dma_chunk_bytes);
      const sc_time t0 = sc_core::sc_time_stamp();
      transport(p, Chunk{address(off, !m.to_fast), static_cast<uint32_t>(c), false});
      left -= c;
      if (left == 0 && !m.to_fast) mig_end_[static_cast<size_t>(i)] = now_ps();
      while (pipe_.size() >= 2) sc_core::wait(pipe_got_);
      pipe_.push_back(
          DmaPiece{i, Chunk{address(off, m.to_fast), static_cast<uint32_t>(c), true}, left == 0});
      pipe_put_.notify(sc_core::SC_ZERO_TIME);
      off += static_cast<int64_t>(static_cast<double>(c) / o_.scale);
      // The engine's bandwidth cap: the next read starts no earlier than c / bandwidth later.
      const sc_time slot(static_cast<double>(c) * ps_per_byte, SC_PS);
      const sc_time spent = sc_core::sc_time_stamp() - t0;
      if (spent < slot) sc_core::wait(slot - spent);
    }
  }
}

void StepReplayer::dma_writer() {
  tlm::tlm_generic_payload p;
  for (;;) {
    while (pipe_.empty()) sc_core::wait(pipe_put_);
    const DmaPiece d = pipe_.front();
    pipe_.pop_front();
    pipe_got_.notify(sc_core::SC_ZERO_TIME);
    const Migration& m = plan_.migrations[static_cast<size_t>(d.migration)];
    int64_t& first = mig_start_[static_cast<size_t>(d.migration)];
    if (m.to_fast && first < 0) first = now_ps();
    transport(p, d.write);
    if (!d.last) continue;
    --pending_[static_cast<size_t>(std::min(m.deadline, plan_.intervals))];
    mig_done_ev_.notify(sc_core::SC_ZERO_TIME);
  }
}

std::vector<TimedHold> StepReplayer::timed_holds() const {
  std::vector<TimedHold> out;
  for (const Hold& h : plan_.holds) {
    TimedHold t;
    t.bytes = h.bytes;
    t.start_ps = h.start_migration >= 0 ? mig_start_[static_cast<size_t>(h.start_migration)]
                                        : start_[static_cast<size_t>(h.start)];
    t.end_ps = h.end_migration >= 0 ? mig_end_[static_cast<size_t>(h.end_migration)]
                                    : end_[static_cast<size_t>(h.end)];
    out.push_back(t);
  }
  return out;
}

}  // namespace tessel::sentinel
