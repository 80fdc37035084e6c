// Trace-driven front end: issues a memory trace into a TLM socket (timed or as fast as
// the memory accepts, with a cap on outstanding requests) and records every completion
// and each batch's completion time.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <systemc>
#include <tlm>

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

namespace tessel::memory {

// One request as the player issues it: flat address already resolved.
struct PlayerRequest {
  int64_t time_ps = -1;  // -1: as soon as possible
  bool write = false;
  uint64_t address = 0;
  uint32_t bytes = 0;
  uint32_t batch = 0xFFFFFFFFu;  // batch id (MemoryRequest::batch), 0xFFFFFFFF: none
};

class TracePlayer : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(TracePlayer);
  tlm_utils::simple_initiator_socket<TracePlayer> socket;

  // `requests` must outlive the player (long traces are not copied).
  TracePlayer(sc_core::sc_module_name name, const std::vector<PlayerRequest>& requests,
              int64_t max_outstanding);

  // Per request (trace order): issue and completion times in ps, -1 while not completed.
  const std::vector<int64_t>& issued_ps() const { return issued_; }
  const std::vector<int64_t>& completed_ps() const { return completed_; }
  uint64_t completions() const { return completions_; }
  uint64_t errors() const { return errors_; }
  uint64_t duplicate_completions() const { return duplicates_; }
  int64_t last_completion_ps() const { return last_ps_; }
  const std::vector<PlayerRequest>& requests() const { return requests_; }

  // Batches in order of first appearance: id, first issue, last completion (ps; -1 while
  // a request of the batch has not completed). A batch's completion time is last
  // completion minus first issue.
  struct Batch {
    uint32_t id = 0;
    int64_t first_issue_ps = -1, last_completion_ps = -1;
    uint64_t requests = 0, completed = 0;
  };
  const std::vector<Batch>& batches() const { return batches_; }
  // Completion times (ps) of the batches whose requests have all completed.
  std::vector<int64_t> batch_latencies_ps() const;

 private:
  void issue();
  tlm::tlm_sync_enum bw(tlm::tlm_generic_payload& p, tlm::tlm_phase& phase, sc_core::sc_time& d);
  void complete(tlm::tlm_generic_payload& p, int64_t at_ps);
  int64_t now_ps() const;
  sc_core::sc_time ps(int64_t v) const;  // v picoseconds (negative: zero)

  const std::vector<PlayerRequest>& requests_;
  int64_t max_outstanding_;
  size_t next_ = 0;
  bool waiting_end_req_ = false;
  int64_t outstanding_ = 0;
  std::priority_queue<int64_t, std::vector<int64_t>, std::greater<int64_t>> frees_;  // ps
  std::vector<tlm::tlm_generic_payload> pool_;  // one payload per outstanding slot
  std::vector<uint32_t> free_slots_;
  std::vector<uint64_t> slot_request_;
  std::vector<int64_t> issued_, completed_;
  std::vector<Batch> batches_;
  std::vector<uint32_t> batch_of_;  // request → index into batches_ (kNone: no batch)
  uint64_t completions_ = 0, errors_ = 0, duplicates_ = 0;
  int64_t last_ps_ = 0;
  uint64_t ps_unit_;  // kernel time units per picosecond
  sc_core::sc_event wake_;
};

}  // namespace tessel::memory
