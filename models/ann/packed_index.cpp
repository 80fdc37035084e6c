// Renumbering, code arrays and huge-page buffers of PackedIndex.
#include "models/ann/packed_index.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <new>
#include <string>

#include "models/ann/array_io.h"
#include "models/ann/distance.h"
#include "models/ann/fp16.h"
#include "runtime/core/error.h"

namespace tessel::ann {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

}  // namespace

AlignedBytes::AlignedBytes(std::size_t bytes, bool huge_pages) : bytes_(bytes) {
  const std::size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  if (rounded == 0) return;
  ptr_.reset(static_cast<uint8_t*>(std::aligned_alloc(kHugePage, rounded)));
  if (!ptr_) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  // Advise before the first touch so the pages are faulted in as huge ones.
  if (huge_pages) huge_ = madvise(ptr_.get(), rounded, MADV_HUGEPAGE) == 0;
#else
  (void)huge_pages;
#endif
  std::memset(ptr_.get(), 0, rounded);
}

std::vector<int32_t> breadth_first_order(const Graph& graph) {
  std::vector<int32_t> roots;
  if (graph.size() > 0) roots.push_back(graph.entry);
  roots.insert(roots.end(), graph.extra_entries.begin(), graph.extra_entries.end());
  return breadth_first_order(graph.size(), roots, [&](int32_t u, const auto& visit) {
    for (int j = 0; j < graph.degree(u); ++j) visit(graph.neighbours(u)[j]);
  });
}

PackedIndex::PackedIndex(const Graph& graph, const VectorSet& base, const PackOptions& options)
    : options_(options), size_(graph.size()), dim_(base.dim) {
  const int64_t n = graph.size();
  if (n != base.n)
    throw Error("PackedIndex: graph has " + std::to_string(n) + " nodes but the base has " +
                    std::to_string(base.n) + " vectors",
                kExitFailure);
  if (options.reorder) {
    original_ = breadth_first_order(graph);
  } else {
    original_.resize(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) original_[i] = static_cast<int32_t>(i);
  }
  std::vector<int32_t> position(static_cast<std::size_t>(n));
  for (int64_t p = 0; p < n; ++p) position[original_[p]] = static_cast<int32_t>(p);

  entry_ = n > 0 ? position[graph.entry] : 0;
  for (int32_t e : graph.extra_entries) extra_entries_.push_back(position[e]);
  // Slot width: whole 64-byte lines, enough for the degree and the list of 95% of the nodes
  // (of every node without overflow); the longer lists go to the overflow array.
  std::vector<int> degrees(static_cast<std::size_t>(n));
  for (int64_t u = 0; u < n; ++u) degrees[u] = graph.degree(static_cast<int32_t>(u));
  slot_stride_ = packed_slot_stride(std::move(degrees), !options.overflow);
  slots_ = AlignedBytes(sizeof(int32_t) * slot_stride_ * n, options.huge_pages);
  for (int64_t p = 0; p < n; ++p) {
    const int32_t u = original_[p];
    const int degree = graph.degree(u);
    int32_t* slot = reinterpret_cast<int32_t*>(slots_.data()) + p * slot_stride_;
    slot[0] = degree;
    int32_t* list = slot + 1;
    if (degree > slot_stride_ - 1) {
      if (overflow_.size() + degree > static_cast<std::size_t>(INT32_MAX))
        throw Error("PackedIndex: more than 2^31 overflow edges", kExitFailure);
      slot[1] = static_cast<int32_t>(overflow_.size());
      overflow_.resize(overflow_.size() + degree);
      list = overflow_.data() + slot[1];
      ++overflow_nodes_;
    }
    for (int j = 0; j < degree; ++j) list[j] = position[graph.neighbours(u)[j]];
  }

  if (options.codes) {
    quantizer_ = ScalarQuantizer::fit(base);
    codes_ = AlignedBytes(static_cast<std::size_t>(dim_) * n, options.huge_pages);
    for (int64_t p = 0; p < n; ++p)
      quantizer_.encode(base.row(original_[p]), dim_, codes_.data() + p * dim_);
  }
  if (options.edge_bounds) add_edge_bounds(base);
  if (!options.codes || !quantizer_.lossless) {
    // binary16 only for the re-rank copy, and only when every stored value stays finite.
    const bool residual = options.rerank_vectors == RerankVectors::kHalfResidual;
    auto half_input = [&](int64_t p, int k) {
      const float x = base.row(original_[p])[k];
      if (!residual) return x;
      return x - code_value(quantizer_.offset, quantizer_.step, codes_.data()[p * dim_ + k]);
    };
    bool in_range = options.codes && options.rerank_vectors != RerankVectors::kFloat32;
    for (int64_t p = 0; in_range && p < n; ++p)
      for (int k = 0; k < dim_; ++k) in_range = in_range && std::fabs(half_input(p, k)) <= kHalfMax;
    stored_ = in_range ? options.rerank_vectors : RerankVectors::kFloat32;
    const bool half = stored_ != RerankVectors::kFloat32;
    const std::size_t row_bytes = static_cast<std::size_t>(dim_) * (half ? 2 : sizeof(float));
    vectors_ = AlignedBytes(row_bytes * n, options.huge_pages);
    for (int64_t p = 0; p < n; ++p) {
      if (!half) {
        std::memcpy(vectors_.data() + p * row_bytes, base.row(original_[p]), row_bytes);
        continue;
      }
      uint16_t* out = reinterpret_cast<uint16_t*>(vectors_.data()) + p * dim_;
      for (int k = 0; k < dim_; ++k) out[k] = float_to_half(half_input(p, k));
    }
  }
}

// Sorts every list by edge length and stores each length's 8-bit lower bound. Lengths are in
// the search's distance: the codes' (decoded, so in the base's units) when it searches codes,
// the floats' otherwise; the triangle inequality holds in either, exactly, because code
// distances are Euclidean distances between the (scaled) code vectors.
void PackedIndex::add_edge_bounds(const VectorSet& base) {
  const int64_t n = size_;
  const L2CodeKernel code_l2 = l2_code_kernel(options_.avx2);
  auto length = [&](int32_t a, int32_t b) {
    if (options_.codes)
      return std::sqrt(quantizer_.decode_distance(
          code_l2(codes_.data() + a * int64_t{dim_}, codes_.data() + b * int64_t{dim_}, dim_)));
    return std::sqrt(l2_sq(base.row(original_[a]), base.row(original_[b]), dim_));
  };
  auto list_of = [&](int64_t p, int32_t** list, uint8_t** bound) {
    int32_t* slot = reinterpret_cast<int32_t*>(slots_.data()) + p * slot_stride_;
    if (slot[0] > slot_stride_ - 1) {
      *list = overflow_.data() + slot[1];
      *bound = overflow_bounds_.data() + slot[1];
    } else {
      *list = slot + 1;
      *bound = bounds_.data() + p * slot_stride_ + 1;
    }
    return slot[0];
  };
  bounds_ = AlignedBytes(static_cast<std::size_t>(slot_stride_) * n, options_.huge_pages);
  overflow_bounds_.assign(overflow_.size(), 0);
  // Sort each list; its lengths in list order, node after node.
  std::vector<float> lengths;
  std::vector<std::pair<float, int32_t>> sorted;
  for (int64_t p = 0; p < n; ++p) {
    int32_t* list;
    uint8_t* bound;
    const int degree = list_of(p, &list, &bound);
    sorted.clear();
    for (int j = 0; j < degree; ++j)
      sorted.push_back({length(static_cast<int32_t>(p), list[j]), list[j]});
    std::sort(sorted.begin(), sorted.end());
    for (int j = 0; j < degree; ++j) {
      list[j] = sorted[j].second;
      lengths.push_back(sorted[j].first);
    }
  }
  // The step: the 99.9th percentile length over 255, so that a few very long edges (repairs)
  // do not coarsen every bound; longer edges get 255, still a lower bound.
  float top = 0;
  if (!lengths.empty()) {
    std::vector<float> all = lengths;
    auto at = all.begin() + static_cast<std::ptrdiff_t>((all.size() - 1) * 999 / 1000);
    std::nth_element(all.begin(), at, all.end());
    top = *at;
  }
  bound_step_ = top > 0 ? top / 255 : 1;
  std::size_t e = 0;
  for (int64_t p = 0; p < n; ++p) {
    int32_t* list;
    uint8_t* bound;
    const int degree = list_of(p, &list, &bound);
    for (int j = 0; j < degree; ++j, ++e) {
      const float len = lengths[e];
      int b = static_cast<int>(std::min(255.0f, std::floor(len / bound_step_)));
      while (b > 0 && static_cast<float>(b) * bound_step_ > len) --b;  // rounding: stay below
      bound[j] = static_cast<uint8_t>(b);
    }
  }
}

namespace {

// Version 2 (2026-12-06) adds binary16 re-rank vectors: their kind in the option bits and, as
// stored, before the vectors. Version 3 (2026-12-06) adds the edge bounds after the quantizer.
// A file of an earlier version is a stale cache entry, not damage: load answers nullptr.
constexpr char kPackedMagic[8] = {'T', 'E', 'S', 'P', 'A', 'C', 'K', '3'};
constexpr char kPackedMagicV1[8] = {'T', 'E', 'S', 'P', 'A', 'C', 'K', '1'};
constexpr char kPackedMagicV2[8] = {'T', 'E', 'S', 'P', 'A', 'C', 'K', '2'};

uint64_t fnv1a(uint64_t h, const void* data, std::size_t bytes) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (std::size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

uint32_t option_bits(const PackOptions& o) {
  return (o.reorder ? 1u : 0u) | (o.codes ? 2u : 0u) | (o.overflow ? 4u : 0u) |
         (static_cast<uint32_t>(o.rerank_vectors) << 3) | (o.edge_bounds ? 64u : 0u);
}

template <typename T>
void put(std::ofstream& o, const T& v) {
  o.write(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename T>
void get(std::ifstream& in, T& v, const std::string& path) {
  if (!in.read(reinterpret_cast<char*>(&v), sizeof v))
    throw IoError(path + ": truncated packed index");
}

void put_bytes(std::ofstream& o, const AlignedBytes& b) {
  const uint64_t n = b.size();
  put(o, n);
  o.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(n));
}
AlignedBytes get_bytes(std::ifstream& in, bool huge_pages, const std::string& path) {
  uint64_t n = 0;
  get(in, n, path);
  if (n > (uint64_t{1} << 40)) throw IoError(path + ": corrupt packed index (array size)");
  AlignedBytes b(n, huge_pages);
  if (!in.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(n)))
    throw IoError(path + ": truncated packed index");
  return b;
}

}  // namespace

uint64_t PackedIndex::source_key(const Graph& graph, uint64_t base_checksum) {
  uint64_t h = 0xcbf29ce484222325ull;
  h = fnv1a(h, &base_checksum, sizeof base_checksum);
  h = fnv1a(h, &graph.entry, sizeof graph.entry);
  h = fnv1a(h, graph.extra_entries.data(), graph.extra_entries.size() * sizeof(int32_t));
  h = fnv1a(h, graph.offsets.data(), graph.offsets.size() * sizeof(int64_t));
  return fnv1a(h, graph.edges.data(), graph.edges.size() * sizeof(int32_t));
}

void PackedIndex::save(const std::string& path, uint64_t key) const {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
    if (!o) throw IoError(tmp + ": cannot write");
    o.write(kPackedMagic, sizeof kPackedMagic);
    put(o, key);
    put(o, option_bits(options_));
    put(o, size_);
    put(o, dim_);
    put(o, entry_);
    write_array(o, extra_entries_);
    write_array(o, original_);
    put(o, slot_stride_);
    put_bytes(o, slots_);
    write_array(o, overflow_);
    put(o, overflow_nodes_);
    put(o, static_cast<int32_t>(stored_));
    put_bytes(o, vectors_);
    put_bytes(o, codes_);
    put(o, quantizer_.offset);
    put(o, quantizer_.step);
    put(o, quantizer_.lossless);
    put_bytes(o, bounds_);
    write_array(o, overflow_bounds_);
    put(o, bound_step_);
    if (!o.flush()) throw IoError(tmp + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw IoError(path + ": cannot rename " + tmp + " onto it");
  }
}

std::unique_ptr<PackedIndex> PackedIndex::load(const std::string& path, uint64_t key,
                                               const PackOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return nullptr;
  char magic[sizeof kPackedMagic];
  const bool read = static_cast<bool>(in.read(magic, sizeof magic));
  if (read && (std::memcmp(magic, kPackedMagicV1, sizeof magic) == 0 ||
               std::memcmp(magic, kPackedMagicV2, sizeof magic) == 0))
    return nullptr;
  if (!read || std::memcmp(magic, kPackedMagic, sizeof magic) != 0)
    throw IoError(path + ": not a packed index (bad magic)");
  uint64_t saved_key = 0;
  uint32_t bits = 0;
  get(in, saved_key, path);
  get(in, bits, path);
  if (saved_key != key || bits != option_bits(options)) return nullptr;
  std::unique_ptr<PackedIndex> p(new PackedIndex());
  p->options_ = options;
  get(in, p->size_, path);
  get(in, p->dim_, path);
  get(in, p->entry_, path);
  read_array(in, p->extra_entries_, path, "packed");
  read_array(in, p->original_, path, "packed");
  get(in, p->slot_stride_, path);
  p->slots_ = get_bytes(in, options.huge_pages, path);
  read_array(in, p->overflow_, path, "packed");
  get(in, p->overflow_nodes_, path);
  int32_t stored = 0;
  get(in, stored, path);
  p->stored_ = static_cast<RerankVectors>(stored);
  const bool half = p->stored_ != RerankVectors::kFloat32;
  const uint64_t component_bytes = half ? 2 : sizeof(float);
  p->vectors_ = get_bytes(in, options.huge_pages, path);
  p->codes_ = get_bytes(in, options.huge_pages, path);
  get(in, p->quantizer_.offset, path);
  get(in, p->quantizer_.step, path);
  get(in, p->quantizer_.lossless, path);
  p->bounds_ = get_bytes(in, options.huge_pages, path);
  read_array(in, p->overflow_bounds_, path, "packed");
  get(in, p->bound_step_, path);
  // The arrays must fit the shape they claim, or a search would read past them.
  const auto n = static_cast<uint64_t>(p->size_);
  const bool fits =
      p->size_ >= 0 && p->dim_ > 0 && p->slot_stride_ > 1 &&
      static_cast<int64_t>(p->original_.size()) == p->size_ &&
      p->slots_.size() == n * p->slot_stride_ * sizeof(int32_t) &&
      (p->codes_.size() == 0 || p->codes_.size() == n * p->dim_) && stored >= 0 &&
      stored <= static_cast<int32_t>(RerankVectors::kHalfResidual) &&
      (!half || (p->stored_ == options.rerank_vectors && options.codes)) &&
      // Residuals are read together with the codes.
      (p->stored_ != RerankVectors::kHalfResidual || p->codes_.size() == n * p->dim_) &&
      (p->vectors_.size() == 0 || p->vectors_.size() == n * p->dim_ * component_bytes) &&
      (p->size_ == 0 || (p->entry_ >= 0 && p->entry_ < p->size_)) &&
      p->bounds_.size() == (options.edge_bounds ? n * p->slot_stride_ : 0) &&
      p->overflow_bounds_.size() == (options.edge_bounds ? p->overflow_.size() : 0) &&
      (!options.edge_bounds || p->bound_step_ > 0) && in.peek() == EOF;
  if (!fits) throw IoError(path + ": corrupt packed index (sizes do not match its shape)");
  auto in_range = [&](int64_t v) { return v >= 0 && v < p->size_; };
  bool ok = std::all_of(p->extra_entries_.begin(), p->extra_entries_.end(), in_range);
  for (int64_t u = 0; ok && u < p->size_; ++u) {
    const int32_t* slot = p->slots() + u * p->slot_stride_;
    const int64_t degree = slot[0];
    const int32_t* list = slot + 1;
    if (degree > p->slot_stride_ - 1) {
      ok = slot[1] >= 0 && static_cast<uint64_t>(slot[1]) + degree <= p->overflow_.size();
      list = ok ? p->overflow_.data() + slot[1] : nullptr;
    }
    ok = ok && degree >= 0 && std::all_of(list, list + degree, in_range);
  }
  if (!ok) throw IoError(path + ": corrupt packed index (a node id out of range)");
  return p;
}

std::size_t PackedIndex::bytes() const {
  return slots_.size() + overflow_.size() * sizeof(int32_t) + vectors_.size() + codes_.size() +
         original_.size() * sizeof(int32_t) + bounds_.size() + overflow_bounds_.size();
}

}  // namespace tessel::ann
