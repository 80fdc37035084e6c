// Reads DRAM parameters from YAML and checks them against what the controller can model.
#include "sim/memory/dram_params.h"

namespace tessel::memory {
namespace {

bool is_pow2(int64_t v) {
  return v > 0 && (v & (v - 1)) == 0;
}

}  // namespace

DramParams read_dram_params(const Config& d, const Config& c) {
  DramParams p;
  p.standard = d.get_choice("standard", {"DDR4", "DDR5", "HBM2E", "HBM3"});
  // Ranges (configs/README.md): beyond today's parts, and small enough that the capacity
  // (channels·ranks·banks·rows·row bytes ≤ 2^59) and every address fit 64 bits.
  p.data_rate_mtps = d.get_number_range("data_rate_mtps", 100, 40000);
  p.tck_ns = 2000.0 / p.data_rate_mtps;
  p.bus_bits = d.get_int_range("bus_bits", 8, 1024);
  p.burst_length = d.get_int_range("burst_length", 2, 32);
  if (p.bus_bits % 8) d.fail("bus_bits", "must be a multiple of 8");
  if (p.burst_length % 2) d.fail("burst_length", "must be even (double data rate)");

  Config org = d.child("org");
  p.channels = org.get_int_range("channels", 1, 256);
  p.ranks = org.get_int_range("ranks", 1, 16);
  p.bankgroups = org.get_int_range("bankgroups", 1, 16);
  p.banks_per_group = org.get_int_range("banks_per_group", 1, 16);
  p.rows = org.get_int_range("rows", 1, 1 << 18);
  p.columns = org.get_int_range("columns", 1, 1 << 14);
  const std::pair<const char*, int64_t> sizes[] = {{"channels", p.channels},
                                                   {"ranks", p.ranks},
                                                   {"bankgroups", p.bankgroups},
                                                   {"banks_per_group", p.banks_per_group},
                                                   {"rows", p.rows},
                                                   {"columns", p.columns}};
  for (const auto& [k, v] : sizes)
    if (!is_pow2(v)) org.fail(k, "must be a power of two (address mapping)");
  if (p.columns < p.burst_length) org.fail("columns", "must hold at least one burst");

  Config t = d.child("timing_ck");
  DramTiming& x = p.t;
  x.cl = t.get_int_range("CL", 1, 1000);
  x.cwl = t.get_int_range("CWL", 1, 1000);
  x.rcd = t.get_int_range("RCD", 1, 1000);
  x.rcd_wr = t.get_int_range("RCD_WR", 1, 1000, x.rcd);
  x.rp = t.get_int_range("RP", 1, 1000);
  x.ras = t.get_int_range("RAS", 1, 1000);
  x.rc = t.get_int_range("RC", 1, 1000);
  x.ccd_s = t.get_int_range("CCD_S", 1, 1000);
  x.ccd_l = t.get_int_range("CCD_L", 1, 1000);
  x.rrd_s = t.get_int_range("RRD_S", 1, 1000);
  x.rrd_l = t.get_int_range("RRD_L", 1, 1000);
  x.faw = t.get_int_range("FAW", 1, 1000);
  x.wtr_s = t.get_int_range("WTR_S", 1, 1000);
  x.wtr_l = t.get_int_range("WTR_L", 1, 1000);
  x.wr = t.get_int_range("WR", 1, 1000);
  x.rtp = t.get_int_range("RTP", 1, 1000);
  x.rfc = t.get_int_range("RFC", 1, 100000);
  x.refi = t.get_int_range("REFI", 1, 1000000);
  x.rtrs = t.get_int_range("RTRS", 1, 1000, 2);
  x.burst = p.burst_length / 2;
  if (x.rc < x.ras + x.rp) t.fail("RC", "must be at least RAS + RP");
  if (x.refi <= x.rfc) t.fail("REFI", "must exceed RFC");
  if (x.ccd_l < x.ccd_s) t.fail("CCD_L", "must be at least CCD_S");

  Config pw = d.child("power");
  std::string model = pw.get_choice("model", {"idd", "per_bit"});
  p.power.idd = model == "idd";
  pw.get<std::string>("source");
  if (p.power.idd) {
    p.power.vdd = pw.get_number_range("vdd", 0.5, 5);
    p.power.idd0 = pw.get_number_range("idd0_ma", 0.1, 10000);
    p.power.idd2n = pw.get_number_range("idd2n_ma", 0.1, 10000);
    p.power.idd3n = pw.get_number_range("idd3n_ma", 0.1, 10000);
    p.power.idd4r = pw.get_number_range("idd4r_ma", 0.1, 10000);
    p.power.idd4w = pw.get_number_range("idd4w_ma", 0.1, 10000);
    p.power.idd5b = pw.get_number_range("idd5b_ma", 0.1, 10000);
    p.power.devices_per_rank = pw.get_int_range("devices_per_rank", 1, 64);
  } else {
    p.power.read_pj_per_bit = pw.get_number_range("read_pj_per_bit", 0.01, 1000);
    p.power.write_pj_per_bit = pw.get_number_range("write_pj_per_bit", 0.01, 1000);
  }

  p.open_page = c.get_choice("page_policy", {"open", "closed"}, "open") == "open";
  const std::string policy =
      c.get_choice("scheduler", {"fcfs", "frfcfs", "frfcfs_write_drain"}, "frfcfs_write_drain");
  p.scheduler = policy == "fcfs"     ? DramPolicy::kFcfs
                : policy == "frfcfs" ? DramPolicy::kFrFcfs
                                     : DramPolicy::kFrFcfsWriteDrain;
  // Defaults of Ramulator 2.0's generic controller (src/dram_controller/impl/
  // generic_dram_controller.cpp: read and write request buffers of 32 (ReqBuffer::max_size,
  // src/base/request.h), write mode above 0.8 of the write buffer, back below 0.2).
  p.read_queue = c.get_int_range("read_queue", 1, 4096, 32);
  p.write_queue = c.get_int_range("write_queue", 1, 4096, 32);
  p.write_high = c.get_number_range("write_high_watermark", 0, 1, 0.8);
  p.write_low = c.get_number_range("write_low_watermark", 0, 1, 0.2);
  if (p.write_low > p.write_high)
    c.fail("write_low_watermark", "must not exceed write_high_watermark");
  // DRAMSys's bank-wise scheduler buffer holds 8 requests per bank (RequestBufferSize);
  // off by default here, as in Ramulator 2.0, where the scheduler sees the whole queues.
  p.bank_queue = c.get_int_range("bank_queue", 0, 4096, 0);
  p.row_hit_cap = c.get_int_range("row_hit_cap", 1, 65536, 16);
  std::vector<Config> fields = c.items("mapping");
  const std::vector<std::pair<std::string, MapField>> names = {
      {"ch", MapField::kChannel}, {"ra", MapField::kRank}, {"bg", MapField::kBankGroup},
      {"ba", MapField::kBank},    {"ro", MapField::kRow},  {"co", MapField::kColumn}};
  std::vector<bool> seen(names.size(), false);
  for (const Config& f : fields) {
    std::string s = f.as<std::string>();
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
