// The declared keys of the memory models' config forms. Ranges are the readers' (beyond
// today's parts, and small enough that capacities and addresses fit 64 bits); help texts
// follow configs/README.md and docs/memory.md.
#include "sim/memory/memory_keys.h"

namespace tessel::memory {
namespace {

// Sets `path_too` on a `nested` key: its value may also be a file of that form.
Key& path_or_mapping(Key& k) {
  k.path_too = true;
  return k;
}

// The keys of one device description, at the root of `k`: a device file, an inline device,
// or a hw file that is one device. `in_hierarchy`: the keys a hierarchy's root shares with
// a device (`kind` is then needed only when the root is the device).
void declare_device(KeySet& k, bool in_hierarchy) {
  Key& kind = k.choice("kind", {"dram", "nvm", "ssd"},
                       "which device section the description holds (`dram:` with "
                       "`controller:`, `nvm:` or `ssd:`)");
  if (in_hierarchy) kind.opt("required when the hw file is one device");
  k.text("name",
         "tier name used in counters and metrics (`dram.read`, `nvm.rmw`); ignored in a device "
         "of `tiers:` (the tier's `name` counts)")
      .def("mem");
  k.text("description", "free text").opt("none");
  path_or_mapping(k.nested("link", pcie_keys(),
                           "PCIe link in front of the device: a link file (path relative to "
                           "this file) or inline (keys in configs/README.md, \"link (PCIe)\")")
                      .opt("none"));
  k.section("dram", "`kind: dram`: the DRAM device");
  k.include("dram", dram_keys());
  k.section("controller", "`kind: dram`: its memory controller");
  k.include("controller", controller_keys());
  k.section("nvm", "`kind: nvm`: the NVM DIMMs (all keys required)");
  k.include("nvm", nvm_keys());
  k.section("ssd", "`kind: ssd`: the SSD");
  k.include("ssd", ssd_keys());
}

}  // namespace

const KeySet& dram_keys() {
  static const KeySet keys = [] {
    KeySet k("dram");
    k.choice("standard", {"DDR4", "DDR5", "HBM2E", "HBM3"}, "label");
    k.number("data_rate_mtps", 100, 40000, "transfers per second per pin; tCK = 2000 / rate ns")
        .in("MT/s");
    k.integer("bus_bits", 8, 1024, "channel (pseudo-channel, subchannel) width; a multiple of 8")
        .in("bit");
    k.integer("burst_length", 2, 32,
              "BL, even; a burst moves bus_bits/8 · BL bytes in BL/2 clocks");
    k.section("org", "organisation; every size a power of two (address mapping)");
    k.integer("org.channels", 1, 256, "channels (HBM: pseudo-channels of all stacks)");
    k.integer("org.ranks", 1, 16, "ranks per channel");
    k.integer("org.bankgroups", 1, 16, "bank groups per rank");
    k.integer("org.banks_per_group", 1, 16, "banks per bank group");
    k.integer("org.rows", 1, 1 << 18, "rows per bank");
    k.integer("org.columns", 1, 1 << 14,
              "columns of bus width per row, at least one burst (a device holds at most 2⁵⁹ "
              "bytes)");
    k.section("timing_ck", "JEDEC timing constraints in clocks (tCK)");
    const char* core[][2] = {
        {"CL", "read latency (CAS)"}, {"CWL", "write latency"}, {"RCD", "ACT to RD/WR"}};
    for (const auto& t : core) k.integer(std::string("timing_ck.") + t[0], 1, 1000, t[1]).in("tCK");
    k.integer("timing_ck.RCD_WR", 1, 1000, "ACT to WR (HBM)").opt("RCD").in("tCK");
    const char* rest[][2] = {{"RP", "PRE to ACT"},
                             {"RAS", "ACT to PRE"},
                             {"RC", "ACT to ACT, same bank; at least RAS + RP"},
                             {"CCD_S", "column to column, other bank group"},
                             {"CCD_L", "column to column, same bank group; at least CCD_S"},
                             {"RRD_S", "ACT to ACT, other bank group"},
                             {"RRD_L", "ACT to ACT, same bank group"},
                             {"FAW", "four-activate window"},
                             {"WTR_S", "write to read, other bank group"},
                             {"WTR_L", "write to read, same bank group"},
                             {"WR", "write recovery"},
                             {"RTP", "read to PRE"}};
    for (const auto& t : rest) k.integer(std::string("timing_ck.") + t[0], 1, 1000, t[1]).in("tCK");
    k.integer("timing_ck.RFC", 1, 100000, "all-bank refresh cycle time").in("tCK");
    k.integer("timing_ck.REFI", 1, 1000000, "refresh interval; more than RFC").in("tCK");
    k.integer("timing_ck.RTRS", 1, 1000, "rank-to-rank data-bus switch").def("2").in("tCK");
    k.section("power", "energy figures");
    k.choice("power.model", {"idd", "per_bit"}, "DRAMPower currents or pJ per bit");
    k.text("power.source", "citation of the figures");
    k.number("power.vdd", 0.5, 5, "`idd` model: supply").opt("required with `idd`").in("V");
    const char* currents[][2] = {
        {"idd0_ma", "IDD0: one bank ACT-PRE"}, {"idd2n_ma", "IDD2N: precharge standby"},
        {"idd3n_ma", "IDD3N: active standby"}, {"idd4r_ma", "IDD4R: burst read"},
        {"idd4w_ma", "IDD4W: burst write"},    {"idd5b_ma", "IDD5B: burst refresh"}};
    for (const auto& c : currents)
      k.number(std::string("power.") + c[0], 0.1, 10000,
               std::string("`idd` model: ") + c[1] + ", per device")
          .opt("required with `idd`")
          .in("mA");
    k.integer("power.devices_per_rank", 1, 64, "`idd` model: devices that draw those currents")
        .opt("required with `idd`");
    k.number("power.read_pj_per_bit", 0.01, 1000, "`per_bit` model: read energy")
        .opt("required with `per_bit`")
        .in("pJ/bit");
    k.number("power.write_pj_per_bit", 0.01, 1000, "`per_bit` model: write energy")
        .opt("required with `per_bit`")
        .in("pJ/bit");
    return k;
  }();
  return keys;
}

// Defaults of Ramulator 2.0's generic controller (src/dram_controller/impl/
// generic_dram_controller.cpp; request buffers of 32, src/base/request.h).
const KeySet& controller_keys() {
  static const KeySet keys = [] {
    KeySet k("controller");
    k.choice("page_policy", {"open", "closed"},
             "closed: auto-precharge when no queued request hits the row")
        .def("open");
    k.choice("scheduler", {"fcfs", "frfcfs", "frfcfs_write_drain"},
             "`frfcfs_write_drain`: reads first, writes drained between the watermarks "
             "(docs/memory.md, DRAM)")
        .def("frfcfs_write_drain");
    k.integer("read_queue", 1, 4096, "read queue per channel (Ramulator 2.0's generic controller)")
        .def("32")
        .in("bursts");
    k.integer("write_queue", 1, 4096, "write queue per channel (Ramulator 2.0)")
        .def("32")
        .in("bursts");
    k.number("write_high_watermark", 0, 1,
             "fraction of `write_queue` that starts a write drain (Ramulator 2.0)")
        .def("0.8");
    k.number("write_low_watermark", 0, 1,
             "fraction of `write_queue` that ends a write drain; at most the high watermark")
        .def("0.2");
    k.integer("bank_queue", 0, 4096,
              "per-bank command queue entries the scheduler sees (0: all; DRAMSys's bank-wise "
              "buffers hold 8)")
        .def("0");
    k.integer("row_hit_cap", 1, 65536,
              "hits a row serves before a waiting conflict may close it (FR-FCFS policies)")
        .def("16");
    k.list("mapping",
           "address fields, most significant first: each of ch, ra, bg, ba, ro, co once");
    k.choice("mapping[]", {"ch", "ra", "bg", "ba", "ro", "co"}, "one address field");
    return k;
  }();
  return keys;
}

const KeySet& nvm_keys() {
  static const KeySet keys = [] {
    KeySet k("nvm");
    k.integer("dimms", 1, 64, "DIMMs, interleaved");
    k.integer("interleave_bytes", 64, 1 << 30, "interleave granularity; a multiple of `line_bytes`")
        .in("B");
    k.number("capacity_gib_per_dimm", 0.001, 4096, "capacity per DIMM").in("GiB");
    k.integer("line_bytes", 64, 4096, "internal access unit; a multiple of 64").in("B");
    k.number("read_latency_ns", 1, 1e6, "media read, idle").in("ns");
    k.number("buffer_hit_latency_ns", 1, 1e6, "read served by the on-DIMM buffer").in("ns");
    k.integer("buffer_lines", 1, 1 << 20,
              "on-DIMM buffer (reads and write combining); random replacement")
        .in("lines");
    k.number("write_latency_ns", 1, 1e6, "store to persistence (WPQ entry), idle").in("ns");
    k.integer("wpq_entries", 1, 65536, "iMC write-pending queue per DIMM, 64 B entries");
    k.number("channel_gbps", 0.01, 10000, "memory channel: one 64 B transfer per WPQ entry")
        .in("GB/s");
    k.number("read_gbps_per_dimm", 0.01, 1000,
             "media read throughput: a line keeps the DIMM's one media scheduler busy line / "
             "rate")
        .in("GB/s");
    k.number("write_gbps_per_dimm", 0.01, 1000, "media write throughput").in("GB/s");
    k.section("energy", "array energy");
    k.number("energy.read_pj_per_bit", 0.001, 10000, "media read energy").in("pJ/bit");
    k.number("energy.write_pj_per_bit", 0.001, 10000, "media write energy").in("pJ/bit");
    k.text("energy.source", "citation of the figures");
    return k;
  }();
  return keys;
}

const KeySet& ssd_keys() {
  static const KeySet keys = [] {
    KeySet k("ssd");
    k.number("capacity_gib", 0.001, 65536,
             "logical capacity (at most 2³¹ mapping units, physical below 2³² − 2)")
        .in("GiB");
    k.number("overprovisioning", 0.001, 1, "spare fraction: physical = logical · (1 + op)");
    k.integer("channels", 1, 64, "flash channels");
    k.integer("dies_per_channel", 1, 64, "dies on each channel");
    k.integer("planes_per_die", 1, 16, "planes per die");
    k.integer("page_bytes", 512, 65536, "flash page; a multiple of `sector_bytes`").in("B");
    k.integer("pages_per_block", 1, 4096, "pages per erase block");
    k.integer("sector_bytes", 512, 65536,
              "host sector: the smallest transfer; the mapping unit with `mapping: sector`")
        .def("4096")
        .in("B");
    k.choice("mapping", {"sector", "page"},
             "mapping unit: sectors packed into pages, or whole pages (a write of part of a "
             "page reads it first: read-modify-write)")
        .def("sector");
    k.flag("multi_plane",
           "programs and erases span a die's planes; a read joins a not-yet-started read of "
           "another plane at the same page offset. false: one plane per operation")
        .def("true");
    k.number("read_us", 0.1, 100000, "array page read time").in("µs");
    k.number("program_us", 0.1, 100000, "array page program time").in("µs");
    k.number("erase_us", 0.1, 100000, "array block erase time").in("µs");
    k.number("channel_mbps", 1, 100000, "flash bus per channel").in("MB/s");
    k.number("firmware_us", 0.001, 10000, "controller processing per command").in("µs");
    // Host defaults: docs/memory.md, "SSD".
    k.number("host_submit_us", 0, 10000,
             "host submission (driver, doorbell, command fetch) before the device sees a "
             "command")
        .def("1")
        .in("µs");
    k.choice("completion", {"interrupt", "polling"}, "how the host learns of a completion")
        .def("interrupt");
    k.number("host_poll_us", 0, 10000, "host completion time after the device posts it, polled")
        .def("1")
        .in("µs");
    k.number("host_interrupt_us", 0, 10000,
             "host completion time after the device posts it, by interrupt")
        .def("5")
        .in("µs");
    k.integer("write_buffer_pages", 1, 1 << 20, "DRAM write buffer").in("pages");
    k.integer("queue_depth", 1, 65536, "commands the device holds");
    k.integer("gc_reserve_superblocks", 0, 64,
              "free superblocks kept beyond the one being filled (0: a victim is collected "
              "while each superblock fills)")
        .def("0");
    k.number("prefill", 0, 1, "fraction written before the run").def("0");
    k.section("energy", "NAND array energy = VCC · ICC · operation time");
    k.number("energy.vcc", 0.5, 5, "array supply").in("V");
    k.number("energy.icc_ma", 0.01, 1000, "array current (ICC1/ICC2/ICC3 of ONFI datasheets)")
        .in("mA");
    k.text("energy.source", "citation of the figures");
    return k;
  }();
  return keys;
}

const KeySet& pcie_keys() {
  static const KeySet keys = [] {
    KeySet k("link");
    k.integer("gen", 1, 5, "PCIe generation");
    k.integer("lanes", 1, 16, "link width: 1, 2, 4, 8 or 16");
    k.number("latency_ns", 0, 1e6, "one way").in("ns");
    k.integer("max_payload_bytes", 128, 4096, "TLP payload").def("256").in("B");
    k.integer("tlp_overhead_bytes", 1, 256, "header, sequence number, LCRC, framing per TLP")
        .def("24")
        .in("B");
    k.number("pj_per_bit", 0, 1000, "link energy (0: none)").def("0").in("pJ/bit");
    k.text("source", "citation of `pj_per_bit`").opt("none");
    return k;
  }();
  return keys;
}

const KeySet& device_keys() {
  static const KeySet keys = [] {
    KeySet k("memory device");
    declare_device(k, false);
    // A device file is a complete hw file of its own (usable alone as `model: memory`).
    k.text("model",
           "the model when the file is used alone as hw (`memory`); ignored inside a hierarchy")
        .opt("none");
    k.open("energy",
           "the energy table when the file is used alone as hw (configs/README.md, shared "
           "keys); ignored inside a hierarchy");
    return k;
  }();
  return keys;
}

const KeySet& hierarchy_keys() {
  static const KeySet keys = [] {
    KeySet k("memory hierarchy");
    // Form 1: the hw file is one device (`kind:` at the root).
    declare_device(k, true);
    // Form 2: one device named by path (a sweep swaps `hw.device`) or given inline.
    path_or_mapping(k.nested("device", device_keys(),
                             "the one device of a single-tier hw file: a device file (path "
                             "relative to this file) or inline")
                        .opt("none"));
    // Form 3: tiers, taking consecutive flat address ranges in list order.
    k.list("tiers", "a hierarchy: tiers take consecutive flat address ranges in list order")
        .opt("none");
    k.text("tiers[].name", "tier name (unique)");
    path_or_mapping(
        k.nested("tiers[].device", device_keys(), "the tier's device: device file or inline"));
    path_or_mapping(k.nested("tiers[].link", pcie_keys(),
                             "PCIe link in front of this tier: link file or inline")
                        .opt("none"));
    k.section("placement", "`tiers:` only: where trace objects live");
    k.text("placement.default", "tier for objects not listed").opt("the first tier");
    k.open("placement.objects",
           "mapping of trace object name to tier name (checked by read_hierarchy)");
    return k;
  }();
  return keys;
}

const KeySet& memory_file_keys() {
  static const KeySet keys = [] {
    KeySet k("memory hw");
    k.include("", shared_hw_keys(true));
    k.include("", hierarchy_keys());
    return k;
  }();
  return keys;
}

const KeySet& memory_workload_keys() {
  static const KeySet keys = [] {
    KeySet k("memory workload");
    k.text("description", "free text").opt("none");
    k.choice("kind", {"synthetic", "trace"}, "generator or trace file");
    k.file("trace",
           "`kind: trace`: text or binary trace (runtime/core/memory_trace.h); one without "
           "requests is an error, as is a request outside the memory")
        .opt("required with `kind: trace`")
        .when("kind", {"trace"});
    k.choice("pattern", {"streaming", "random", "mixed"},
             "synthetic: sequential, uniform random, random with writes")
        .opt("required with `kind: synthetic`")
        .when("kind", {"synthetic"});
    // requests · interarrival_ns · 1000 (issue times in ps) stays below 2^63.
    k.integer("requests", 1, 1000000000, "synthetic requests")
        .opt("required with `kind: synthetic`")
        .when("kind", {"synthetic"});
    k.integer("request_bytes", 1, 1ll << 30, "size of each synthetic request")
        .def("64")
        .in("B")
        .when("kind", {"synthetic"});
    k.number("footprint_mib", 0.001, 1 << 26,
             "address range covered (from the tier's base); at least one request, at most the "
             "tier's capacity")
        .opt("required with `kind: synthetic`")
        .in("MiB")
        .when("kind", {"synthetic"});
    k.number("read_fraction", 0, 1, "share of reads")
        .opt("1 (streaming, random), 2/3 (mixed)")
        .when("kind", {"synthetic"});
    k.number("interarrival_ns", 0, 1e6,
             "0: as fast as possible; else request i issues at i · interarrival")
        .def("0")
        .in("ns")
        .when("kind", {"synthetic"});
    k.text("tier", "tier the synthetic traffic targets")
        .opt("the placement default")
        .when("kind", {"synthetic"});
    k.integer("max_outstanding", 1, 65536, "requests in flight (host queue depth)").def("64");
    k.flag("check_timing",
           "log every DRAM command and replay the log through the JEDEC timing checker "
           "(sim/memory/dram_timing_check.h); adds a check and the metrics "
           "`timing_commands_checked`, `timing_violations` (`tessel validate` uses it)")
        .def("false");
    return k;
  }();
  return keys;
}

}  // namespace tessel::memory
