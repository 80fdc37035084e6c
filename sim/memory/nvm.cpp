// Optane-like NVM timing: media servers per DIMM, buffer hits, write combining and RMW.
#include "sim/memory/nvm.h"

#include <algorithm>
#include <cmath>

namespace tessel::memory {

using sc_core::sc_time;

NvmParams read_nvm_params(const Config& c) {
  NvmParams p;
  // Ranges (configs/README.md): beyond today's parts; capacity ≤ 2^48 bytes.
  p.dimms = c.get_int_range("dimms", 1, 64);
  p.interleave_bytes = static_cast<uint64_t>(c.get_int_range("interleave_bytes", 64, 1 << 30));
  p.capacity_per_dimm = static_cast<uint64_t>(
      c.get_number_range("capacity_gib_per_dimm", 0.001, 4096) * (1ull << 30));
  p.line_bytes = static_cast<uint64_t>(c.get_int_range("line_bytes", 64, 4096));
  if (p.line_bytes % 64) c.fail("line_bytes", "must be a multiple of 64");
  if (p.interleave_bytes % p.line_bytes)
    c.fail("interleave_bytes", "must be a multiple of line_bytes");
  p.read_latency_ns = c.get_number_range("read_latency_ns", 1, 1e6);
  p.buffer_hit_latency_ns = c.get_number_range("buffer_hit_latency_ns", 1, 1e6);
  p.buffer_lines = c.get_int_range("buffer_lines", 1, 1 << 20);
  p.write_latency_ns = c.get_number_range("write_latency_ns", 1, 1e6);
  p.wpq_entries = c.get_int_range("wpq_entries", 1, 65536);
  p.read_gbps = c.get_number_range("read_gbps_per_dimm", 0.01, 1000);
  p.write_gbps = c.get_number_range("write_gbps_per_dimm", 0.01, 1000);
  Config e = c.child("energy");
  p.read_pj_per_bit = e.get_number_range("read_pj_per_bit", 0.001, 10000);
  p.write_pj_per_bit = e.get_number_range("write_pj_per_bit", 0.001, 10000);
  e.get<std::string>("source");
  return p;
}

Nvm::Nvm(sc_core::sc_module_name name, const NvmParams& params)
    : MemoryDevice(name), params_(params), dimms_(static_cast<size_t>(params.dimms)) {
  for (Dimm& d : dimms_) d.wpq.assign(static_cast<size_t>(params.wpq_entries), 0.0);
}

void Nvm::touch(Dimm& d, uint64_t line, uint64_t mask_add, double t, double& done) {
  auto it = d.lines.find(line);
  if (it != d.lines.end()) {
    d.lru.splice(d.lru.begin(), d.lru, it->second.first);
    it->second.second |= mask_add;
    return;
  }
  d.lru.push_front(line);
  d.lines[line] = {d.lru.begin(), mask_add};
  if (static_cast<int64_t>(d.lines.size()) > params_.buffer_lines) {
    const uint64_t victim = d.lru.back();
    auto v = d.lines.find(victim);
    const uint64_t mask = v->second.second;
    d.lru.pop_back();
    d.lines.erase(v);
    if (mask) done = std::max(done, flush(d, mask, t));
  }
}

double Nvm::flush(Dimm& d, uint64_t mask, double t) {
  const double line = static_cast<double>(params_.line_bytes);
  const uint64_t full =
      params_.line_bytes / 64 == 64 ? ~0ull : (1ull << (params_.line_bytes / 64)) - 1;
  if ((mask & full) != full) {
    // Partial line: the media writes whole lines, so it first reads the old one.
    const double r = std::max(t, d.read_free);
    d.read_free = r + line / params_.read_gbps;
    t = r + params_.read_latency_ns;
    ++stats_.rmw;
    ++stats_.media_read_lines;
  }
  const double w = std::max(t, d.write_free);
  d.write_free = w + line / params_.write_gbps;
  ++stats_.media_write_lines;
  return d.write_free;
}

double Nvm::read_line(Dimm& d, uint64_t line, double t) {
  if (d.lines.count(line)) {
    ++stats_.buffer_hits;
    double ignore = t;
    touch(d, line, 0, t, ignore);
    return t + params_.buffer_hit_latency_ns;
  }
  const double s = std::max(t, d.read_free);
  d.read_free = s + static_cast<double>(params_.line_bytes) / params_.read_gbps;
  ++stats_.media_read_lines;
  double ignore = t;
  touch(d, line, 0, t, ignore);
  return s + params_.read_latency_ns;
}

double Nvm::write_line(Dimm& d, uint64_t line, uint64_t mask, double t) {
  double done = t;
  touch(d, line, mask, t, done);
  const uint64_t full =
      params_.line_bytes / 64 == 64 ? ~0ull : (1ull << (params_.line_bytes / 64)) - 1;
  auto it = d.lines.find(line);
  if (it != d.lines.end() && (it->second.second & full) == full) {
    done = std::max(done, flush(d, full, t));  // a complete line goes to media whole
    it->second.second = 0;
  }
  return done;
}

bool Nvm::try_accept(tlm::tlm_generic_payload& p, const sc_time& arrival) {
  const double t = arrival.to_seconds() * 1e9;
  const bool write = p.is_write();
  uint64_t addr = p.get_address();
  uint64_t left = p.get_data_length();
  (write ? stats_.write_bytes : stats_.read_bytes) += left;
  double done = t;
  const uint64_t il = params_.interleave_bytes;
  const uint64_t lb = params_.line_bytes;
  // Per DIMM: the WPQ slot this request takes (writes), decided once per DIMM touched.
  std::vector<double> accept(dimms_.size(), -1.0);
  double response = t;
  while (left > 0) {
    const uint64_t chunk = addr / il;
    const size_t di = static_cast<size_t>(chunk % static_cast<uint64_t>(params_.dimms));
    const uint64_t local = (chunk / static_cast<uint64_t>(params_.dimms)) * il + addr % il;
    const uint64_t line = local / lb;
    const uint64_t off = local % lb;
    const uint64_t n = std::min(left, lb - off);
    Dimm& d = dimms_[di];
    if (!write) {
      done = std::max(done, read_line(d, line, t));
    } else {
      if (accept[di] < 0) {
        // The WPQ holds wpq_entries requests: this one waits for the one that many before.
        accept[di] = std::max(t, d.wpq[d.wpq_head]);
        response = std::max(response, accept[di] + params_.write_latency_ns);
      }
      const uint64_t first = off / 64, last = (off + n - 1) / 64;
      const uint64_t mask = ((last - first + 1) == 64 ? ~0ull : ((1ull << (last - first + 1)) - 1))
                            << first;
      const double drained = write_line(d, line, mask, accept[di]);
      d.wpq[d.wpq_head] = std::max(d.wpq[d.wpq_head], drained);
    }
    addr += n;
    left -= n;
  }
  if (write) {
    for (size_t di = 0; di < dimms_.size(); ++di)
      if (accept[di] >= 0) dimms_[di].wpq_head = (dimms_[di].wpq_head + 1) % dimms_[di].wpq.size();
    done = response;
  }
  respond(p, sc_time(done, sc_core::SC_NS));
  return true;
}

void Nvm::report(const std::string& tier, const sc_time&, Counters& counters,
                 std::map<std::string, double>& metrics) {
  // Lines still partly written in the buffers reach media (with RMW) when evicted later;
  // their energy belongs to this run's writes.
  for (Dimm& d : dimms_)
    for (auto& kv : d.lines)
      if (kv.second.second) flush(d, kv.second.second, 0);
  const double bits = static_cast<double>(params_.line_bytes) * 8;
  auto fj = [](double pj) { return static_cast<uint64_t>(std::llround(pj * 1000)); };
  counters.add(tier + ".media_read", "energy_fj",
               fj(static_cast<double>(stats_.media_read_lines) * bits * params_.read_pj_per_bit));
  counters.add(tier + ".media_write", "energy_fj",
               fj(static_cast<double>(stats_.media_write_lines) * bits * params_.write_pj_per_bit));
  counters.stat(tier + ".media_read_lines", stats_.media_read_lines);
  counters.stat(tier + ".media_write_lines", stats_.media_write_lines);
  counters.stat(tier + ".rmw", stats_.rmw);
  counters.stat(tier + ".buffer_hits", stats_.buffer_hits);
  if (stats_.write_bytes)
    metrics[tier + ".write_amplification"] =
        static_cast<double>(stats_.media_write_lines * params_.line_bytes) /
        static_cast<double>(stats_.write_bytes);
}

}  // namespace tessel::memory
