// Zoom's second preview: the project's NSG (or any proximity graph) searched on PQ distances, so
// the preview holds the graph and the codes in RAM and no full vector.
#pragma once

#include <cstdint>
#include <vector>

#include "models/ann/graph.h"
#include "models/ann/ivf.h"
#include "models/ann/pq.h"
#include "models/ann/search.h"

namespace tessel::ann {

// Beam search (as Searcher: pool of L, expand the best unexpanded node, stop when all are
// expanded) from the graph's entry and extra entries, each distance an ADC table sum over the
// node's row code. Returns the pool's best `candidates` (<= L) by PQ distance. One per thread.
class GraphPqPreview {
 public:
  // `codes`: n x m row-major PQ codes of the graph's nodes.
  GraphPqPreview(const Graph& graph, const ProductQuantizer& pq, const uint8_t* codes);
  void search(const float* q, int L, int candidates, std::vector<Neighbour>& out,
              PreviewStats* stats = nullptr);

 private:
  float adc(int32_t v) const {
    const uint8_t* c = codes_ + static_cast<int64_t>(v) * m_;
    float s = 0;
    for (int j = 0; j < m_; ++j) s += table_[j * 256 + c[j]];
    return s;
  }
  const Graph& graph_;
  const ProductQuantizer& pq_;
  const uint8_t* codes_;
  int m_;
  std::vector<float> table_;
  std::vector<uint64_t> visited_;
  std::vector<int32_t> touched_;
  struct PoolEntry {
    float dist;
    int32_t id;
    bool expanded;
    bool operator<(const PoolEntry& o) const {
      return dist < o.dist || (dist == o.dist && id < o.id);
    }
  };
  std::vector<PoolEntry> pool_;
};

}  // namespace tessel::ann
