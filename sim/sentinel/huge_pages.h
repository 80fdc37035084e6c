// A transparent-huge-page hint for the planner's large arrays. Planning a 1M-event step
// writes ~250 MB of fresh memory (profile, plan); at 4 KiB pages the first-touch faults
// cost ~3 ms/MB on the 2-core VM (docs/sentinel.md), more than the planning itself.
// MADV_HUGEPAGE lets the kernel back the array with 2 MiB pages where THP is enabled
// ("madvise" or "always"); elsewhere, and off Linux, it is a no-op. Results do not change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace tessel::sentinel {

// Call after v.reserve(), before the elements are written.
template <typename T>
void huge_pages(std::vector<T>& v) {
#ifdef __linux__
  const size_t bytes = v.capacity() * sizeof(T);
  if (bytes < (size_t{4} << 20)) return;  // small arrays: not worth a system call
  const auto b = reinterpret_cast<uintptr_t>(v.data());
  const uintptr_t lo = (b + 4095) & ~uintptr_t{4095}, hi = (b + bytes) & ~uintptr_t{4095};
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
#else
  (void)v;
#endif
}

}  // namespace tessel::sentinel
