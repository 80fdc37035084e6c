// The on-DIMM buffer of an Optane-like NVM (XPBuffer): a few 256 B lines that serve reads
// of recent lines and combine 64 B stores into whole lines, with random replacement.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tessel::memory {

class NvmXpBuffer {
 public:
  struct Line {
    uint64_t line = 0;
    uint64_t dirty = 0;  // 64 B pieces written and not yet on the media, one bit each
    bool whole = false;  // holds the line's old contents (read, or written back whole)
    double ready = 0;    // when its contents are in the buffer, ns
  };

  NvmXpBuffer(size_t lines, uint64_t seed);

  // The buffered line, or nullptr.
  Line* find(uint64_t line) {
    for (size_t h = hash(line);; h = (h + 1) & mask_) {
      if (index_[h].slot == kEmpty) return nullptr;
      if (index_[h].line == line) return &slots_[index_[h].slot];
    }
  }
  // Makes room for `line` and returns its (empty) slot. When the buffer is full a random
  // line leaves it; `victim` receives a copy of it (dirty = 0 when nothing needs writing).
  Line& insert(uint64_t line, Line& victim);
  std::vector<Line>& lines() { return slots_; }

 private:
  static constexpr uint32_t kEmpty = ~0u;
  size_t hash(uint64_t line) const { return (line * 0x9E3779B97F4A7C15ull >> 20) & mask_; }
  void erase(uint64_t line);

  std::vector<Line> slots_;
  size_t capacity_;
  // Line → slot, open addressing with linear probing (a node-based map costs more than
  // the rest of a request's simulation).
  struct Entry {
    uint64_t line;
    uint32_t slot;
  };
  std::vector<Entry> index_;
  size_t mask_;
  uint64_t rng_;
};

}  // namespace tessel::memory
