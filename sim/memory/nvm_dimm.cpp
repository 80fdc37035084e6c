// Optane-like DIMM: buffer hits, write combining, read-modify-write of partial lines, and
// one media scheduler shared by reads and writes.
#include "sim/memory/nvm_dimm.h"

#include <algorithm>

namespace tessel::memory {

NvmDimm::NvmDimm(const NvmParams& p, uint64_t seed)
    : p_(p),
      buffer_(static_cast<size_t>(p.buffer_lines), seed),
      read_ns_(static_cast<double>(p.line_bytes) / p.read_gbps),
      write_ns_(static_cast<double>(p.line_bytes) / p.write_gbps),
      full_(p.line_bytes / 64 == 64 ? ~0ull : (1ull << (p.line_bytes / 64)) - 1) {}

double NvmDimm::write_back(const NvmXpBuffer::Line& l, double t) {
  const double start = std::max(t, media_free_);
  ++stats_.media_write_lines;
  if (!l.whole && (l.dirty & full_) != full_) {
    // The media writes whole lines: a partial line first reads the old one.
    ++stats_.rmw;
    ++stats_.media_read_lines;
    media_free_ = start + read_ns_ + write_ns_;
    return start + read_ns_;
  }
  media_free_ = start + write_ns_;
  return start;
}

NvmXpBuffer::Line& NvmDimm::insert(uint64_t line, double t, double& room) {
  NvmXpBuffer::Line victim;
  NvmXpBuffer::Line& l = buffer_.insert(line, victim);
  room = victim.dirty ? write_back(victim, t) : t;
  return l;
}

double NvmDimm::read(uint64_t line, uint64_t pieces, double t) {
  NvmXpBuffer::Line* l = buffer_.find(line);
  if (l && (l->whole || (l->dirty & pieces) == pieces)) {
    ++stats_.buffer_hits;
    // A line still on its way from the media is there no earlier than its first reader.
    return std::max(t + p_.buffer_hit_latency_ns, l->ready);
  }
  const double start = std::max(t, media_free_);
  media_free_ = start + read_ns_;
  ++stats_.media_read_lines;
  const double done = start + p_.read_latency_ns;
  double room;
  if (!l) l = &insert(line, t, room);
  l->whole = true;
  l->ready = done;
  return done;
}

double NvmDimm::write(uint64_t line, unsigned piece, double t) {
  double taken = t;
  NvmXpBuffer::Line* l = buffer_.find(line);
  if (!l) {
    l = &insert(line, t, taken);
    l->ready = t;
  }
  l->dirty |= 1ull << piece;
  if ((l->dirty & full_) == full_) {
    // A completed line goes to the media at once; the store that completed it waits for
    // the media to start (the buffer cannot hold a backlog of finished lines).
    taken = std::max(taken, write_back(*l, taken));
    l->dirty = 0;
    l->whole = true;
  }
  return taken;
}

void NvmDimm::flush() {
  for (NvmXpBuffer::Line& l : buffer_.lines())
    if (l.dirty) {
      write_back(l, media_free_);
      l.dirty = 0;
    }
}

}  // namespace tessel::memory
