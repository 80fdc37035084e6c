// NVMe SSD timing: queue admission, firmware latency, FTL reads and buffered writes.
#include "sim/memory/ssd.h"

#include <cmath>

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
  const double t = arrival.to_seconds() * 1e6 + params_.firmware_us;  // µs
  const uint64_t sb = params_.sector_bytes;
  const uint64_t first = p.get_address() / sb;
  const uint64_t last = (p.get_address() + p.get_data_length() - 1) / sb;
  double done = t;
  for (uint64_t lsn = first; lsn <= last; ++lsn)
    done = std::max(done, p.is_write() ? ftl_.write(lsn, t) : ftl_.read(lsn, t));
  const uint64_t done_ps = static_cast<uint64_t>(std::llround(done * 1e6));
  inflight_.push(done_ps);
  if (inflight_.top() == done_ps) {
    const sc_time now = sc_core::sc_time_stamp();
    const sc_time at(static_cast<double>(done_ps), sc_core::SC_PS);
    completion_.notify(at > now ? at - now : sc_core::SC_ZERO_TIME);
  }
  respond(p, sc_time(static_cast<double>(done_ps), sc_core::SC_PS));
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
  auto fj = [](double pj) { return static_cast<uint64_t>(std::llround(pj * 1000)); };
  counters.add(tier + ".page_read", "energy_fj",
               fj(static_cast<double>(s.page_reads) * params_.read_pj));
  counters.add(tier + ".page_program", "energy_fj",
               fj(static_cast<double>(s.page_programs) * params_.program_pj));
  counters.add(tier + ".erase", "energy_fj", fj(static_cast<double>(s.erases) * params_.erase_pj));
  counters.stat(tier + ".page_reads", s.page_reads);
  counters.stat(tier + ".page_programs", s.page_programs);
  counters.stat(tier + ".erases", s.erases);
  counters.stat(tier + ".gc_runs", s.gc_runs);
  counters.stat(tier + ".gc_moved_sectors", s.gc_moved_sectors);
  if (s.host_sectors_written) {
    const double spp = static_cast<double>(params_.page_bytes / params_.sector_bytes);
    metrics[tier + ".write_amplification"] =
        static_cast<double>(s.page_programs) * spp / static_cast<double>(s.host_sectors_written);
  }
}

}  // namespace tessel::memory
