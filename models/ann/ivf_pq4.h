// IVF-PQ with 4-bit codes: Zoom's preview at half the code bytes (`workload.pq.bits: 4`). The
// coarse clusters are those of ivf.h (same sampling and seed, so the same centroids); each list
// holds its vectors' residual codes in pq4_fastscan.h's packed blocks of 32, scanned with the
// byte-table shuffle kernel and a per-list quantised table.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "models/ann/ivf.h"
#include "models/ann/pq4_fastscan.h"
#include "models/ann/search.h"
#include "models/ann/vectors.h"

namespace tessel::ann {

struct IvfPq4Index {
  static constexpr int K = Pq4Quantizer::kCentroids;
  int dim = 0;
  int nlist = 0;
  int m = 0;
  // Sub-space s covers [s * dim / m, (s + 1) * dim / m) as in Pq4Quantizer; its 16 centroids are
  // at codebooks[begin(s) * 16] (the quantizer's own layout, copied so the index can be saved).
  std::vector<float> codebooks;     // dim x 16
  std::vector<float> centroids;     // nlist x dim
  std::vector<int64_t> list_begin;  // nlist + 1 slot offsets, each a multiple of kPq4Block
  std::vector<int32_t> ids;         // slot -> vector id (-1: padding of a list's last block)
  std::vector<uint8_t> codes;       // pq4_pack blocks in slot order (list l from list_begin[l])
  // precomputed[(l * m + s) * 16 + j] = |C_sj|^2 + 2 c_l,s . C_sj (as IvfPqIndex::precomputed, but
  // 16 entries per sub-space: nlist * m * 64 bytes).
  std::vector<float> precomputed;
  // As IvfPqIndex::centroid_graph: built with IvfParams::centroid_graph, not saved.
  CentroidGraph centroid_graph;
  uint64_t data_checksum = 0;
  double seconds_coarse = 0, seconds_pq = 0, seconds_encode = 0;

  int begin(int s) const { return static_cast<int>(int64_t{s} * dim / m); }
  const float* centroid(int s, int c) const {
    return codebooks.data() + int64_t{begin(s)} * K + int64_t{c} * (begin(s + 1) - begin(s));
  }
  // Packed bytes of one block of 32 slots.
  int64_t block_bytes() const { return int64_t{16} * pq4_padded_m(m); }
  // The code of slot `slot` (m values < 16).
  void slot_code(int64_t slot, uint8_t* code) const;
  // Codes, ids, centroids, codebooks, precomputed tables, list offsets, centroid graph: the
  // preview's RAM.
  int64_t ram_bytes() const;
  int64_t size() const { return static_cast<int64_t>(ids.size()); }
};

// Residual codes only (ip.by_residual must be true: the 4-bit codebooks are too coarse to code
// positions of whole vectors usefully). Needs 1 <= pp.m <= min(dim, 256).
IvfPq4Index build_ivf_pq4(const VectorSet& base, const IvfParams& ip, const PqParams& pp);
// Own magic ("TSLIVQ41"): an 8-bit IVF-PQ file fed to load_ivf_pq4 (or this one to load_ivf_pq)
// fails naming the file, never mixes code widths.
void save_ivf_pq4(const std::string& path, const IvfPq4Index& index);
IvfPq4Index load_ivf_pq4(const std::string& path);

// One query at a time; one per thread.
class IvfPq4Preview {
 public:
  // centroid_search_L: as IvfPreview's (the graph probe's beam width; 0: default).
  explicit IvfPq4Preview(const IvfPq4Index& index, bool allow_avx2 = false,
                         int centroid_search_L = 0);
  // The `candidates` nearest to q by ADC distance over the codes of the `nprobe` nearest lists,
  // ascending. Each list is scanned on its quantised table (pq4_quantize_table); with `exact`
  // the float-ADC order is restored: every slot whose quantised distance minus the table's
  // error_bound() is within the candidates-th smallest (distance + bound) is re-scored with the
  // float table and the best `candidates` of those returned, so the list equals a float-ADC scan
  // (up to float rounding). Without `exact`, the quantised order (distances dequantised).
  void search(const float* q, int nprobe, int candidates, std::vector<Neighbour>& out,
              PreviewStats* stats = nullptr, bool exact = true);
  // After search: the largest error_bound() of the query's list tables, and how many slots were
  // re-scored in float.
  double max_error_bound() const { return max_bound_; }
  int64_t rescored() const { return rescored_; }

 private:
  struct Pending {
    double lo;
    int32_t slot_in_list;  // slot offset inside its list
    int32_t probe;         // index of the list among the probed ones
  };
  const IvfPq4Index& index_;
  Pq4ScanKernel scan_;
  CentroidProbe probe_;
  std::vector<float> query_term_, tables_;  // tables_: nprobe x m x 16 float tables
  std::vector<uint16_t> sums_;
  std::vector<double> hi_heap_;
  std::vector<Pending> pending_;
  std::vector<std::pair<double, int32_t>> best_;  // the answer's bounded max-heap
  std::vector<uint8_t> code_;
  double max_bound_ = 0;
  int64_t rescored_ = 0;
};

}  // namespace tessel::ann
