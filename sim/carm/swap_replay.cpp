// SystemC replay of the sample store's trace on a memory hierarchy (an NVMe SSD).
#include "sim/carm/swap_replay.h"

#include <memory>

#include "sim/core/sc_runtime.h"
#include "sim/memory/trace_player.h"
#include "sim/memory/workload.h"

namespace tessel::carm {

ReplayResult replay_store_trace(const MemoryTrace& trace, const memory::HierarchySpec& spec,
                                int64_t max_outstanding, Counters& counters,
                                std::map<std::string, double>& metrics) {
  sim::prepare_systemc();
  std::vector<memory::PlayerRequest> requests = memory::resolve(trace, spec, 0, "carm store trace");
  uint32_t max_batch = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    requests[i].batch = trace.requests[i].batch;
    if (trace.requests[i].batch != MemoryRequest::kNoBatch)
      max_batch = std::max(max_batch, trace.requests[i].batch + 1);
  }
  auto system = std::make_unique<memory::MemorySystem>(spec);
  auto player = std::make_unique<memory::TracePlayer>("carm_player", requests, max_outstanding);
  player->socket.bind(system->socket());
  sc_core::sc_start();
  ReplayResult r;
  r.batch_latency_ps.assign(max_batch, -1);
  for (const auto& b : player->batches())
    if (b.completed == b.requests && b.last_completion_ps >= 0)
      r.batch_latency_ps[b.id] = b.last_completion_ps - b.first_issue_ps;
  double sum = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (player->completed_ps()[i] < 0) continue;
    if (requests[i].write) {
      ++r.writes;
    } else {
      ++r.reads;
      sum += double(player->completed_ps()[i] - player->issued_ps()[i]) * 1e-3;
    }
  }
  r.read_latency_mean_ns = r.reads ? sum / double(r.reads) : 0;
  r.end_s = double(player->last_completion_ps()) * 1e-12;
  const sc_core::sc_time end(double(player->last_completion_ps()), sc_core::SC_PS);
  system->report(end, counters, metrics);
  return r;
}

}  // namespace tessel::carm
