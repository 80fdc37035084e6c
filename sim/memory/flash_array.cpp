// NAND flash array timing: die calendars, plane registers, channel calendars, multi-plane.
#include "sim/memory/flash_array.h"

#include <algorithm>
#include <cstdio>

namespace tessel::memory {

namespace {
constexpr uint64_t kNoPage = ~0ull;
}

double Calendar::reserve(double t, double length) {
  // The first interval that ends after t (ends are sorted, as intervals are disjoint).
  auto it = std::upper_bound(busy_.begin() + static_cast<long>(head_), busy_.end(), t,
                             [](double v, const Busy& b) { return v < b.end; });
  double s = t;
  for (; it != busy_.end() && it->start < s + length; ++it) s = std::max(s, it->end);
  const double e = s + length;
  // Merge with the interval before (ending at s) and the one after (starting at e).
  const bool before = it != busy_.begin() + static_cast<long>(head_) && (it - 1)->end >= s;
  const bool after = it != busy_.end() && it->start <= e;
  if (before && after) {
    (it - 1)->end = it->end;
    busy_.erase(it);
  } else if (before) {
    (it - 1)->end = e;
  } else if (after) {
    it->start = s;
  } else {
    busy_.insert(it, Busy{s, e});
  }
  return s;
}

void Calendar::forget_before(double t) {
  while (head_ < busy_.size() && busy_[head_].end < t) ++head_;
  if (head_ > 64 && 2 * head_ > busy_.size()) {
    busy_.erase(busy_.begin(), busy_.begin() + static_cast<long>(head_));
    head_ = 0;
  }
}

FlashArray::FlashArray(const FlashGeometry& g) : g_(g) {
  dies_.resize(static_cast<size_t>(g.dies()));
  die_end_.assign(static_cast<size_t>(g.dies()), 0.0);
  channels_.resize(static_cast<size_t>(g.channels));
  reg_busy_.assign(static_cast<size_t>(g.planes()), 0.0);
  reg_page_.assign(static_cast<size_t>(g.planes()), kNoPage);
  reg_ready_.assign(static_cast<size_t>(g.planes()), 0.0);
  last_read_.resize(static_cast<size_t>(g.dies()));
}

void FlashArray::log(FlashOp::Kind k, uint64_t op, int64_t plane, uint32_t block, uint32_t page,
                     double s, double e) {
  if (!log_) return;
  FlashOp f;
  f.op = op;
  f.kind = k;
  f.die = static_cast<int32_t>(die_of_plane(plane));
  f.plane = static_cast<int32_t>(plane % g_.planes_per_die);
  f.block = block * static_cast<uint32_t>(g_.planes_per_die) + static_cast<uint32_t>(f.plane);
  f.page = page;
  f.start = s;
  f.end = e;
  log_->push_back(f);
}

double FlashArray::read(int64_t plane, uint32_t block, uint32_t page, uint64_t page_key,
                        uint64_t bytes, double t) {
  const int64_t die = die_of_plane(plane);
  Calendar& ch = channels_[static_cast<size_t>(channel_of_die(die))];
  const double xfer = static_cast<double>(bytes) / g_.channel_mbps;
  stats_.transfer_bytes += bytes;
  double& busy = reg_busy_[static_cast<size_t>(plane)];
  if (reg_page_[static_cast<size_t>(plane)] == page_key) {
    // The register still holds the page (a sequential reader's next sector): data out only.
    ++stats_.register_hits;
    const double sent =
        ch.reserve(std::max(t, reg_ready_[static_cast<size_t>(plane)]), xfer) + xfer;
    busy = std::max(busy, sent);
    return sent;
  }
  ++stats_.page_reads;
  const uint32_t bit = 1u << static_cast<uint32_t>(plane % g_.planes_per_die);
  PendingRead& last = last_read_[static_cast<size_t>(die)];
  double ready;
  if (g_.multi_plane && last.start >= t && last.page == page && !(last.planes & bit) &&
      busy <= last.start) {
    // Multi-plane read: same page offset on another plane, issued together with the
    // die's pending read before it starts.
    last.planes |= bit;
    ++stats_.multi_plane_reads;
    ready = last.start + g_.read_us;
    log(FlashOp::kRead, last.op, plane, block, page, last.start, ready);
  } else {
    const double s = dies_[static_cast<size_t>(die)].reserve(std::max(t, busy), g_.read_us);
    ready = s + g_.read_us;
    die_end_[static_cast<size_t>(die)] = std::max(die_end_[static_cast<size_t>(die)], ready);
    last = {next_op_++, s, page, bit};
    log(FlashOp::kRead, last.op, plane, block, page, s, ready);
  }
  reg_page_[static_cast<size_t>(plane)] = page_key;
  reg_ready_[static_cast<size_t>(plane)] = ready;
  // The register holds the data until it has crossed the channel.
  busy = ch.reserve(ready, xfer) + xfer;
  return busy;
}

double FlashArray::program(int64_t first_plane, int64_t planes, uint32_t block, uint32_t page,
                           double t) {
  const int64_t die = die_of_plane(first_plane);
  // Data in over the channel into the page registers, then one (multi-plane) program.
  const double xfer =
      static_cast<double>(planes) * static_cast<double>(g_.page_bytes) / g_.channel_mbps;
  const double sent = channels_[static_cast<size_t>(channel_of_die(die))].reserve(t, xfer) + xfer;
  const double s = dies_[static_cast<size_t>(die)].reserve(sent, g_.program_us);
  const double e = s + g_.program_us;
  die_end_[static_cast<size_t>(die)] = std::max(die_end_[static_cast<size_t>(die)], e);
  const uint64_t op = next_op_++;
  for (int64_t p = first_plane; p < first_plane + planes; ++p) {
    reg_page_[static_cast<size_t>(p)] = kNoPage;
    log(FlashOp::kProgram, op, p, block, page, s, e);
  }
  stats_.page_programs += static_cast<uint64_t>(planes);
  stats_.transfer_bytes += static_cast<uint64_t>(planes) * g_.page_bytes;
  return e;
}

double FlashArray::read_out(int64_t first_plane, int64_t planes, uint32_t block, uint32_t page,
                            uint64_t bytes, double& die_cursor, double& bus_cursor) {
  const int64_t die = die_of_plane(first_plane);
  const double s = dies_[static_cast<size_t>(die)].reserve(die_cursor, g_.read_us);
  const double ready = s + g_.read_us;
  die_cursor = ready;
  die_end_[static_cast<size_t>(die)] = std::max(die_end_[static_cast<size_t>(die)], ready);
  const uint64_t op = next_op_++;
  for (int64_t p = first_plane; p < first_plane + planes; ++p) {
    reg_page_[static_cast<size_t>(p)] = kNoPage;
    log(FlashOp::kRead, op, p, block, page, s, ready);
  }
  const double xfer = static_cast<double>(bytes) / g_.channel_mbps;
  stats_.page_reads += static_cast<uint64_t>(planes);
  stats_.transfer_bytes += bytes;
  bus_cursor = channels_[static_cast<size_t>(channel_of_die(die))].reserve(
                   std::max(ready, bus_cursor), xfer) +
               xfer;
  return bus_cursor;
}

double FlashArray::erase(int64_t first_plane, int64_t planes, uint32_t block, double t) {
  const int64_t die = die_of_plane(first_plane);
  const double s = dies_[static_cast<size_t>(die)].reserve(t, g_.erase_us);
  const double e = s + g_.erase_us;
  die_end_[static_cast<size_t>(die)] = std::max(die_end_[static_cast<size_t>(die)], e);
  const uint64_t op = next_op_++;
  for (int64_t p = first_plane; p < first_plane + planes; ++p) {
    reg_page_[static_cast<size_t>(p)] = kNoPage;
    log(FlashOp::kErase, op, p, block, 0, s, e);
  }
  stats_.block_erases += static_cast<uint64_t>(planes);
  return e;
}

double FlashArray::free_at(int64_t die) const {
  return die_end_[static_cast<size_t>(die)];
}

void FlashArray::forget_before(double now) {
  for (Calendar& d : dies_) d.forget_before(now);
  for (Calendar& c : channels_) c.forget_before(now);
}

uint64_t check_flash_ops(const FlashGeometry& g, std::vector<FlashOp> log, std::string* first) {
  uint64_t violations = 0;
  auto fail = [&](const std::string& what) {
    if (violations++ == 0 && first) *first = what;
  };
  std::sort(log.begin(), log.end(), [](const FlashOp& a, const FlashOp& b) {
    return a.die != b.die ? a.die < b.die : a.start != b.start ? a.start < b.start : a.op < b.op;
  });
  const char* kinds[] = {"read", "program", "erase"};
  size_t i = 0;
  while (i < log.size()) {
    // One operation: consecutive entries of the same die with the same number.
    size_t j = i + 1;
    while (j < log.size() && log[j].die == log[i].die && log[j].op == log[i].op) ++j;
    const FlashOp& a = log[i];
    char where[96];
    std::snprintf(where, sizeof where, "die %d, %s at %.3f us: ", a.die, kinds[a.kind], a.start);
    if (j - i > 1 && !g.multi_plane) fail(std::string(where) + "multi-plane with multi_plane off");
    uint32_t planes = 0;
    for (size_t k = i; k < j; ++k) {
      const FlashOp& b = log[k];
      if (b.kind != a.kind || b.page != a.page || b.start != a.start || b.end != a.end)
        fail(std::string(where) + "planes of one operation differ in kind, page or time");
      if (planes & (1u << b.plane)) fail(std::string(where) + "a plane twice in one operation");
      planes |= 1u << b.plane;
      if (static_cast<int64_t>(b.block % static_cast<uint32_t>(g.planes_per_die)) != b.plane)
        fail(std::string(where) + "block address does not select its plane");
    }
    // Operations of a die do not overlap.
    if (j < log.size() && log[j].die == a.die && log[j].start < a.end - 1e-9) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "overlaps the next operation (at %.3f us)", log[j].start);
      fail(std::string(where) + buf);
    }
    i = j;
  }
  return violations;
}

}  // namespace tessel::memory
