// Beam search over a proximity graph with PQ (ADC) distances.
#include "models/ann/zoom_graph_preview.h"

#include <algorithm>

namespace tessel::ann {

GraphPqPreview::GraphPqPreview(const Graph& graph, const ProductQuantizer& pq, const uint8_t* codes)
    : graph_(graph), pq_(pq), codes_(codes), m_(pq.m()) {
  table_.resize(static_cast<std::size_t>(m_) * ProductQuantizer::kCentroids);
  visited_.assign((graph.size() + 63) / 64, 0);
}

void GraphPqPreview::search(const float* q, int L, int candidates, std::vector<Neighbour>& out,
                            PreviewStats* stats) {
  pq_.distance_table(q, table_.data());
  for (int32_t v : touched_) visited_[static_cast<uint32_t>(v) >> 6] = 0;
  touched_.clear();
  pool_.clear();
  auto visit = [&](int32_t v) {
    uint64_t& w = visited_[static_cast<uint32_t>(v) >> 6];
    const uint64_t bit = uint64_t{1} << (v & 63);
    if (w & bit) return;
    w |= bit;
    touched_.push_back(v);
    const PoolEntry e{adc(v), v, false};
    if (static_cast<int>(pool_.size()) == L && !(e < pool_.back())) return;
    auto at = std::upper_bound(pool_.begin(), pool_.end(), e);
    pool_.insert(at, e);
    if (static_cast<int>(pool_.size()) > L) pool_.pop_back();
  };
  visit(graph_.entry);
  for (int32_t v : graph_.extra_entries) visit(v);
  int64_t hops = 0;
  for (std::size_t i = 0; i < pool_.size();) {
    if (pool_[i].expanded) {
      ++i;
      continue;
    }
    pool_[i].expanded = true;
    const PoolEntry cur = pool_[i];
    ++hops;
    const int32_t* nb = graph_.neighbours(cur.id);
    for (int j = 0, d = graph_.degree(cur.id); j < d; ++j) visit(nb[j]);
    // Restart from the first unexpanded entry (an insertion may have landed before i).
    i = 0;
    while (i < pool_.size() && pool_[i].expanded) ++i;
  }
  const int n = std::min<int>(candidates, static_cast<int>(pool_.size()));
  out.resize(n);
  for (int j = 0; j < n; ++j) out[j] = {pool_[j].dist, pool_[j].id};
  if (stats) stats->codes_scanned += static_cast<int64_t>(touched_.size()), stats->lists += hops;
}

}  // namespace tessel::ann
