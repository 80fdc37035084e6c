// NVMe SSD timing: host submission, queue admission, firmware latency, FTL reads and
// buffered writes, host completion.
#include "sim/memory/ssd.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace tessel::memory {

using sc_core::sc_time;

Ssd::Ssd(sc_core::sc_module_name name, const SsdParams& params)
    : MemoryDevice(name), params_(params), ftl_(params_) {
  ftl_.prefill(params_.prefill);
  SC_METHOD(complete);
  sensitive << completion_;
  dont_initialize();
}

bool Ssd::try_accept(tlm::tlm_generic_payload& p, const sc_time& arrival) {
  const uint64_t now_ps = static_cast<uint64_t>(sc_core::sc_time_stamp().to_seconds() * 1e12 + 0.5);
  while (!inflight_.empty() && inflight_.top() <= now_ps) inflight_.pop();
  if (static_cast<int64_t>(inflight_.size()) >= params_.queue_depth) {
    full_ = true;
    return false;
  }
  // Calendars forget what ended before now (every command would cost a pass over them).
  if (++commands_ % 64 == 0) ftl_.advance(static_cast<double>(now_ps) * 1e-6);
  // The host's submission (driver, doorbell, command fetch), then the firmware (µs).
  const double t = arrival.to_seconds() * 1e6 + params_.host_submit_us + params_.firmware_us;
  const uint64_t ub = ftl_.unit_bytes();
  const uint64_t begin = p.get_address(), end = begin + p.get_data_length();
  double done = t;
  for (uint64_t u = begin / ub; u * ub < end; ++u) {
    const uint64_t bytes = std::min(end, (u + 1) * ub) - std::max(begin, u * ub);
    done = std::max(done, p.is_write() ? ftl_.write(u, bytes, t) : ftl_.read(u, bytes, t));
  }
  const uint64_t done_ps = static_cast<uint64_t>(std::llround(done * 1e6));
  inflight_.push(done_ps);
  if (inflight_.top() == done_ps) {
    const sc_time now = sc_core::sc_time_stamp();
    const sc_time at(static_cast<double>(done_ps), sc_core::SC_PS);
    completion_.notify(at > now ? at - now : sc_core::SC_ZERO_TIME);
  }
  // The queue entry frees when the device posts the completion; the host sees it after its
  // completion path (interrupt or polling).
  respond(p, sc_time(static_cast<double>(done_ps) + std::round(params_.host_complete_us() * 1e6),
                     sc_core::SC_PS));
  return true;
}

void Ssd::complete() {
  const uint64_t now_ps = static_cast<uint64_t>(sc_core::sc_time_stamp().to_seconds() * 1e12 + 0.5);
  while (!inflight_.empty() && inflight_.top() <= now_ps) inflight_.pop();
  if (full_ && static_cast<int64_t>(inflight_.size()) < params_.queue_depth) {
    full_ = false;
    retry();
  }
  if (!inflight_.empty())
    completion_.notify(sc_time(static_cast<double>(inflight_.top() - now_ps), sc_core::SC_PS));
}

void Ssd::report(const std::string& tier, const sc_time&, Counters& counters,
                 std::map<std::string, double>& metrics) {
  const Ftl::Stats& s = ftl_.stats();
  const FlashArray::Stats& f = ftl_.flash().stats();
  // NAND array energy per operation: VCC x ICC over the operation time (ftl.cpp).
  auto count = [&](const std::string& part, const std::string& action, const char* what, double pj,
                   double us, uint64_t n) {
    char source[160];
    std::snprintf(source, sizeof source, "NAND %s: VCC x ICC x %g us = %g mW x %g us", what, us,
                  us > 0 ? pj / (us * 1e3) : 0.0, us);
    counters.define_action(tier + "_" + action, pj, source);
    counters.add(tier + "." + part, tier + "_" + action, n);
  };
  count("page_read", "page_read", "page read (tR)", params_.read_pj, params_.read_us, f.page_reads);
  count("page_program", "page_program", "page program (tPROG)", params_.program_pj,
        params_.program_us, f.page_programs);
  count("erase", "block_erase", "block erase (tBERS)", params_.erase_pj, params_.erase_us,
        f.block_erases);
  counters.stat(tier + ".page_reads", f.page_reads);
  counters.stat(tier + ".page_programs", f.page_programs);
  counters.stat(tier + ".erases", f.block_erases);
  counters.stat(tier + ".multi_plane_reads", f.multi_plane_reads);
  counters.stat(tier + ".register_hits", f.register_hits);
  counters.stat(tier + ".gc_runs", s.gc_runs);
  counters.stat(tier + ".gc_moved_units", s.gc_moved_units);
  counters.stat(tier + ".rmw_reads", s.rmw_reads);
  counters.stat(tier + ".buffer_hits", s.buffer_hits);
  if (s.host_bytes_written) metrics[tier + ".write_amplification"] = ftl_.write_amplification();
}

}  // namespace tessel::memory
