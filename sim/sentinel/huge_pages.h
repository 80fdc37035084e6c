// A transparent-huge-page hint for the planner's large arrays. Planning a 1M-event step
// writes ~250 MB of fresh memory (profile, plan); at 4 KiB pages the first-touch faults
// cost ~3 ms/MB on the 2-core VM (docs/sentinel.md), more than the planning itself.
// MADV_HUGEPAGE lets the kernel back the array with 2 MiB pages where THP is enabled
// ("madvise" or "always"); elsewhere, and off Linux, it is a no-op. Results do not change.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace tessel::sentinel {

// Call on memory not yet written (a fresh reserve()). Hints the whole 2 MiB pages the
// block touches (a hint on a neighbour's memory only changes its page size). The first one
// usually holds something already written (malloc's header, a neighbour), which would
// leave it in 511 faulting 4 KiB pages: it is collapsed into a huge page now (Linux 6.1+;
// elsewhere the call fails and nothing changes).
inline void huge_pages(void* data, size_t bytes) {
#ifdef __linux__
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  if (bytes < kHuge) return;  // below one huge page: not worth a system call
  const auto b = reinterpret_cast<uintptr_t>(data);
  const uintptr_t lo = b & ~(kHuge - 1), hi = (b + bytes + kHuge - 1) & ~(kHuge - 1);
  madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
  constexpr int kCollapse = 25;  // MADV_COLLAPSE, missing from older headers
  if (lo < b) madvise(reinterpret_cast<void*>(lo), kHuge, kCollapse);
#else
  (void)data;
  (void)bytes;
#endif
}

// Call after v.reserve(), before the elements are written.
template <typename T>
void huge_pages(std::vector<T>& v) {
  huge_pages(v.data(), v.capacity() * sizeof(T));
}

// A size to ask malloc for at least `bytes`, so that a large block lies on whole huge
// pages: glibc serves it by mmap behind a 16-byte header (32 allowed for), rounded up to 4 KiB, and
// Linux places anonymous mappings whose length is a multiple of 2 MiB on a 2 MiB boundary. An
// unaligned block would leave up to 2 MiB at each end in 4 KiB pages (~6 ms of faults).
inline size_t huge_size(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20, kHeader = 32;
  if (bytes < kHuge) return bytes;
  return (bytes + kHeader + kHuge - 1) / kHuge * kHuge - kHeader;
}

// v.reserve(n), rounded up to whole huge pages and hinted (v must be empty).
template <typename T>
void huge_reserve(std::vector<T>& v, size_t n) {
  v.reserve(std::max(n, huge_size(n * sizeof(T)) / sizeof(T)));
  huge_pages(v);
}

// An allocator for large scratch arrays: what huge_reserve does for a vector, on every
// allocation (a growing vector's too). The blocks stay malloc's: an allocator of its own
// (mmap) made the profile faster alone but left the planner that runs next a colder heap,
// and the two together slower.
template <typename T>
struct HugeAllocator {
  using value_type = T;
  HugeAllocator() = default;
  template <typename U>
  HugeAllocator(const HugeAllocator<U>&) {}
  static size_t rounded(size_t n) {
    const size_t bytes = n * sizeof(T);
    return bytes < (size_t{2} << 20) ? n : std::max(n, huge_size(bytes) / sizeof(T));
  }
  T* allocate(size_t n) {
    T* p = std::allocator<T>().allocate(rounded(n));
    huge_pages(p, rounded(n) * sizeof(T));
    return p;
  }
  void deallocate(T* p, size_t n) { std::allocator<T>().deallocate(p, rounded(n)); }
  friend bool operator==(const HugeAllocator&, const HugeAllocator&) { return true; }
  friend bool operator!=(const HugeAllocator&, const HugeAllocator&) { return false; }
};
template <typename T>
using HugeVector = std::vector<T, HugeAllocator<T>>;

}  // namespace tessel::sentinel
