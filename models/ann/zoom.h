// The Zoom study (issue 21, arXiv 1809.04067): builds the preview (IVF-PQ or NSG on PQ codes),
// writes / opens the full-view file, searches every query single-threaded with the full view in
// the page cache and with O_DIRECT, and measures the baselines (IVF-PQ without re-rank, the
// in-memory NSG with full vectors) in the same run. Registered as `ann.zoom` here and, with the
// simulated SSD replay of each query's page reads, as `zoom` in sim/zoom.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/ann/full_view.h"
#include "models/ann/ivf.h"
#include "models/ann/ivf_pq4.h"
#include "models/ann/nsg.h"
#include "models/ann/vector_source.h"
#include "runtime/core/config.h"
#include "runtime/core/experiment.h"
#include "runtime/core/keys.h"

namespace tessel::ann {

// The declared keys of `ann.zoom`; `zoom` (sim/zoom) adds the simulated SSD's.
const ModelKeys& zoom_study_keys();

class ZoomStudy {
 public:
  // Reads every key of hw and workload it uses (configs/README.md, "Zoom").
  void configure(const Config& hw, const Config& w);
  SimResult run(RunContext& ctx);

  // After run(): each query's full-view page numbers (the O_DIRECT pass's reads, sorted) and the
  // file's size, for the SSD replay.
  const std::vector<std::vector<int64_t>>& query_pages() const { return query_pages_; }
  int64_t file_bytes() const { return file_bytes_; }
  int queue_depth() const { return fv_.queue_depth; }

 private:
  int build_threads_ = 0;
  bool avx2_ = false;
  uint64_t mixture_seed_ = 2026, build_seed_ = 1;
  VectorSource base_, queries_;
  int k_ = 10, candidates_ = 100, nprobe_ = 16, L_ = 100, nsg_L_ = 64, passes_ = 1;
  std::string preview_ = "ivf";
  IvfParams ivf_;
  int centroid_search_L_ = 0;  // ivf.centroid_search_L; 0: default_centroid_search_L(nprobe)
  PqParams pq_;
  int pq_bits_ = 8;  // 8: IvfPqIndex (256 centroids); 4: IvfPq4Index (16, shuffle scan)
  NsgParams nsg_;
  bool baseline_nsg_ = true, baseline_ivfpq_ = true, sequential_ = false;
  std::string file_;
  Config file_where_;
  bool file_given_ = false;
  FullViewOptions fv_;
  std::vector<std::vector<int64_t>> query_pages_;
  int64_t file_bytes_ = 0;
};

}  // namespace tessel::ann
