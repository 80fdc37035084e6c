// The GPU's copy engines on its PCIe port: gradient buckets to host memory (posted writes)
// and parameter tiles from host memory (reads), each split into chunk-sized TLM
// transactions with a few in flight per direction, as a DMA engine streams them. One
// process issues both directions' chunks, reads first when both wait: a read request is
// one header TLP, which the port slips between write TLPs rather than queueing it behind
// a whole chunk of write data.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <systemc>
#include <tlm>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace tessel::zero_offload {

enum class Direction { kToHost = 0, kToGpu = 1 };

struct CopySpan {
  Direction dir;
  double start_ns, end_ns;
  uint64_t bytes;
};

class DmaEngine : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<DmaEngine> socket;

  SC_HAS_PROCESS(DmaEngine);
  // `writes` and `reads`: chunks in flight per direction. Reads need more: each must cover
  // a round trip, and its request header waits behind write data going the same way.
  DmaEngine(sc_core::sc_module_name name, uint64_t chunk_bytes, int64_t writes, int64_t reads);

  // Queues a copy of `bytes` at host address `host_address`; `done` runs, in a method
  // process (it must not wait), at the simulated time the last chunk has completed.
  void copy(Direction dir, uint64_t host_address, uint64_t bytes, std::function<void()> done);

  uint64_t payload_bytes(Direction d) const { return payload_[static_cast<int>(d)]; }
  uint64_t transactions() const { return transactions_; }
  uint64_t errors() const { return errors_; }
  const std::vector<CopySpan>& spans() const { return spans_; }

 private:
  struct Job {
    Direction dir;
    uint64_t address, bytes;
    std::function<void()> done;
    uint64_t outstanding = 0;
    uint64_t next = 0;  // offset of the next chunk to post
    bool posted = false;
    double start_ns = 0;
  };
  struct Chunk {
    tlm::tlm_generic_payload payload;
    Job* job = nullptr;
  };

  void engine();
  // Posts the next chunk of direction i's oldest job if a slot is free; false if not.
  bool post_next(int i);
  void post(Job& job, uint64_t offset, uint64_t bytes);
  tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload& p, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);
  // A chunk's response arrived: it completes at now + delay.
  void responded(tlm::tlm_generic_payload& p, const sc_core::sc_time& delay);
  void complete_due();  // method: retires the chunk whose completion time has come

  uint64_t chunk_bytes_;
  int64_t window_[2];  // by direction
  std::deque<std::unique_ptr<Job>> queue_[2];
  std::vector<std::unique_ptr<Job>> active_;
  sc_core::sc_event wake_, end_req_;
  int64_t in_flight_[2] = {0, 0};
  tlm::tlm_generic_payload* open_request_ = nullptr;  // BEGIN_REQ not yet ended
  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::vector<Chunk*> free_;
  std::map<tlm::tlm_generic_payload*, Chunk*> by_payload_;
  std::multimap<sc_core::sc_time, Chunk*> due_;
  sc_core::sc_event_queue completions_;
  uint64_t payload_[2] = {0, 0};
  uint64_t transactions_ = 0, errors_ = 0;
  std::vector<CopySpan> spans_;
};

}  // namespace tessel::zero_offload
