// FTL: unit mapping, write buffer with read-modify-write, superblocks with dynamic die
// allocation, greedy GC with valid-count buckets (O(1) victim choice: a GC costs what it
// moves), paced rewrites.
#include "sim/memory/ftl.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "sim/memory/memory_keys.h"

namespace tessel::memory {

namespace {

// Fills `v` with n copies of `value` in memory the kernel may back with 2 MiB pages: the
// mapping tables are touched at random, and 4 KiB pages cost a TLB miss and a page fault
// per access to a new page.
void assign_large(std::vector<uint32_t>& v, size_t n, uint32_t value) {
  v.reserve(n);
#ifdef MADV_HUGEPAGE
  constexpr uintptr_t kHuge = 2u << 20;
  const uintptr_t a = (reinterpret_cast<uintptr_t>(v.data()) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t e = reinterpret_cast<uintptr_t>(v.data() + n) & ~(kHuge - 1);
  if (e > a) madvise(reinterpret_cast<void*>(a), e - a, MADV_HUGEPAGE);
#endif
  v.assign(n, value);
}

struct Layout {
  int64_t group_planes = 1, groups = 0;
  uint64_t units_per_block = 0, blocks = 0;
};

// Block groups and how many blocks: the physical space rounded up to whole group blocks,
// and at least two superblocks beyond the logical space and the GC reserve (the open one
// and one worth collecting), so that a small drive can always collect.
Layout layout(const SsdParams& p) {
  Layout l;
  l.group_planes = p.multi_plane ? p.planes_per_die : 1;
  l.groups = p.channels * p.dies_per_channel * p.planes_per_die / l.group_planes;
  const uint64_t unit = p.unit_bytes();
  l.units_per_block = p.page_bytes / unit * static_cast<uint64_t>(l.group_planes) *
                      static_cast<uint64_t>(p.pages_per_block);
  const double block_bytes = static_cast<double>(l.units_per_block * unit);
  const uint64_t groups = static_cast<uint64_t>(l.groups);
  const uint64_t physical = static_cast<uint64_t>(
      std::ceil(static_cast<double>(p.logical_bytes) * (1.0 + p.overprovisioning) / block_bytes));
  const uint64_t per_superblock = l.units_per_block * groups;
  const uint64_t logical = (p.logical_bytes / unit + per_superblock - 1) / per_superblock;
  l.blocks = std::max(physical, (logical + 2 + static_cast<uint64_t>(p.gc_reserve)) * groups);
  return l;
}

}  // namespace

FlashGeometry SsdParams::geometry() const {
  FlashGeometry g;
  g.channels = channels;
  g.dies_per_channel = dies_per_channel;
  g.planes_per_die = planes_per_die;
  g.pages_per_block = pages_per_block;
  g.page_bytes = page_bytes;
  g.read_us = read_us;
  g.program_us = program_us;
  g.erase_us = erase_us;
  g.channel_mbps = channel_mbps;
  g.multi_plane = multi_plane;
  return g;
}

SsdParams read_ssd_params(const Config& ssd) {
  // Ranges (memory_keys.cpp): beyond today's drives; the unit maps stay 32-bit.
  const Keyed c(ssd_keys(), ssd);
  SsdParams p;
  p.logical_bytes = static_cast<uint64_t>(c.number("capacity_gib") * (1ull << 30));
  p.overprovisioning = c.number("overprovisioning");
  p.channels = c.integer("channels");
  p.dies_per_channel = c.integer("dies_per_channel");
  p.planes_per_die = c.integer("planes_per_die");
  p.page_bytes = static_cast<uint64_t>(c.integer("page_bytes"));
  p.pages_per_block = c.integer("pages_per_block");
  p.sector_bytes = static_cast<uint64_t>(c.integer("sector_bytes"));
  if (p.page_bytes % p.sector_bytes) c.fail("page_bytes", "must be a multiple of sector_bytes");
  p.page_mapping = c.choice("mapping") == "page";
  p.multi_plane = c.flag("multi_plane");
  p.read_us = c.number("read_us");
  p.program_us = c.number("program_us");
  p.erase_us = c.number("erase_us");
  p.channel_mbps = c.number("channel_mbps");
  p.firmware_us = c.number("firmware_us");
  // Host defaults (docs/memory.md, "SSD"): submission 1 µs, completion 1 µs polled or 5 µs
  // through an interrupt.
  p.host_submit_us = c.number("host_submit_us");
  p.polling = c.choice("completion") == "polling";
  p.host_poll_us = c.number("host_poll_us");
  p.host_interrupt_us = c.number("host_interrupt_us");
  p.write_buffer_pages = c.integer("write_buffer_pages");
  p.queue_depth = c.integer("queue_depth");
  p.gc_reserve = c.integer("gc_reserve_superblocks");
  p.prefill = c.number("prefill");
  if (p.logical_bytes / p.unit_bytes() >= (1ull << 31))
    c.fail("capacity_gib", "too large for 32-bit unit mapping");
  const Layout l = layout(p);
  if (l.blocks * l.units_per_block >= 0xFFFFFFFEull)
    c.fail("capacity_gib", "physical space too large for 32-bit unit mapping");
  const Keyed e = c.child("energy");
  // NAND array energy = VCC · ICC · operation time (ICC1/ICC2/ICC3 of ONFI datasheets).
  const double vcc = e.number("vcc");
  const double icc = e.number("icc_ma");
  e.text("source");                         // required: every energy figure is cited
  p.read_pj = vcc * icc * p.read_us * 1e3;  // V · mA · µs = nJ → pJ
  p.program_pj = vcc * icc * p.program_us * 1e3;
  p.erase_pj = vcc * icc * p.erase_us * 1e3;
  return p;
}

Ftl::Ftl(const SsdParams& p) : p_(p), flash_(p.geometry()) {
  const Layout l = layout(p);
  unit_bytes_ = p.unit_bytes();
  logical_units_ = p.logical_bytes / unit_bytes_;
  group_planes_ = l.group_planes;
  groups_ = l.groups;
  units_per_page_ = p.page_bytes / unit_bytes_;
  units_per_group_page_ = units_per_page_ * static_cast<uint64_t>(group_planes_);
  units_per_block_ = l.units_per_block;
  blocks_ = l.blocks;
  const uint64_t groups = static_cast<uint64_t>(groups_);
  superblocks_ = (blocks_ + groups - 1) / groups;
  assign_large(l2p_, logical_units_, kUnmapped);
  assign_large(p2l_, blocks_ * units_per_block_, kUnmapped);
  written_.assign(blocks_, 0);
  erased_at_.assign(blocks_, 0.0);
  valid_.assign(superblocks_, 0);
  closed_.assign(superblocks_, 0);
  for (uint64_t k = superblocks_; k-- > 0;) {
    free_.push_back(static_cast<uint32_t>(k));
    valid_[k] = missing(k);
  }
  // One bucket per valid count up to 65536 buckets; beyond, a bucket spans 2^shift counts
  // and the victim is the head of the lowest non-empty bucket.
  while ((units_per_superblock() >> bucket_shift_) + 1 > 65536) ++bucket_shift_;
  head_.assign((units_per_superblock() >> bucket_shift_) + 1, kNone);
  next_.assign(superblocks_, kNone);
  prev_.assign(superblocks_, kNone);
  min_bucket_ = static_cast<uint32_t>(head_.size());
  slots_.assign(static_cast<size_t>(std::max<int64_t>(1, p.write_buffer_pages / group_planes_)),
                0.0);
  gc_limit_ = std::max<uint64_t>(static_cast<uint64_t>(p.write_buffer_pages) * units_per_page_,
                                 units_per_group_page_);
}

double Ftl::write_amplification() const {
  if (stats_.host_bytes_written == 0) return 0;
  return static_cast<double>(flash_.stats().page_programs) * static_cast<double>(p_.page_bytes) /
         static_cast<double>(stats_.host_bytes_written);
}

void Ftl::bucket_insert(uint32_t k) {
  const uint32_t b = valid_[k] >> bucket_shift_;
  uint32_t& h = head_[b];
  next_[k] = h;
  prev_[k] = kNone;
  if (h != kNone) prev_[h] = k;
  h = k;
  min_bucket_ = std::min(min_bucket_, b);
}

void Ftl::bucket_remove(uint32_t k) {
  if (prev_[k] != kNone)
    next_[prev_[k]] = next_[k];
  else
    head_[valid_[k] >> bucket_shift_] = next_[k];
  if (next_[k] != kNone) prev_[next_[k]] = prev_[k];
}

void Ftl::invalidate(uint64_t u) {
  const uint32_t phys = l2p_[u];
  if (phys == kUnmapped || phys == kBuffered) return;
  const uint32_t k =
      static_cast<uint32_t>(phys / units_per_block_ / static_cast<uint64_t>(groups_));
  p2l_[phys] = kUnmapped;
  l2p_[u] = kUnmapped;
  const bool moves =
      closed_[k] && ((valid_[k] - 1) >> bucket_shift_) != (valid_[k] >> bucket_shift_);
  if (moves) bucket_remove(k);
  --valid_[k];
  if (moves) bucket_insert(k);
}

bool Ftl::start_gc(double t) {
  // Greedy: the closed superblock with the fewest valid units.
  uint32_t bucket = min_bucket_;
  while (bucket < head_.size() && head_[bucket] == kNone) ++bucket;
  min_bucket_ = bucket;
  if (bucket == head_.size()) return false;  // nothing closed: nothing to collect
  victim_ = head_[bucket];
  bucket_remove(static_cast<uint32_t>(victim_));
  closed_[static_cast<size_t>(victim_)] = 0;
  victim_page_ = 0;
  die_cursor_.assign(static_cast<size_t>(groups_), t);
  out_.assign(static_cast<size_t>(groups_), t);
  bus_cursor_.assign(static_cast<size_t>(p_.channels), t);
  ++stats_.gc_runs;
  return true;
}

void Ftl::gc_step(bool timed, double t) {
  // One page of every block of the victim: its valid units move to the controller (the
  // dies read in parallel; moves of dies on one bus interleave) and are rewritten through
  // the GC stream. Units overwritten before their page's turn are not moved.
  const uint64_t k = static_cast<uint64_t>(victim_);
  const uint64_t ppb = static_cast<uint64_t>(p_.pages_per_block);
  const uint64_t pg = victim_page_++;
  const size_t first = gc_.units.size();
  for (int64_t g = 0; g < groups_; ++g) {
    if (!has_block(g, k)) continue;
    const uint64_t b = static_cast<uint64_t>(g) + static_cast<uint64_t>(groups_) * k;
    const uint64_t at = (b * ppb + pg) * units_per_group_page_;
    const size_t before = gc_.units.size();
    for (uint64_t s = 0; s < units_per_group_page_; ++s) {
      const uint32_t u = p2l_[at + s];
      if (u == kUnmapped) continue;
      p2l_[at + s] = kUnmapped;
      l2p_[u] = kBuffered;
      gc_.units.push_back(u);
    }
    const size_t n = gc_.units.size() - before;
    if (n == 0 || !timed) continue;
    const size_t gi = static_cast<size_t>(g);
    const int64_t bus = flash_.channel_of_die(flash_.die_of_plane(first_plane(g)));
    const double ready = flash_.read_out(first_plane(g), group_planes_, static_cast<uint32_t>(k),
                                         static_cast<uint32_t>(pg), n * unit_bytes_,
                                         die_cursor_[gi], bus_cursor_[static_cast<size_t>(bus)]);
    gc_.ready.resize(gc_.units.size(), std::max(ready, t));
    out_[gi] = std::max(out_[gi], ready);
  }
  gc_.ready.resize(gc_.units.size(), t);
  valid_[k] -= static_cast<uint32_t>(gc_.units.size() - first);
  stats_.gc_moved_units += gc_.units.size() - first;
  if (victim_page_ < ppb) return;
  // All moved: each block is erased once its data is out, and takes programs from then on
  // (a writer that needs it waits for GC through this).
  for (int64_t g = 0; g < groups_; ++g) {
    if (!has_block(g, k)) continue;
    const uint64_t b = static_cast<uint64_t>(g) + static_cast<uint64_t>(groups_) * k;
    if (timed)
      erased_at_[b] = flash_.erase(first_plane(g), group_planes_, static_cast<uint32_t>(k),
                                   out_[static_cast<size_t>(g)]);
    written_[b] = 0;
  }
  valid_[k] = missing(k);
  free_.push_back(static_cast<uint32_t>(k));
  victim_ = -1;
}

void Ftl::open_superblock(bool timed, double t) {
  if (open_ >= 0) {
    closed_[static_cast<size_t>(open_)] = 1;
    bucket_insert(static_cast<uint32_t>(open_));
  }
  // Normally the victim was emptied while this superblock filled; finish it if not.
  while (free_.empty() && (victim_ >= 0 || start_gc(t))) gc_step(timed, t);
  // The layout keeps two superblocks beyond the logical space and the reserve, so a
  // superblock worth collecting always exists.
  if (free_.empty()) throw std::logic_error("ftl: no free superblock");
  open_ = free_.back();
  free_.pop_back();
  open_pages_ = 0;
  for (int64_t g = 0; g < groups_; ++g)
    if (has_block(g, static_cast<uint64_t>(open_))) open_pages_ += p_.pages_per_block;
  open_pages_left_ = open_pages_;
  // Collect the next victim while this one fills, keeping `gc_reserve` free beyond it.
  if (victim_ < 0 && static_cast<int64_t>(free_.size()) <= p_.gc_reserve) start_gc(t);
}

int64_t Ftl::choose_group(bool timed) {
  // Groups in stripe order: consecutive dies alternate channels, then the groups of a die.
  const uint64_t dies = static_cast<uint64_t>(p_.channels * p_.dies_per_channel);
  const uint64_t per_die = static_cast<uint64_t>(groups_) / dies;
  const uint64_t k = static_cast<uint64_t>(open_);
  // Dynamic allocation within the superblock: of the next few groups with room in stripe
  // order, the page goes to the one whose die is free first (a die busy with GC reads or
  // a backlog is passed over). Four choices balance the dies about as well as all would.
  int64_t best = -1, seen = 0;
  double best_t = 0;
  for (uint64_t i = 0; i < static_cast<uint64_t>(groups_) && seen < 4; ++i) {
    const uint64_t j = round_robin_++;
    const int64_t g = static_cast<int64_t>((j % dies) * per_die + (j / dies) % per_die);
    if (!has_block(g, k) ||
        written_[static_cast<uint64_t>(g) + static_cast<uint64_t>(groups_) * k] ==
            static_cast<uint32_t>(p_.pages_per_block))
      continue;
    if (!timed) return g;  // prefill: plain striping
    ++seen;
    const double at = flash_.free_at(flash_.die_of_plane(first_plane(g)));
    if (best < 0 || at < best_t) {
      best = g;
      best_t = at;
    }
  }
  return best;
}

double Ftl::program_page(Stream& s, bool timed, double t) {
  if (open_ < 0 || open_pages_left_ == 0) open_superblock(timed, t);
  const int64_t g = choose_group(timed);
  const uint64_t k = static_cast<uint64_t>(open_);
  const uint64_t b = static_cast<uint64_t>(g) + static_cast<uint64_t>(groups_) * k;
  const uint32_t pg = written_[b]++;
  --open_pages_left_;
  const uint64_t at = (b * static_cast<uint64_t>(p_.pages_per_block) + pg) * units_per_group_page_;
  double ready = timed ? std::max(t, erased_at_[b]) : t;
  for (uint64_t i = 0; i < units_per_group_page_; ++i) {
    const uint32_t u = s.units[s.head + i];
    ready = std::max(ready, s.ready[s.head + i]);
    l2p_[u] = static_cast<uint32_t>(at + i);
    p2l_[at + i] = u;
  }
  s.head += units_per_group_page_;
  valid_[k] += static_cast<uint32_t>(units_per_group_page_);
  // Pace GC: the victim's pages move in step with this superblock's filling, so that it
  // is empty (and erased) when this one is full.
  if (victim_ >= 0) {
    const uint64_t filled = open_pages_ - open_pages_left_;
    const uint64_t due =
        (filled * static_cast<uint64_t>(p_.pages_per_block) + open_pages_ - 1) / open_pages_;
    while (victim_ >= 0 && victim_page_ < due) gc_step(timed, t);
  }
  if (!timed) return ready;
  return flash_.program(first_plane(g), group_planes_, static_cast<uint32_t>(k), pg, ready);
}

void Ftl::drain(bool timed, double t) {
  auto gc_ready = [&] {
    if (gc_.size() < units_per_group_page_) return false;
    if (!timed) return true;
    // Moved data is programmed once it is in the controller: booking programs at future
    // times would leave holes in the die calendars that no program fits.
    const auto begin = gc_.ready.begin() + static_cast<long>(gc_.head);
    return *std::max_element(begin, begin + static_cast<long>(units_per_group_page_)) <= t;
  };
  for (;;) {
    if (gc_ready()) {
      program_page(gc_, timed, t);
    } else if (host_.size() >= units_per_group_page_) {
      const double done = program_page(host_, timed, t);
      if (timed) {
        slots_[slot_head_] = done;
        slot_head_ = (slot_head_ + 1) % slots_.size();
      }
    } else {
      break;
    }
  }
  for (Stream* s : {&host_, &gc_}) {
    if (s->head > 4096 && 2 * s->head > s->units.size()) {
      s->units.erase(s->units.begin(), s->units.begin() + static_cast<long>(s->head));
      s->ready.erase(s->ready.begin(), s->ready.begin() + static_cast<long>(s->head));
      s->head = 0;
    }
  }
}

void Ftl::prefill(double fraction) {
  const uint64_t n = static_cast<uint64_t>(static_cast<double>(logical_units_) * fraction);
  for (uint64_t u = 0; u < n; ++u) {
    l2p_[u] = kBuffered;
    host_.units.push_back(static_cast<uint32_t>(u));
    host_.ready.push_back(0);
    if (host_.size() == units_per_group_page_) drain(false, 0);
  }
  stats_ = Stats{};
}

double Ftl::read(uint64_t u, uint64_t bytes, double t) {
  const uint32_t phys = l2p_[u];
  if (phys == kBuffered) {
    ++stats_.buffer_hits;
    return t;
  }
  if (phys == kUnmapped) return t;
  const uint64_t b = phys / units_per_block_;
  const uint64_t gpage = phys / units_per_group_page_;  // block · ppb + page
  const uint64_t slot = phys % units_per_group_page_;
  const int64_t g = static_cast<int64_t>(b % static_cast<uint64_t>(groups_));
  const int64_t plane = first_plane(g) + static_cast<int64_t>(slot / units_per_page_);
  // Whole sectors cross the channel (ECC codewords), at most the unit.
  const uint64_t xfer =
      std::min(unit_bytes_, (bytes + p_.sector_bytes - 1) / p_.sector_bytes * p_.sector_bytes);
  return flash_.read(plane, static_cast<uint32_t>(b / static_cast<uint64_t>(groups_)),
                     static_cast<uint32_t>(gpage % static_cast<uint64_t>(p_.pages_per_block)),
                     gpage * static_cast<uint64_t>(group_planes_) + slot / units_per_page_, xfer,
                     t);
}

double Ftl::write(uint64_t u, uint64_t bytes, double t) {
  stats_.host_bytes_written += bytes;
  if (l2p_[u] == kBuffered) {  // merged into the copy waiting in the controller
    ++stats_.buffer_hits;
    return t;
  }
  double ack = std::max(t, slots_[slot_head_]);
  if (gc_.size() > gc_limit_) {
    // GC data beyond the controller's buffer: the write waits until enough of it is in
    // the controller to be rewritten (GC throttles the host).
    ack = std::max(ack, gc_.ready[gc_.head + (gc_.size() - gc_limit_) - 1]);
    drain(true, ack);
    if (l2p_[u] == kBuffered) return ack;  // GC just moved it into the controller
  }
  double ready = ack;
  if (bytes < unit_bytes_ && l2p_[u] != kUnmapped) {
    // Part of a unit: the rest comes from flash before the unit can be rewritten.
    ready = read(u, unit_bytes_, ack);
    ++stats_.rmw_reads;
  }
  invalidate(u);
  l2p_[u] = kBuffered;
  host_.units.push_back(static_cast<uint32_t>(u));
  host_.ready.push_back(ready);
  if (host_.size() >= units_per_group_page_) drain(true, ack);
  return ack;
}

}  // namespace tessel::memory
