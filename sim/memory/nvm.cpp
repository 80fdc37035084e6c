// Optane-like NVM: request splitting over interleaved DIMMs, writes through the WPQ in
// 64 B stores, reads straight to the DIMM; energy from media line counts.
#include "sim/memory/nvm.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "sim/memory/memory_keys.h"

namespace tessel::memory {

using sc_core::sc_time;

NvmParams read_nvm_params(const Config& nvm) {
  // Ranges (memory_keys.cpp): beyond today's parts; capacity ≤ 2^48 bytes.
  const Keyed c(nvm_keys(), nvm);
  NvmParams p;
  p.dimms = c.integer("dimms");
  p.interleave_bytes = static_cast<uint64_t>(c.integer("interleave_bytes"));
  p.capacity_per_dimm = static_cast<uint64_t>(c.number("capacity_gib_per_dimm") * (1ull << 30));
  p.line_bytes = static_cast<uint64_t>(c.integer("line_bytes"));
  if (p.line_bytes % 64) c.fail("line_bytes", "must be a multiple of 64");
  if (p.interleave_bytes % p.line_bytes)
    c.fail("interleave_bytes", "must be a multiple of line_bytes");
  p.read_latency_ns = c.number("read_latency_ns");
  p.buffer_hit_latency_ns = c.number("buffer_hit_latency_ns");
  p.buffer_lines = c.integer("buffer_lines");
  p.write_latency_ns = c.number("write_latency_ns");
  p.wpq_entries = c.integer("wpq_entries");
  p.channel_gbps = c.number("channel_gbps");
  p.read_gbps = c.number("read_gbps_per_dimm");
  p.write_gbps = c.number("write_gbps_per_dimm");
  const Keyed e = c.child("energy");
  p.read_pj_per_bit = e.number("read_pj_per_bit");
  p.write_pj_per_bit = e.number("write_pj_per_bit");
  e.text("source");  // required: every energy figure is cited
  return p;
}

Nvm::Nvm(sc_core::sc_module_name name, const NvmParams& params)
    : MemoryDevice(name), params_(params) {
  for (int64_t d = 0; d < params.dimms; ++d) {
    wpq_.emplace_back(static_cast<size_t>(params.wpq_entries), 64.0 / params.channel_gbps);
    dimms_.emplace_back(params, static_cast<uint64_t>(d) + 1);
  }
}

bool Nvm::try_accept(tlm::tlm_generic_payload& p, const sc_time& arrival) {
  const double t = arrival.to_seconds() * 1e9;
  const bool write = p.is_write();
  uint64_t addr = p.get_address();
  uint64_t left = p.get_data_length();
  (write ? write_bytes_ : read_bytes_) += left;
  const uint64_t il = params_.interleave_bytes;
  const uint64_t lb = params_.line_bytes;
  const uint64_t n_dimms = static_cast<uint64_t>(params_.dimms);
  double done = t;
  while (left > 0) {
    const uint64_t chunk = addr / il;
    const size_t di = static_cast<size_t>(chunk % n_dimms);
    const uint64_t local = (chunk / n_dimms) * il + addr % il;
    const uint64_t line = local / lb;
    const uint64_t off = local % lb;
    const uint64_t n = std::min(left, lb - off);
    const unsigned first = static_cast<unsigned>(off / 64);
    const unsigned last = static_cast<unsigned>((off + n - 1) / 64);
    if (!write) {
      const uint64_t pieces = (last - first + 1 == 64 ? ~0ull : (1ull << (last - first + 1)) - 1)
                              << first;
      done = std::max(done, dimms_[di].read(line, pieces, t));
    } else {
      // One WPQ entry per 64 B store; the write is persistent once its last store has an
      // entry, and entries free up only as fast as the DIMM takes them.
      NvmWpq& q = wpq_[di];
      for (unsigned piece = first; piece <= last; ++piece) {
        const double entered = q.enter(t);
        q.taken(dimms_[di].write(line, piece, q.arrive(entered)));
        done = std::max(done, entered + params_.write_latency_ns);
      }
    }
    addr += n;
    left -= n;
  }
  respond(p, sc_time(done, sc_core::SC_NS));
  return true;
}

void Nvm::report(const std::string& tier, const sc_time&, Counters& counters,
                 std::map<std::string, double>& metrics) {
  // Lines still partly written in the buffers reach media (with RMW) when evicted later;
  // their energy belongs to this run's writes.
  NvmDimm::Stats s;
  for (NvmDimm& d : dimms_) {
    d.flush();
    s.media_read_lines += d.stats().media_read_lines;
    s.media_write_lines += d.stats().media_write_lines;
    s.rmw += d.stats().rmw;
    s.buffer_hits += d.stats().buffer_hits;
  }
  // Media energy per line read or written (device file nvm.energy: pJ per bit).
  const double bits = static_cast<double>(params_.line_bytes) * 8;
  auto count = [&](const std::string& part, double pj_per_bit, uint64_t lines) {
    const std::string action = tier + "_" + part + "_line";
    char source[160];
    std::snprintf(source, sizeof source, "NVM media %s of a %llu B line: %g bits x %g pJ/bit",
                  part == "media_read" ? "read" : "write",
                  static_cast<unsigned long long>(params_.line_bytes), bits, pj_per_bit);
    counters.define_action(action, bits * pj_per_bit, source);
    counters.add(tier + "." + part, action, lines);
  };
  count("media_read", params_.read_pj_per_bit, s.media_read_lines);
  count("media_write", params_.write_pj_per_bit, s.media_write_lines);
  counters.stat(tier + ".media_read_lines", s.media_read_lines);
  counters.stat(tier + ".media_write_lines", s.media_write_lines);
  counters.stat(tier + ".rmw", s.rmw);
  counters.stat(tier + ".buffer_hits", s.buffer_hits);
  if (write_bytes_)
    metrics[tier + ".write_amplification"] =
        static_cast<double>(s.media_write_lines * params_.line_bytes) /
        static_cast<double>(write_bytes_);
}

}  // namespace tessel::memory
