// Page-mapped FTL: sector mapping, write buffer, striped page allocation, greedy GC.
#include "sim/memory/ftl.h"

#include <algorithm>
#include <cmath>

namespace tessel::memory {

SsdParams read_ssd_params(const Config& c) {
  SsdParams p;
  // Ranges (configs/README.md): beyond today's drives; the sector map stays 32-bit.
  p.logical_bytes =
      static_cast<uint64_t>(c.get_number_range("capacity_gib", 0.001, 65536) * (1ull << 30));
  p.overprovisioning = c.get_number_range("overprovisioning", 0.001, 1);
  p.channels = c.get_int_range("channels", 1, 64);
  p.dies_per_channel = c.get_int_range("dies_per_channel", 1, 64);
  p.planes_per_die = c.get_int_range("planes_per_die", 1, 16);
  p.page_bytes = static_cast<uint64_t>(c.get_int_range("page_bytes", 512, 65536));
  p.pages_per_block = c.get_int_range("pages_per_block", 1, 4096);
  p.sector_bytes = static_cast<uint64_t>(c.get_int_range("sector_bytes", 512, 65536, 4096));
  if (p.page_bytes % p.sector_bytes) c.fail("page_bytes", "must be a multiple of sector_bytes");
  p.read_us = c.get_number_range("read_us", 0.1, 100000);
  p.program_us = c.get_number_range("program_us", 0.1, 100000);
  p.erase_us = c.get_number_range("erase_us", 0.1, 100000);
  p.channel_mbps = c.get_number_range("channel_mbps", 1, 100000);
  p.firmware_us = c.get_number_range("firmware_us", 0.001, 10000);
  p.write_buffer_pages = c.get_int_range("write_buffer_pages", 1, 1 << 20);
  p.queue_depth = c.get_int_range("queue_depth", 1, 65536);
  // At least 2: garbage collection needs a spare block.
  p.gc_free_blocks = c.get_int_range("gc_free_blocks", 2, 1024, 2);
  p.prefill = c.get_number_range("prefill", 0, 1, 0);
  const uint64_t sectors = p.logical_bytes / p.sector_bytes;
  if (sectors >= (1ull << 31)) c.fail("capacity_gib", "too large for 32-bit sector mapping");
  Config e = c.child("energy");
  // NAND array energy = VCC · ICC · operation time (ICC1/ICC2/ICC3 of ONFI datasheets).
  const double vcc = e.get_number_range("vcc", 0.5, 5);
  const double icc = e.get_number_range("icc_ma", 0.01, 1000);
  e.get<std::string>("source");
  p.read_pj = vcc * icc * p.read_us * 1e3;  // V · mA · µs = nJ → pJ
  p.program_pj = vcc * icc * p.program_us * 1e3;
  p.erase_pj = vcc * icc * p.erase_us * 1e3;
  return p;
}

Ftl::Ftl(const SsdParams& p) : p_(p) {
  planes_ = p.channels * p.dies_per_channel * p.planes_per_die;
  sectors_per_page_ = p.page_bytes / p.sector_bytes;
  logical_sectors_ = p.logical_bytes / p.sector_bytes;
  const uint64_t block_bytes = p.page_bytes * static_cast<uint64_t>(p.pages_per_block);
  const double physical = static_cast<double>(p.logical_bytes) * (1.0 + p.overprovisioning);
  uint64_t per_plane = static_cast<uint64_t>(
      std::ceil(physical / static_cast<double>(block_bytes) / static_cast<double>(planes_)));
  per_plane = std::max<uint64_t>(per_plane, static_cast<uint64_t>(p.gc_free_blocks) + 2);
  blocks_ = per_plane * static_cast<uint64_t>(planes_);
  l2p_.assign(logical_sectors_, kUnmapped);
  p2l_.assign(blocks_ * static_cast<uint64_t>(p.pages_per_block) * sectors_per_page_, kUnmapped);
  valid_.assign(blocks_, 0);
  written_.assign(blocks_, 0);
  free_blocks_.resize(static_cast<size_t>(planes_));
  for (uint64_t b = blocks_; b-- > 0;) free_blocks_[plane_of_block(b)].push_back(b);
  active_.assign(static_cast<size_t>(planes_), -1);
  plane_free_.assign(static_cast<size_t>(planes_), 0.0);
  channels_.resize(static_cast<size_t>(p.channels));
  buffered_.assign(logical_sectors_, 0);
  slots_.assign(static_cast<size_t>(p.write_buffer_pages), 0.0);
}

void Ftl::invalidate(uint64_t lsn) {
  const uint32_t phys = l2p_[lsn];
  if (phys == kUnmapped) return;
  const uint64_t block = phys / sectors_per_page_ / static_cast<uint64_t>(p_.pages_per_block);
  --valid_[block];
  p2l_[phys] = kUnmapped;
  l2p_[lsn] = kUnmapped;
}

uint64_t Ftl::allocate_page(int64_t plane, double& t, bool timed) {
  int64_t& a = active_[plane];
  if (a < 0 || written_[a] == static_cast<uint32_t>(p_.pages_per_block)) {
    collect(plane, t, timed);
    a = static_cast<int64_t>(free_blocks_[plane].back());
    free_blocks_[plane].pop_back();
  }
  return static_cast<uint64_t>(a) * static_cast<uint64_t>(p_.pages_per_block) + written_[a]++;
}

double Ftl::program_page(int64_t plane, const std::vector<uint64_t>& lsns, double t, bool timed) {
  const uint64_t page = allocate_page(plane, t, timed);
  const uint64_t block = page / static_cast<uint64_t>(p_.pages_per_block);
  for (size_t i = 0; i < lsns.size(); ++i) {
    const uint32_t phys = static_cast<uint32_t>(page * sectors_per_page_ + i);
    invalidate(lsns[i]);
    l2p_[lsns[i]] = phys;
    p2l_[phys] = static_cast<uint32_t>(lsns[i]);
    ++valid_[block];
  }
  ++stats_.page_programs;
  if (!timed) return t;
  const int64_t c = channel_of_plane(plane);
  const double xfer = static_cast<double>(p_.page_bytes) / p_.channel_mbps;
  const double sent = channels_[c].reserve(t, xfer) + xfer;
  stats_.transfer_bytes += p_.page_bytes;
  const double start = std::max(sent, plane_free_[plane]);
  plane_free_[plane] = start + p_.program_us;
  return plane_free_[plane];
}

void Ftl::collect(int64_t plane, double& t, bool timed) {
  // Greedy GC: while the plane is short of free blocks, reclaim the full block with the
  // fewest valid sectors, copying them inside the plane (copyback: no channel transfer).
  std::vector<uint64_t>& free = free_blocks_[plane];
  const uint64_t spb = static_cast<uint64_t>(p_.pages_per_block) * sectors_per_page_;
  while (static_cast<int64_t>(free.size()) < p_.gc_free_blocks) {
    uint64_t victim = blocks_;
    uint32_t best = ~0u;
    for (uint64_t b = static_cast<uint64_t>(plane); b < blocks_;
         b += static_cast<uint64_t>(planes_))
      if (static_cast<int64_t>(b) != active_[plane] &&
          written_[b] == static_cast<uint32_t>(p_.pages_per_block) && valid_[b] < best) {
        best = valid_[b];
        victim = b;
      }
    if (victim == blocks_ || best == spb) return;  // nothing reclaimable
    ++stats_.gc_runs;
    std::vector<uint64_t> moved;
    uint64_t pages_read = 0;
    for (uint64_t pg = 0; pg < static_cast<uint64_t>(p_.pages_per_block); ++pg) {
      bool any = false;
      for (uint64_t s = 0; s < sectors_per_page_; ++s) {
        const uint64_t phys =
            (victim * static_cast<uint64_t>(p_.pages_per_block) + pg) * sectors_per_page_ + s;
        const uint32_t lsn = p2l_[phys];
        if (lsn != kUnmapped && l2p_[lsn] == phys) {
          moved.push_back(lsn);
          any = true;
        }
      }
      pages_read += any;
    }
    // Free the victim first: its sectors are rewritten below through the active block.
    for (uint64_t lsn : moved) invalidate(lsn);
    written_[victim] = 0;
    valid_[victim] = 0;
    free.insert(free.begin(), victim);
    uint64_t programs = 0;
    for (size_t i = 0; i < moved.size(); i += sectors_per_page_) {
      std::vector<uint64_t> chunk(
          moved.begin() + static_cast<long>(i),
          moved.begin() + static_cast<long>(std::min(moved.size(), i + sectors_per_page_)));
      int64_t& a = active_[plane];
      if (a < 0 || written_[a] == static_cast<uint32_t>(p_.pages_per_block)) {
        a = static_cast<int64_t>(free.back());
        free.pop_back();
      }
      const uint64_t page =
          static_cast<uint64_t>(a) * static_cast<uint64_t>(p_.pages_per_block) + written_[a]++;
      for (size_t k = 0; k < chunk.size(); ++k) {
        const uint32_t phys = static_cast<uint32_t>(page * sectors_per_page_ + k);
        l2p_[chunk[k]] = phys;
        p2l_[phys] = static_cast<uint32_t>(chunk[k]);
        ++valid_[a];
      }
      ++programs;
    }
    stats_.page_reads += pages_read;
    stats_.page_programs += programs;
    stats_.gc_moved_sectors += moved.size();
    ++stats_.erases;
    if (timed) {
      plane_free_[plane] = std::max(plane_free_[plane], t) +
                           static_cast<double>(pages_read) * p_.read_us +
                           static_cast<double>(programs) * p_.program_us + p_.erase_us;
    }
  }
}

void Ftl::prefill(double fraction) {
  const uint64_t n = static_cast<uint64_t>(static_cast<double>(logical_sectors_) * fraction);
  std::vector<uint64_t> page;
  for (uint64_t lsn = 0; lsn < n; ++lsn) {
    page.push_back(lsn);
    if (page.size() == sectors_per_page_ || lsn + 1 == n) {
      program_page(next_plane_, page, 0, false);
      next_plane_ = (next_plane_ + 1) % planes_;
      page.clear();
    }
  }
  stats_ = Stats{};
}

double Ftl::read(uint64_t lsn, double t) {
  if (buffered_[lsn]) {
    ++stats_.buffer_hits;
    return t;
  }
  const uint32_t phys = l2p_[lsn];
  if (phys == kUnmapped) return t;
  const uint64_t block = phys / sectors_per_page_ / static_cast<uint64_t>(p_.pages_per_block);
  const int64_t plane = plane_of_block(block);
  const int64_t c = channel_of_plane(plane);
  channels_[c].forget_before(t);  // commands arrive in time order
  const double s = std::max(t, plane_free_[plane]);
  const double xfer = static_cast<double>(p_.sector_bytes) / p_.channel_mbps;
  const double sent = channels_[c].reserve(s + p_.read_us, xfer) + xfer;
  plane_free_[plane] = sent;  // the page register holds the data until sent
  ++stats_.page_reads;
  stats_.transfer_bytes += p_.sector_bytes;
  return sent;
}

double Ftl::write(uint64_t lsn, double t) {
  ++stats_.host_sectors_written;
  if (buffered_[lsn]) return t;  // overwritten in the buffer before reaching flash
  const double ack = std::max(t, slots_[slot_head_]);
  invalidate(lsn);
  pending_.push_back(lsn);
  buffered_[lsn] = 1;
  if (pending_.size() == sectors_per_page_) {
    const double done = program_page(next_plane_, pending_, ack, true);
    next_plane_ = (next_plane_ + 1) % planes_;
    slots_[slot_head_] = done;
    slot_head_ = (slot_head_ + 1) % slots_.size();
    for (uint64_t s : pending_) buffered_[s] = 0;
    pending_.clear();
  }
  return ack;
}

}  // namespace tessel::memory
