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
  p.data_rate_mtps = d.get_positive("data_rate_mtps");
  p.tck_ns = 2000.0 / p.data_rate_mtps;
  p.bus_bits = d.get_positive_int("bus_bits");
  p.burst_length = d.get_positive_int("burst_length");
  if (p.bus_bits % 8) d.fail("bus_bits", "must be a multiple of 8");
  if (p.burst_length % 2) d.fail("burst_length", "must be even (double data rate)");

  Config org = d.child("org");
  p.channels = org.get_positive_int("channels");
  p.ranks = org.get_positive_int("ranks");
  p.bankgroups = org.get_positive_int("bankgroups");
  p.banks_per_group = org.get_positive_int("banks_per_group");
  p.rows = org.get_positive_int("rows");
  p.columns = org.get_positive_int("columns");
  for (const char* k : {"channels", "ranks", "bankgroups", "banks_per_group", "rows", "columns"})
    if (!is_pow2(org.get<int64_t>(k))) org.fail(k, "must be a power of two (address mapping)");
  if (p.columns < p.burst_length) org.fail("columns", "must hold at least one burst");

  Config t = d.child("timing_ck");
  DramTiming& x = p.t;
  x.cl = t.get_positive_int("CL");
  x.cwl = t.get_positive_int("CWL");
  x.rcd = t.get_positive_int("RCD");
  x.rcd_wr = t.get_positive_int("RCD_WR", x.rcd);
  x.rp = t.get_positive_int("RP");
  x.ras = t.get_positive_int("RAS");
  x.rc = t.get_positive_int("RC");
  x.ccd_s = t.get_positive_int("CCD_S");
  x.ccd_l = t.get_positive_int("CCD_L");
  x.rrd_s = t.get_positive_int("RRD_S");
  x.rrd_l = t.get_positive_int("RRD_L");
  x.faw = t.get_positive_int("FAW");
  x.wtr_s = t.get_positive_int("WTR_S");
  x.wtr_l = t.get_positive_int("WTR_L");
  x.wr = t.get_positive_int("WR");
  x.rtp = t.get_positive_int("RTP");
  x.rfc = t.get_positive_int("RFC");
  x.refi = t.get_positive_int("REFI");
  x.rtrs = t.get_positive_int("RTRS", 2);
  x.burst = p.burst_length / 2;
  if (x.rc < x.ras + x.rp) t.fail("RC", "must be at least RAS + RP");
  if (x.refi <= x.rfc) t.fail("REFI", "must exceed RFC");
  if (x.ccd_l < x.ccd_s) t.fail("CCD_L", "must be at least CCD_S");

  Config pw = d.child("power");
  std::string model = pw.get_choice("model", {"idd", "per_bit"});
  p.power.idd = model == "idd";
  pw.get<std::string>("source");
  if (p.power.idd) {
    p.power.vdd = pw.get_positive("vdd");
    p.power.idd0 = pw.get_positive("idd0_ma");
    p.power.idd2n = pw.get_positive("idd2n_ma");
    p.power.idd3n = pw.get_positive("idd3n_ma");
    p.power.idd4r = pw.get_positive("idd4r_ma");
    p.power.idd4w = pw.get_positive("idd4w_ma");
    p.power.idd5b = pw.get_positive("idd5b_ma");
    p.power.devices_per_rank = pw.get_positive_int("devices_per_rank");
  } else {
    p.power.read_pj_per_bit = pw.get_positive("read_pj_per_bit");
    p.power.write_pj_per_bit = pw.get_positive("write_pj_per_bit");
  }

  p.open_page = c.get_choice("page_policy", {"open", "closed"}, "open") == "open";
  c.get_choice("scheduler", {"frfcfs"}, "frfcfs");
  p.queue_depth = c.get_positive_int("queue_depth", 32);
  p.row_hit_cap = c.get_positive_int("row_hit_cap", 16);
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
