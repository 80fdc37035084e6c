// Sentinel's allocator: lays tensors out in pages, grouped by lifetime and hotness class
// (no page mixes classes) or packed in allocation order, and merges tensors that share a
// page into migration units.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/sentinel/tensor_profile.h"

namespace tessel::sentinel {

struct LayoutOptions {
  int64_t page_bytes = 4096;
  int64_t alignment = 512;  // every tensor starts at a multiple (PyTorch's caching allocator)
  bool group = true;        // one arena per class
  int short_intervals = 2;  // transient tensors living at most this many intervals are short
  int hot_accesses = 3;     // accesses per step from which a tensor is hot
};

enum class Lifetime : int { kShort = 0, kLong = 1, kPersistent = 2 };

// A tensor's class: its lifetime class and whether it is hot.
int tensor_class(const TensorInfo& t, const LayoutOptions& o);
Lifetime lifetime_class(const TensorInfo& t, const LayoutOptions& o);

// Pages shared by tensors form one unit: the smallest thing that can move between tiers.
struct Unit {
  int64_t first_page = 0, pages = 0;
  View<uint32_t> tensors;     // ascending offsets (Layout::unit_tensors)
  bool persistent = false;    // holds a persistent tensor
  int alloc = -1, free = -1;  // transient units: first allocation, last free (intervals)
  bool short_lived = false;   // every tensor short-lived
  View<int> uses;             // union of the tensors' uses, ascending (Layout::unit_uses)
  int64_t bytes(int64_t page) const { return pages * page; }
};

struct Layout {
  LayoutOptions options;
  std::vector<int64_t> offset;    // per tensor: virtual byte offset
  std::vector<uint32_t> unit_of;  // per tensor
  std::vector<Unit> units;
  int64_t pages = 0;
  // What the units' views point into. A unit of one tensor shares its uses with the
  // profile, whose storage the layout keeps alive.
  std::shared_ptr<const std::vector<uint32_t>> unit_tensors;
  std::shared_ptr<const std::vector<int>> unit_uses, profile_uses;
};

Layout build_layout(const Profile& p, const LayoutOptions& o);

}  // namespace tessel::sentinel
