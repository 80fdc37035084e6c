// IVF-PQ: k-means coarse clusters, each list holding its vectors' PQ codes: Zoom's "preview",
// which returns the candidates nearest a query by PQ distance in the nearest clusters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/ann/centroid_probe.h"
#include "models/ann/pq.h"
#include "models/ann/search.h"
#include "models/ann/vectors.h"

namespace tessel::ann {

struct IvfParams {
  int nlist = 1024;        // coarse clusters
  int iterations = 20;     // Lloyd iterations of the coarse k-means
  int64_t train_size = 0;  // coarse training sample; 0 = 64 per cluster (all when fewer)
  uint64_t seed = 1;
  int threads = 0;
  // Codes of the residual x - c (c: x's coarse centroid), as FAISS's IVFPQ and most IVF-PQ
  // systems: the codebooks then quantize the spread inside a cluster instead of the positions of
  // the clusters (on the 20k mixture, recall@10 of 100 re-ranked candidates at m = 16 rises
  // from 0.76 to 0.99). false: codes of x itself, one distance table per query.
  bool by_residual = true;
  // The Zoom paper's coarse probe: an NSG over the centroids (centroid_probe.h) searched by
  // beam search instead of brute force over all nlist centroids.
  bool centroid_graph = false;
};

struct IvfPqIndex {
  int dim = 0;
  int nlist = 0;
  ProductQuantizer pq;
  std::vector<float> centroids;     // nlist x dim
  std::vector<int64_t> list_begin;  // nlist + 1 slot offsets, each a multiple of kPqBlock
  std::vector<int32_t> ids;         // slot -> vector id (-1: padding of a list's last block)
  std::vector<uint8_t> codes;       // blocked codes (pq.h), slot order
  bool by_residual = true;
  // Residual tables without a per-list table computation (FAISS's "precomputed tables"):
  // |q - c - r|^2 = |q - c|^2 + (|r_s|^2 + 2 c_s.r_s) - 2 q_s.r_s summed over sub-spaces s, so
  // list l's table is precomputed[l] (nlist x m x 256, built once) plus the query's -2 q_s.C_sj
  // table, plus the coarse distance already known. Costs nlist * m * 1 KiB of RAM (counted).
  std::vector<float> precomputed;
  // Empty unless built with IvfParams::centroid_graph. Not saved by save_ivf_pq: rebuilt from
  // the centroids (deterministically) by whoever loads the index and wants it.
  CentroidGraph centroid_graph;
  uint64_t data_checksum = 0;  // vectors_checksum of the base it was built from
  double seconds_coarse = 0, seconds_pq = 0, seconds_encode = 0;

  // Codes, vector ids, centroids, codebooks, precomputed tables and the centroid graph: the
  // preview's RAM.
  int64_t ram_bytes() const;
  int64_t size() const { return static_cast<int64_t>(ids.size()); }
};

// The coarse quantizer of both IVF previews (8-bit here, 4-bit in ivf_pq4.h): k-means on a
// seeded sample of train_size vectors (64 x nlist by default), then each vector's nearest
// centroid. One implementation, so the two previews of a configuration probe the same lists.
struct CoarseLists {
  std::vector<float> centroids;  // nlist x dim
  std::vector<int32_t> list;     // vector -> its list
};
CoarseLists coarse_quantize(const VectorSet& base, const IvfParams& ivf, int threads);

// Inverted lists in slot order: lists in cluster order (ids increasing inside a list), each
// padded to whole blocks of `block` slots (id -1, zero code bytes); `rows` (n x m code bytes)
// copied to their slots.
struct ListLayout {
  std::vector<int64_t> list_begin;  // nlist + 1 slot offsets
  std::vector<int32_t> ids;
  std::vector<uint8_t> slot_rows;  // slots x m
};
ListLayout lay_out_lists(const std::vector<int32_t>& list, int nlist,
                         const std::vector<uint8_t>& rows, int m, int block);

IvfPqIndex build_ivf_pq(const VectorSet& base, const IvfParams& ivf, const PqParams& pq);
// Binary form (a sweep's cache: points that differ only in search settings build once). Written
// through a temporary name; loading checks the magic and sizes and names the file on error.
void save_ivf_pq(const std::string& path, const IvfPqIndex& index);
IvfPqIndex load_ivf_pq(const std::string& path);

struct PreviewStats {
  int64_t codes_scanned = 0;  // including padding slots
  int64_t lists = 0;
};

// One query at a time; scratch sized for one index. One per thread.
class IvfPreview {
 public:
  // centroid_search_L: the graph probe's beam width when the index has a centroid graph (0: the
  // default, centroid_probe.h).
  explicit IvfPreview(const IvfPqIndex& index, bool allow_avx2 = false, int centroid_search_L = 0);
  // The `candidates` nearest to q by PQ distance among the vectors of the `nprobe` clusters
  // whose centroids are nearest (brute force over the centroids, or the index's centroid graph),
  // ascending.
  void search(const float* q, int nprobe, int candidates, std::vector<Neighbour>& out,
              PreviewStats* stats = nullptr);

 private:
  const IvfPqIndex& index_;
  PqScanKernel scan_;
  CentroidProbe probe_;
  std::vector<float> table_, query_term_, dist_;
  std::vector<Neighbour> heap_;
};

}  // namespace tessel::ann
