// A graph index laid out for fast search: nodes renumbered so graph neighbours sit close in
// memory, fixed-stride adjacency slots, an 8-bit code per vector for the search's distances,
// the vectors kept for the final re-rank (binary16 or float32), and the big arrays on 2 MiB pages.
//
// Why (measured in docs/ann.md): a beam search is bound by random reads of vectors, not by
// arithmetic. A 128-d float vector is 8 cache lines, its code 2: a quarter of the memory traffic
// per distance. Renumbering in breadth-first order from the entry puts the rows one expansion
// reads on nearby pages, and huge pages keep the TLB from missing on every row. The re-rank
// copy is IEEE binary16 by default (half the bytes of float32; docs/ann.md measures the cost).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "models/ann/codes.h"
#include "models/ann/graph.h"
#include "models/ann/vectors.h"

namespace tessel::ann {

// How the copy kept for the re-rank of lossy codes is stored (docs/ann.md measures each).
enum class RerankVectors : uint8_t {
  kFloat32,  // the floats, 4 B per component: re-ranked distances exact
  // IEEE binary16 of each component, 2 B (fp16.h): relative error <= 2^-11 per component, so
  // re-ranked distances are approximate.
  kHalf,
  // binary16 of each component's residual from its 8-bit code (code_value in fp16.h), 2 B:
  // error <= 2^-11 * step / 2 per component (step = the codes' range / 255), far below kHalf's
  // on data whose range is not much wider than its values.
  kHalfResidual,
};

struct PackOptions {
  bool reorder = true;     // breadth-first renumbering from the entry node
  bool codes = true;       // search on 8-bit codes (ScalarQuantizer), re-rank with floats
  bool huge_pages = true;  // madvise(MADV_HUGEPAGE) on the vector and code arrays
  bool avx2 = true;        // code kernel may use AVX2 (false: the SSE2 baseline)
  // Slots sized for 95% of the nodes, the longer lists (repair edges, hubs) in an overflow
  // array; false: every slot sized for the largest degree (the layout before 2026-12-05).
  bool overflow = true;
  // The re-rank copy of lossy codes. A base with a value (kHalf) or residual (kHalfResidual)
  // beyond binary16's range (|x| > 65504) keeps float32 whatever this says; float searches
  // (codes = false) always read float32.
  RerankVectors rerank_vectors = RerankVectors::kHalfResidual;
  // Each neighbour list sorted by edge length, with an 8-bit lower bound of every length in the
  // search's own distance (on the codes when searching codes): an expansion of u skips the
  // neighbours v with |uv| > |qu| + (the pool's worst), which the triangle inequality puts
  // beyond the worst, so they could never enter the pool. Exact: results are those of the
  // search without it; only the distances computed fall (docs/ann.md, "Edge bounds").
  bool edge_bounds = true;
};

// Zero-initialised bytes aligned to 2 MiB, advised as huge pages when asked (Linux THP in
// "madvise" or "always" mode; elsewhere the advice is simply not taken).
class AlignedBytes {
 public:
  AlignedBytes() = default;
  AlignedBytes(std::size_t bytes, bool huge_pages);
  uint8_t* data() { return ptr_.get(); }
  const uint8_t* data() const { return ptr_.get(); }
  std::size_t size() const { return bytes_; }
  bool huge() const { return huge_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> ptr_;
  std::size_t bytes_ = 0;
  bool huge_ = false;
};

class PackedIndex {
 public:
  // `graph` and `base` must describe the same nodes (graph.size() == base.n).
  PackedIndex(const Graph& graph, const VectorSet& base, const PackOptions& options = {});

  // Identifies what a layout was packed from: the graph (entries, offsets, edges) and the
  // base's content checksum (vector_checksum).
  static uint64_t source_key(const Graph& graph, uint64_t base_checksum);
  // Writes the layout to `path` atomically (a sweep packs once and every later point loads
  // it), tagged with `key` (source_key) and the options.
  void save(const std::string& path, uint64_t key) const;
  // The layout saved at `path`, or nullptr when there is none, or it was packed from another
  // source (`key`) or with other options. A damaged file is an IoError naming it.
  static std::unique_ptr<PackedIndex> load(const std::string& path, uint64_t key,
                                           const PackOptions& options);

  int64_t size() const { return size_; }
  int dim() const { return dim_; }
  // Where searches start, as positions in this layout (node p is the vector at position p).
  int32_t entry() const { return entry_; }
  const std::vector<int32_t>& extra_entries() const { return extra_entries_; }
  // Position p's float vector; only when rerank_vectors() is kFloat32.
  const float* vector(int64_t p) const {
    return reinterpret_cast<const float*>(vectors_.data()) + p * dim_;
  }
  // Position p's binary16 row (values or residuals); only when rerank_vectors() is not kFloat32.
  const uint16_t* half_vector(int64_t p) const {
    return reinterpret_cast<const uint16_t*>(vectors_.data()) + p * dim_;
  }
  const uint8_t* codes() const { return options_.codes ? codes_.data() : nullptr; }
  // The adjacency as the search reads it: node p's slot is slot_stride() ints at
  // p * slot_stride(), its degree then its neighbours. A fixed stride (the largest degree plus
  // one, rounded up to a 64-byte line) makes an expansion one read with no offset lookup first.
  // A node whose degree exceeds slot_stride() - 1 keeps its whole list in overflow(), and its
  // slot holds the degree then the list's index in overflow().
  const int32_t* slots() const { return reinterpret_cast<const int32_t*>(slots_.data()); }
  int slot_stride() const { return slot_stride_; }
  const int32_t* overflow() const { return overflow_.empty() ? nullptr : overflow_.data(); }
  // With PackOptions::edge_bounds: byte p * slot_stride() + 1 + j bounds the length of the
  // edge in slot entry 1 + j (overflow_bounds()[i] that of overflow()[i]) from below, as
  // bound * bound_step(); lists are sorted by length, so their bounds never decrease. A bound
  // of 255 means at least 255 steps. Null without edge bounds.
  const uint8_t* edge_bounds() const { return bounds_.size() ? bounds_.data() : nullptr; }
  const uint8_t* overflow_bounds() const {
    return overflow_bounds_.empty() ? nullptr : overflow_bounds_.data();
  }
  float bound_step() const { return bound_step_; }
  int64_t overflow_nodes() const { return overflow_nodes_; }
  // Whether the float vectors are kept: only for a re-rank of lossy codes, or without codes
  // (exact codes, e.g. 8-bit data such as MNIST, give the float distances themselves).
  bool has_vectors() const { return vectors_.size() > 0; }
  // How the kept vectors are stored (PackOptions::rerank_vectors, or kFloat32 when out of
  // binary16's range or without codes); meaningless when !has_vectors().
  RerankVectors rerank_vectors() const { return stored_; }
  // Memory the search reads: slots, overflow lists, vectors, codes and the id map.
  std::size_t bytes() const;
  const ScalarQuantizer& quantizer() const { return quantizer_; }
  // Id in the caller's base of the vector at position p.
  const std::vector<int32_t>& original_ids() const { return original_; }
  const PackOptions& options() const { return options_; }
  bool huge_pages() const { return slots_.huge(); }

 private:
  PackedIndex() = default;
  void add_edge_bounds(const VectorSet& base);

  PackOptions options_;
  int64_t size_ = 0;
  int dim_ = 0;
  int32_t entry_ = 0;
  std::vector<int32_t> extra_entries_;
  std::vector<int32_t> original_;
  AlignedBytes slots_;
  int slot_stride_ = 0;
  std::vector<int32_t> overflow_;
  int64_t overflow_nodes_ = 0;
  AlignedBytes bounds_;
  std::vector<uint8_t> overflow_bounds_;
  float bound_step_ = 0;
  AlignedBytes vectors_;  // float32 rows, or binary16 rows (stored_ says which)
  RerankVectors stored_ = RerankVectors::kFloat32;
  AlignedBytes codes_;
  ScalarQuantizer quantizer_;
};

// Breadth-first order of the graph from its entry (then its extra entries, then any node still
// unreached, in id order): order[p] is the node placed at position p.
std::vector<int32_t> breadth_first_order(const Graph& graph);

}  // namespace tessel::ann
