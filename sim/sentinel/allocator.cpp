// Class-grouped (or packed) page layout of a step's tensors and its migration units.
#include "sim/sentinel/allocator.h"

#include "sim/sentinel/huge_pages.h"

#include <algorithm>
#include <memory>
#include <numeric>

namespace tessel::sentinel {

Lifetime lifetime_class(const TensorInfo& t, const LayoutOptions& o) {
  if (t.persistent) return Lifetime::kPersistent;
  return t.lifetime() <= o.short_intervals ? Lifetime::kShort : Lifetime::kLong;
}

int tensor_class(const TensorInfo& t, const LayoutOptions& o) {
  return 2 * static_cast<int>(lifetime_class(t, o)) + (t.accesses >= o.hot_accesses ? 1 : 0);
}

Layout build_layout(const Profile& p, const LayoutOptions& o) {
  Layout l;
  l.options = o;
  const size_t n = p.tensors.size();
  l.offset.assign(n, 0);
  // Arenas in class order, each starting on a fresh page: the tensors counting-sorted by
  // class (stable, so in profile order within a class).
  constexpr int kClasses = 6;  // tensor_class: 2 * lifetime class + hot
  std::vector<unsigned char> cls(n, 0);
  size_t at[kClasses + 1] = {};
  for (size_t i = 0; i < n; ++i) {
    cls[i] = static_cast<unsigned char>(o.group ? tensor_class(p.tensors[i], o) : 0);
    ++at[cls[i] + 1];
  }
  for (int c = 0; c < kClasses; ++c) at[c + 1] += at[c];
  auto order = std::make_shared<std::vector<uint32_t>>(n);
  for (uint32_t i = 0; i < n; ++i) (*order)[at[cls[i]]++] = i;
  int64_t cursor = 0;
  int arena = -1;
  for (uint32_t i : *order) {
    if (cls[i] != arena) {
      arena = cls[i];
      cursor = (cursor + o.page_bytes - 1) / o.page_bytes * o.page_bytes;
    }
    cursor = (cursor + o.alignment - 1) / o.alignment * o.alignment;
    l.offset[i] = cursor;
    cursor += p.tensors[i].bytes;
  }
  l.pages = (cursor + o.page_bytes - 1) / o.page_bytes;

  // `order` is by offset (every tensor has bytes > 0, so offsets strictly increase);
  // consecutive tensors sharing a page join one unit.
  l.unit_of.assign(n, 0);
  std::vector<size_t> unit_first;  // per unit: its first position in `order`
  l.units.reserve(n);              // at most one unit per tensor; untouched pages are free
  huge_pages(l.units);
  unit_first.reserve(n + 1);
  int64_t unit_last_page = -1;
  for (size_t j = 0; j < n; ++j) {
    const uint32_t i = (*order)[j];
    const TensorInfo& t = p.tensors[i];
    const int64_t first = l.offset[i] / o.page_bytes;
    const int64_t last = (l.offset[i] + t.bytes - 1) / o.page_bytes;
    if (l.units.empty() || first > unit_last_page) {
      l.units.emplace_back();
      l.units.back().first_page = first;
      l.units.back().short_lived = true;
      unit_first.push_back(j);
    }
    Unit& u = l.units.back();
    unit_last_page = std::max(unit_last_page, last);
    u.pages = unit_last_page - u.first_page + 1;
    l.unit_of[i] = static_cast<uint32_t>(l.units.size() - 1);
    if (t.persistent) {
      u.persistent = true;
    } else {
      u.alloc = u.alloc < 0 ? t.alloc : std::min(u.alloc, t.alloc);
      u.free = std::max(u.free, t.free);
    }
    if (lifetime_class(t, o) != Lifetime::kShort) u.short_lived = false;
  }
  unit_first.push_back(n);
  // A unit of one tensor reads the profile's uses; the others' unions go to one array,
  // reserved in full so the views taken while filling it stay valid.
  size_t merged = 0;
  for (size_t u = 0; u < l.units.size(); ++u)
    if (unit_first[u + 1] - unit_first[u] > 1)
      for (size_t j = unit_first[u]; j < unit_first[u + 1]; ++j)
        merged += p.tensors[(*order)[j]].uses.size();
  auto uses = std::make_shared<std::vector<int>>();
  uses->reserve(merged);
  for (size_t ui = 0; ui < l.units.size(); ++ui) {
    Unit& u = l.units[ui];
    const uint32_t* members = order->data();
    u.tensors = View<uint32_t>{members + unit_first[ui], members + unit_first[ui + 1]};
    if (u.tensors.size() == 1) {
      u.uses = p.tensors[u.tensors[0]].uses;
    } else {
      const size_t from = uses->size();
      for (uint32_t i : u.tensors)
        uses->insert(uses->end(), p.tensors[i].uses.begin(), p.tensors[i].uses.end());
      std::sort(uses->begin() + static_cast<std::ptrdiff_t>(from), uses->end());
      uses->erase(std::unique(uses->begin() + static_cast<std::ptrdiff_t>(from), uses->end()),
                  uses->end());
      u.uses = View<int>{uses->data() + from, uses->data() + uses->size()};
    }
    if (u.persistent) u.alloc = u.free = -1;
  }
  l.unit_tensors = std::move(order);
  l.unit_uses = std::move(uses);
  l.profile_uses = p.use_storage;
  return l;
}

}  // namespace tessel::sentinel
