// An accelerator's off-chip port: the one interface every model's loader and storer use,
// bound either to an analytical link (bandwidth + latency) or to the simulated memory
// hierarchy (sim/memory) through a TLM-2.0 initiator socket.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <systemc>
#include <tlm>

#include <cstdint>
#include <queue>
#include <string>
#include <vector>

#include "runtime/core/counters.h"
#include "sim/core/offchip_params.h"
#include "sim/core/sc_runtime.h"

namespace tessel::sim {

// Called from SC_THREADs. A transfer is issued by read()/write(), which return once the
// port has taken all of it (the caller may then issue the next one), and completes later:
// wait_done() blocks until its last byte has arrived (read) or been written (write).
// Tickets are numbered from 0 in issue order, per port.
class OffchipPort {
 public:
  using Ticket = uint64_t;
  struct Range {
    uint64_t address = 0, bytes = 0;
  };
  virtual ~OffchipPort() = default;
  // A gather (scatter) transfer: several ranges under one ticket, as one DMA descriptor
  // list. A link sees their total bytes as one transfer.
  virtual Ticket read(const std::vector<Range>& ranges) = 0;
  virtual Ticket write(const std::vector<Range>& ranges) = 0;
  Ticket read(uint64_t address, uint64_t bytes) { return read({Range{address, bytes}}); }
  Ticket write(uint64_t address, uint64_t bytes) { return write({Range{address, bytes}}); }
  virtual void wait_done(Ticket t) = 0;
  // Requests and bytes issued so far (a transfer is one or more requests).
  uint64_t requests() const { return requests_; }
  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t bytes_written() const { return bytes_written_; }

 protected:
  uint64_t requests_ = 0, bytes_read_ = 0, bytes_written_ = 0;
};

// The analytical option: a link of `bytes_per_cycle` and `latency_cycles`, reads and writes
// sharing it in call order. With `pipelined` (a DMA engine that keeps enough requests in
// flight to cover the latency) a transfer occupies the link for bytes / bandwidth and
// completes `latency` later; without it (one outstanding request) the link is held for
// latency + bytes / bandwidth and the transfer is complete when the call returns.
class LinkPort : public OffchipPort {
 public:
  LinkPort(const Clock& clock, double bytes_per_cycle, uint64_t latency_cycles, bool pipelined)
      : clock_(clock),
        bytes_per_cycle_(bytes_per_cycle),
        latency_cycles_(latency_cycles),
        pipelined_(pipelined) {}

  uint64_t occupancy_cycles(uint64_t bytes) const;
  uint64_t latency_cycles() const { return latency_cycles_; }
  using OffchipPort::read;
  using OffchipPort::write;
  Ticket read(const std::vector<Range>& ranges) override;
  Ticket write(const std::vector<Range>& ranges) override;
  void wait_done(Ticket t) override;

 private:
  Ticket transfer(uint64_t bytes);
  const Clock& clock_;
  double bytes_per_cycle_;
  uint64_t latency_cycles_;
  bool pipelined_;
  uint64_t free_cycle_ = 0;           // the link is busy until this cycle
  std::vector<uint64_t> done_cycle_;  // per ticket
};

// The simulated-memory option: a TLM-2.0 initiator (base protocol, non-blocking) bound to
// a memory hierarchy's target socket (memory::MemorySystem::socket()). A transfer becomes
// aligned requests of at most `request_bytes`, issued in address order while fewer than
// `max_outstanding` are in flight; each waits for END_REQ when the memory's queue is full.
// Completion times come from the memory model (row hits, bank conflicts, refresh). Any
// number of SC_THREADs may share one port (a loader, a storer, per-tile stream engines):
// they take slots in the order the kernel runs them.
class MemoryPort : public sc_core::sc_module, public OffchipPort {
 public:
  tlm_utils::simple_initiator_socket<MemoryPort> socket;

  MemoryPort(sc_core::sc_module_name name, const Clock& clock, const MemoryPortParams& params);

  using OffchipPort::read;
  using OffchipPort::write;
  Ticket read(const std::vector<Range>& ranges) override;
  Ticket write(const std::vector<Range>& ranges) override;
  void wait_done(Ticket t) override;
  // Cycles during which the memory refused new requests (its queues were full): the
  // memory, not the port's outstanding cap, is then the limit.
  uint64_t backpressure_cycles() const;
  // Statistics of the port (requests, bytes, time waiting for room), "<name>.<stat>".
  void report(const std::string& name, Counters& counters) const;

 private:
  struct Pending {
    uint64_t left = 0;     // requests not yet completed
    uint64_t done_ps = 0;  // latest completion time seen
  };
  Ticket transfer(bool write, const std::vector<Range>& ranges);
  void issue(bool write, uint64_t address, uint32_t bytes, Ticket t);
  tlm::tlm_sync_enum bw(tlm::tlm_generic_payload& p, tlm::tlm_phase& phase, sc_core::sc_time& d);
  void complete(tlm::tlm_generic_payload& p, uint64_t at_ps);
  uint64_t now_ps() const;

  const Clock& clock_;
  MemoryPortParams params_;
  std::vector<tlm::tlm_generic_payload> pool_;  // one payload per outstanding slot
  std::vector<uint32_t> free_slots_;
  std::vector<Ticket> slot_ticket_;
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<uint64_t>> frees_;  // ps
  int64_t outstanding_ = 0;
  bool waiting_end_req_ = false;
  std::vector<Pending> pending_;  // per ticket
  uint64_t stall_ps_ = 0;         // time issue() waited for a slot or END_REQ (summed over callers)
  uint64_t backpressure_ps_ = 0;  // time a request waited for the memory to accept it
  uint64_t refused_since_ps_ = 0;
  uint64_t ps_unit_;
  sc_core::sc_event end_req_, response_;
};

}  // namespace tessel::sim
