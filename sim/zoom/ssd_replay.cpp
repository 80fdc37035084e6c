// SSD replay of Zoom's per-query page reads (two players, two SSD instances, one simulation).
#include "sim/zoom/ssd_replay.h"

#include <algorithm>
#include <memory>

#include "sim/core/sc_runtime.h"
#include "sim/memory/ssd.h"
#include "sim/memory/trace_player.h"

namespace tessel::zoom {

SsdReplayResult replay_query_pages(const std::vector<std::vector<int64_t>>& pages,
                                   memory::SsdParams params, int64_t queue_depth, double gap_us) {
  sim::prepare_systemc();
  int64_t max_page = 0;
  std::vector<memory::PlayerRequest> requests;
  for (std::size_t j = 0; j < pages.size(); ++j)
    for (int64_t p : pages[j]) {
      memory::PlayerRequest r;
      r.time_ps = static_cast<int64_t>(static_cast<double>(j) * gap_us * 1e6);
      r.address = static_cast<uint64_t>(p) * 4096;
      r.bytes = 4096;
      r.batch = static_cast<uint32_t>(j);
      requests.push_back(r);
      max_page = std::max(max_page, p);
    }
  const double need =
      static_cast<double>(max_page + 1) * 4096 / static_cast<double>(params.logical_bytes);
  // Plus four write buffers' worth: the last prefilled sectors still sit in the controller's
  // write buffer and would read at DRAM speed.
  const double margin = 4.0 * static_cast<double>(params.write_buffer_pages) *
                        static_cast<double>(params.page_bytes) /
                        static_cast<double>(params.logical_bytes);
  params.prefill = std::min(1.0, std::max(params.prefill, need + margin));
  auto fast = std::make_unique<memory::Ssd>("ssd_parallel", params);
  auto slow = std::make_unique<memory::Ssd>("ssd_sequential", params);
  auto p1 = std::make_unique<memory::TracePlayer>("player_parallel", requests, queue_depth);
  auto p2 = std::make_unique<memory::TracePlayer>("player_sequential", requests, 1);
  p1->socket.bind(fast->socket);
  p2->socket.bind(slow->socket);
  sc_core::sc_start();
  SsdReplayResult out;
  const int64_t gap_ps = static_cast<int64_t>(gap_us * 1e6);
  for (auto* player : {p1.get(), p2.get()}) {
    std::vector<double>& dst = player == p1.get() ? out.parallel_us : out.sequential_us;
    dst.assign(pages.size(), 0.0);
    for (const auto& b : player->batches()) {
      dst[b.id] = static_cast<double>(b.last_completion_ps - b.first_issue_ps) * 1e-6;
      if (b.last_completion_ps < 0 ||
          b.last_completion_ps > static_cast<int64_t>(b.id + 1) * gap_ps)
        out.overlapped = true;
      // A batch that started late (the previous one still held the queue) is an overlap too.
      if (b.first_issue_ps > static_cast<int64_t>(b.id) * gap_ps + gap_ps / 2)
        out.overlapped = true;
    }
  }
  return out;
}

}  // namespace tessel::zoom
