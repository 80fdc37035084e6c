// Class-grouped (or packed) page layout of a step's tensors and its migration units.
#include "sim/sentinel/allocator.h"

#include <algorithm>
#include <map>
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
  // Arenas in first-appearance order; each starts on a fresh page.
  std::map<int, std::vector<uint32_t>> arenas;
  for (uint32_t i = 0; i < n; ++i) arenas[o.group ? tensor_class(p.tensors[i], o) : 0].push_back(i);
  int64_t cursor = 0;
  for (auto& [cls, members] : arenas) {
    cursor = (cursor + o.page_bytes - 1) / o.page_bytes * o.page_bytes;
    for (uint32_t i : members) {
      cursor = (cursor + o.alignment - 1) / o.alignment * o.alignment;
      l.offset[i] = cursor;
      cursor += p.tensors[i].bytes;
    }
  }
  l.pages = (cursor + o.page_bytes - 1) / o.page_bytes;

  // Tensors sorted by offset; consecutive ones sharing a page join one unit.
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return l.offset[a] < l.offset[b]; });
  l.unit_of.assign(n, 0);
  int64_t unit_last_page = -1;
  for (uint32_t i : order) {
    const TensorInfo& t = p.tensors[i];
    const int64_t first = l.offset[i] / o.page_bytes;
    const int64_t last = (l.offset[i] + t.bytes - 1) / o.page_bytes;
    if (l.units.empty() || first > unit_last_page) {
      l.units.emplace_back();
      l.units.back().first_page = first;
      l.units.back().short_lived = true;
    }
    Unit& u = l.units.back();
    unit_last_page = std::max(unit_last_page, last);
    u.pages = unit_last_page - u.first_page + 1;
    u.tensors.push_back(i);
    l.unit_of[i] = static_cast<uint32_t>(l.units.size() - 1);
    if (t.persistent) {
      u.persistent = true;
    } else {
      u.alloc = u.alloc < 0 ? t.alloc : std::min(u.alloc, t.alloc);
      u.free = std::max(u.free, t.free);
    }
    if (lifetime_class(t, o) != Lifetime::kShort) u.short_lived = false;
  }
  for (Unit& u : l.units) {
    for (uint32_t i : u.tensors)
      u.uses.insert(u.uses.end(), p.tensors[i].uses.begin(), p.tensors[i].uses.end());
    std::sort(u.uses.begin(), u.uses.end());
    u.uses.erase(std::unique(u.uses.begin(), u.uses.end()), u.uses.end());
    if (u.persistent) u.alloc = u.free = -1;
  }
  return l;
}

}  // namespace tessel::sentinel
