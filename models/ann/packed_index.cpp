// Renumbering, code arrays and huge-page buffers of PackedIndex.
#include "models/ann/packed_index.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>

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
  const int64_t n = graph.size();
  std::vector<int32_t> order;
  order.reserve(static_cast<std::size_t>(n));
  std::vector<char> placed(static_cast<std::size_t>(n), 0);
  auto grow_from = [&](int32_t root) {
    if (placed[root]) return;
    placed[root] = 1;
    std::size_t head = order.size();
    order.push_back(root);
    for (; head < order.size(); ++head) {
      const int32_t u = order[head];
      for (int j = 0; j < graph.degree(u); ++j) {
        const int32_t v = graph.neighbours(u)[j];
        if (!placed[v]) placed[v] = 1, order.push_back(v);
      }
    }
  };
  if (n > 0) grow_from(graph.entry);
  for (int32_t e : graph.extra_entries) grow_from(e);
  for (int64_t i = 0; i < n; ++i) grow_from(static_cast<int32_t>(i));
  return order;
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
  // Slot width: whole 64-byte lines, enough for the degree and the list of 99% of the nodes
  // (of every node without overflow). NSG's repair edges give a few nodes degrees far above
  // the mean (139 against 16.4 on the 200k mixture), which sized every slot before.
  int cover = graph.max_degree();
  if (options.overflow && n > 0) {
    std::vector<int> degrees(static_cast<std::size_t>(n));
    for (int64_t u = 0; u < n; ++u) degrees[u] = graph.degree(static_cast<int32_t>(u));
    auto at = degrees.begin() + (n - 1) * 99 / 100;
    std::nth_element(degrees.begin(), at, degrees.end());
    cover = *at;
  }
  slot_stride_ = (1 + std::max(cover, 1) + 15) / 16 * 16;
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
  if (!options.codes || !quantizer_.lossless) {
    const std::size_t row_bytes = static_cast<std::size_t>(dim_) * sizeof(float);
    vectors_ = AlignedBytes(row_bytes * n, options.huge_pages);
    for (int64_t p = 0; p < n; ++p)
      std::memcpy(vectors_.data() + p * row_bytes, base.row(original_[p]), row_bytes);
  }
}

std::size_t PackedIndex::bytes() const {
  return slots_.size() + overflow_.size() * sizeof(int32_t) + vectors_.size() + codes_.size() +
         original_.size() * sizeof(int32_t);
}

}  // namespace tessel::ann
