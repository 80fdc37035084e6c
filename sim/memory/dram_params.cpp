// Reads DRAM parameters from YAML and checks them against what the controller can model.
#include "sim/memory/dram_params.h"

#include "sim/memory/memory_keys.h"

namespace tessel::memory {
namespace {

bool is_pow2(int64_t v) {
  return v > 0 && (v & (v - 1)) == 0;
}

}  // namespace

DramParams read_dram_params(const Config& dram, const Config& controller) {
  // Ranges (memory_keys.cpp): beyond today's parts, and small enough that the capacity
  // (channels·ranks·banks·rows·row bytes ≤ 2^59) and every address fit 64 bits.
  const Keyed d(dram_keys(), dram);
  const Keyed c(controller_keys(), controller);
  DramParams p;
  p.standard = d.choice("standard");
  p.data_rate_mtps = d.number("data_rate_mtps");
  p.tck_ns = 2000.0 / p.data_rate_mtps;
  p.bus_bits = d.integer("bus_bits");
  p.burst_length = d.integer("burst_length");
  if (p.bus_bits % 8) d.fail("bus_bits", "must be a multiple of 8");
  if (p.burst_length % 2) d.fail("burst_length", "must be even (double data rate)");

  const Keyed org = d.child("org");
  p.channels = org.integer("channels");
  p.ranks = org.integer("ranks");
  p.bankgroups = org.integer("bankgroups");
  p.banks_per_group = org.integer("banks_per_group");
  p.rows = org.integer("rows");
  p.columns = org.integer("columns");
  const std::pair<const char*, int64_t> sizes[] = {{"channels", p.channels},
                                                   {"ranks", p.ranks},
                                                   {"bankgroups", p.bankgroups},
                                                   {"banks_per_group", p.banks_per_group},
                                                   {"rows", p.rows},
                                                   {"columns", p.columns}};
  for (const auto& [k, v] : sizes)
    if (!is_pow2(v)) org.fail(k, "must be a power of two (address mapping)");
  if (p.columns < p.burst_length) org.fail("columns", "must hold at least one burst");

  const Keyed t = d.child("timing_ck");
  DramTiming& x = p.t;
  x.cl = t.integer("CL");
  x.cwl = t.integer("CWL");
  x.rcd = t.integer("RCD");
  x.rcd_wr = t.has("RCD_WR") ? t.integer("RCD_WR") : x.rcd;
  x.rp = t.integer("RP");
  x.ras = t.integer("RAS");
  x.rc = t.integer("RC");
  x.ccd_s = t.integer("CCD_S");
  x.ccd_l = t.integer("CCD_L");
  x.rrd_s = t.integer("RRD_S");
  x.rrd_l = t.integer("RRD_L");
  x.faw = t.integer("FAW");
  x.wtr_s = t.integer("WTR_S");
  x.wtr_l = t.integer("WTR_L");
  x.wr = t.integer("WR");
  x.rtp = t.integer("RTP");
  x.rfc = t.integer("RFC");
  x.refi = t.integer("REFI");
  x.rtrs = t.integer("RTRS");
  x.burst = p.burst_length / 2;
  if (x.rc < x.ras + x.rp) t.fail("RC", "must be at least RAS + RP");
  if (x.refi <= x.rfc) t.fail("REFI", "must exceed RFC");
  if (x.ccd_l < x.ccd_s) t.fail("CCD_L", "must be at least CCD_S");

  const Keyed pw = d.child("power");
  p.power.idd = pw.choice("model") == "idd";
  pw.text("source");  // required: every energy figure is cited
  if (p.power.idd) {
    p.power.vdd = pw.number("vdd");
    p.power.idd0 = pw.number("idd0_ma");
    p.power.idd2n = pw.number("idd2n_ma");
    p.power.idd3n = pw.number("idd3n_ma");
    p.power.idd4r = pw.number("idd4r_ma");
    p.power.idd4w = pw.number("idd4w_ma");
    p.power.idd5b = pw.number("idd5b_ma");
    p.power.devices_per_rank = pw.integer("devices_per_rank");
  } else {
    p.power.read_pj_per_bit = pw.number("read_pj_per_bit");
    p.power.write_pj_per_bit = pw.number("write_pj_per_bit");
  }

  p.open_page = c.choice("page_policy") == "open";
  const std::string policy = c.choice("scheduler");
  p.scheduler = policy == "fcfs"     ? DramPolicy::kFcfs
                : policy == "frfcfs" ? DramPolicy::kFrFcfs
                                     : DramPolicy::kFrFcfsWriteDrain;
  // Defaults of Ramulator 2.0's generic controller (src/dram_controller/impl/
  // generic_dram_controller.cpp: read and write request buffers of 32 (ReqBuffer::max_size,
  // src/base/request.h), write mode above 0.8 of the write buffer, back below 0.2).
  p.read_queue = c.integer("read_queue");
  p.write_queue = c.integer("write_queue");
  p.write_high = c.number("write_high_watermark");
  p.write_low = c.number("write_low_watermark");
  if (p.write_low > p.write_high)
    c.fail("write_low_watermark", "must not exceed write_high_watermark");
  // DRAMSys's bank-wise scheduler buffer holds 8 requests per bank (RequestBufferSize);
  // off by default here, as in Ramulator 2.0, where the scheduler sees the whole queues.
  p.bank_queue = c.integer("bank_queue");
  p.row_hit_cap = c.integer("row_hit_cap");
  const std::vector<Keyed> fields = c.items("mapping");
  const std::vector<std::pair<std::string, MapField>> names = {
      {"ch", MapField::kChannel}, {"ra", MapField::kRank}, {"bg", MapField::kBankGroup},
      {"ba", MapField::kBank},    {"ro", MapField::kRow},  {"co", MapField::kColumn}};
  std::vector<bool> seen(names.size(), false);
  for (const Keyed& f : fields) {
    const std::string s = f.as_text();
    size_t i = 0;
    while (i < names.size() && names[i].first != s) ++i;
    if (i == names.size())
      c.fail("mapping", "unknown field '" + s + "' (expected ch, ra, bg, ba, ro, co)");
    if (seen[i]) c.fail("mapping", "field '" + s + "' appears twice");
    seen[i] = true;
    p.mapping.push_back(names[i].second);
  }
  if (p.mapping.size() != names.size())
    c.fail("mapping", "must list each of ch, ra, bg, ba, ro, co once");
  return p;
}

}  // namespace tessel::memory
