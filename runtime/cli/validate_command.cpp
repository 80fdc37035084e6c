// `tessel validate`: runs the RTL unit checks and the model cross-checks, writes report.md.
#include "runtime/cli/validate_command.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/cli/cli_checks.h"
#include "runtime/core/atomic_file.h"
#include "runtime/core/error.h"
#include "runtime/core/registry.h"
#include "runtime/core/runner.h"
#ifdef TESSEL_VALIDATE_RTL
#include "runtime/validate/rtl_checks.h"
#endif

#ifndef TESSEL_SOURCE_DIR
#define TESSEL_SOURCE_DIR "."
#endif

namespace fs = std::filesystem;

namespace tessel::cli {
namespace {

struct Options {
  std::string out_dir = "results/validation";
  uint64_t seed = 20261126;
  int64_t vectors = 10000;
};
Options g_opt;

// Shipped configs, from the working directory when run in a checkout, else the source tree.
std::string config_path(const std::string& rel) {
  return fs::exists(rel) ? rel : std::string(TESSEL_SOURCE_DIR) + "/" + rel;
}

// What a forked child brings back about one experiment.
struct ChildResult {
  int ran = 0;  // 1: the experiment finished
  uint64_t cycles = 0;
  int checks_passed = -1;  // -1: no functional check
  double max_error = 0;
  uint64_t fingerprint = 0;     // hash of every counter and metric
  double timing_commands = -1;  // memory: DRAM commands the timing checker replayed (-1: none)
  double timing_violations = 0;
  char failed_check[512] = {0};  // the first check that did not pass, with its detail
  char error[512] = {0};
};

// SystemC elaborates once per process, so every SystemC experiment runs in its own child
// (the parent never starts a simulation); the result comes back through a pipe.
ChildResult run_in_child(const std::string& experiment, const std::vector<std::string>& sets) {
  int fds[2];
  if (::pipe(fds) != 0) throw IoError("tessel validate: pipe() failed");
  std::cout.flush();
  const pid_t pid = ::fork();
  if (pid < 0) throw IoError("tessel validate: fork() failed");
  if (pid == 0) {
    ::close(fds[0]);
    ChildResult r;
    try {
      std::vector<Override> overrides;
      for (const auto& s : sets) overrides.push_back(parse_override(s));
      const SimResult s = run_experiment(load_experiment(config_path(experiment), overrides));
      r.ran = 1;
      r.cycles = s.cycles;
      r.checks_passed = s.checks.empty() ? -1 : (s.checks_passed() ? 1 : 0);
      for (const auto& c : s.checks) {
        r.max_error = std::max(r.max_error, c.max_error);
        if (!c.passed && !r.failed_check[0])
          std::snprintf(r.failed_check, sizeof r.failed_check, "%s: %s", c.name.c_str(),
                        c.detail.c_str());
      }
      if (s.metrics.count("timing_commands_checked")) {
        r.timing_commands = s.metrics.at("timing_commands_checked");
        r.timing_violations = s.metrics.at("timing_violations");
      }
      const auto j = s.to_json();
      r.fingerprint = std::hash<std::string>{}(j["counters"].dump() + j["metrics"].dump());
    } catch (const std::exception& e) {
      std::snprintf(r.error, sizeof r.error, "%s", e.what());
    }
    const ssize_t n = ::write(fds[1], &r, sizeof r);
    ::_exit(n == static_cast<ssize_t>(sizeof r) ? 0 : 1);
  }
  ::close(fds[1]);
  ChildResult r;
  if (::read(fds[0], &r, sizeof r) != static_cast<ssize_t>(sizeof r))
    std::snprintf(r.error, sizeof r.error, "the simulation process died");
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return r;
}

struct ModelRow {
  std::string check, against, compared;
  std::string max_error = "–", cycles = "–", delta = "–";
  bool passed = false;
  std::string note;
  bool skipped = false;  // the build lacks the model (no SystemC)
};

bool registered(const std::string& model) {
  for (const auto& e : Registry::instance().entries())
    if (e.name == model) return true;
  return false;
}

std::string fmt_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string delta_text(uint64_t a, uint64_t b) {
  const int64_t d = static_cast<int64_t>(a) - static_cast<int64_t>(b);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%+lld (%+.2f%%)", static_cast<long long>(d),
                b ? 100.0 * static_cast<double>(d) / static_cast<double>(b) : 0.0);
  return buf;
}

std::string child_error(const ChildResult& r) {
  return r.ran ? std::string() : std::string("did not run: ") + r.error;
}

// A cycle-level model's functional check against its reference kernel.
ModelRow functional_row(const std::string& model, const std::string& reference,
                        const ChildResult& r) {
  ModelRow row{model, reference, "every output", "–", "–", "–", false, child_error(r)};
  if (!r.ran) return row;
  row.max_error = fmt_double(r.max_error);
  row.cycles = std::to_string(r.cycles);
  row.passed = r.checks_passed == 1 && r.max_error == 0;
  if (r.failed_check[0]) row.note = r.failed_check;
  return row;
}

// Analytical twin vs the cycle-level model, within the bound the sim tests assert: 5% for
// LSTM-Sharp and N:M, exact for the MAC array (tests/sim/mac_array asserts equal cycles).
ModelRow twin_row(const std::string& twin, const std::string& model, const ChildResult& t,
                  const ChildResult& m, double tolerance = 0.05) {
  ModelRow row{twin, model, "cycles", "–", "–", "–", false, child_error(t) + child_error(m)};
  if (!t.ran || !m.ran) return row;
  row.cycles = std::to_string(t.cycles) + " / " + std::to_string(m.cycles);
  row.delta = delta_text(t.cycles, m.cycles);
  const double rel = std::abs(static_cast<double>(t.cycles) - static_cast<double>(m.cycles)) /
                     static_cast<double>(std::max<uint64_t>(m.cycles, 1));
  row.passed = rel <= tolerance;
  row.note = tolerance == 0 ? "exact" : "tolerance " + fmt_double(100 * tolerance) + "%";
  return row;
}

// A memory run with workload.check_timing: every request completes once, bytes are
// conserved, and the DRAM command log obeys the JEDEC constraints (dram_timing_check.h).
ModelRow memory_row(const std::string& what, const ChildResult& r) {
  ModelRow row{what,
               "JEDEC timing checker, request conservation",
               "DRAM commands, requests",
               "–",
               "–",
               "–",
               false,
               child_error(r)};
  if (!r.ran) return row;
  row.max_error = fmt_double(r.max_error);
  row.cycles = std::to_string(r.cycles);
  const bool checked = r.timing_commands > 0;
  row.passed = r.checks_passed == 1 && checked && r.timing_violations == 0;
  row.note = checked ? fmt_double(r.timing_commands) + " commands checked, " +
                           fmt_double(r.timing_violations) + " violations"
                     : "no DRAM command was checked";
  if (r.failed_check[0]) row.note += "; " + std::string(r.failed_check);
  return row;
}

std::vector<ModelRow> model_rows() {
  std::vector<ModelRow> rows;
  if (!registered("lstm_sharp") || !registered("nm_unit") || !registered("mac_array") ||
      !registered("memory")) {
    ModelRow row{"cycle-level models", "references, twins", "–"};
    row.skipped = true;
    row.note = "skipped: this build has no SystemC (TESSEL_SYSTEMC=OFF)";
    rows.push_back(row);
    return rows;
  }
  // LSTM-Sharp on hidden 64 with 2 tiles of 4 K=8 DPUs (2-layer bidirectional LSTM,
  // configs/workloads/lstm/tiny_functional.yaml).
  const std::string lstm = "configs/experiments/lstm_sharp_tiny.yaml";
  const std::vector<std::string> small = {"hw.tiles=2", "hw.mac_budget=64", "hw.dpu_width=8",
                                          "hw.reconfigurable=false"};
  std::cout << "running lstm_sharp (SystemC) ...\n";
  const ChildResult sc = run_in_child(lstm, small);
  rows.push_back(functional_row("lstm_sharp (SystemC)", "models/lstm fixed-point LSTM", sc));
#ifdef TESSEL_VALIDATE_RTL
  {
    std::vector<std::string> sets = small;
    sets.push_back("hw.rtl={dpu: true}");
    std::cout << "running lstm_sharp with the Verilated DPU ...\n";
    const ChildResult co = run_in_child(lstm, sets);
    ModelRow row{"lstm_sharp + Verilated DPU",
                 "lstm_sharp (behavioural DPU)",
                 "outputs, cycles, counters",
                 "–",
                 "–",
                 "–",
                 false,
                 child_error(co) + child_error(sc)};
    if (co.ran && sc.ran) {
      row.max_error = fmt_double(co.max_error);
      row.cycles = std::to_string(co.cycles) + " / " + std::to_string(sc.cycles);
      row.delta = delta_text(co.cycles, sc.cycles);
      row.passed = co.checks_passed == 1 && co.max_error == 0 && co.cycles == sc.cycles &&
                   co.fingerprint == sc.fingerprint;
      row.note = co.fingerprint == sc.fingerprint ? "identical counters" : "counters differ";
    }
    rows.push_back(row);
  }
#endif
  {
    std::vector<std::string> sets = small;
    sets.push_back("hw.model=lstm_sharp_analytical");
    sets.push_back("workload.functional=false");
    std::cout << "running lstm_sharp_analytical ...\n";
    rows.push_back(
        twin_row("lstm_sharp_analytical", "lstm_sharp (SystemC)", run_in_child(lstm, sets), sc));
  }
  const std::string nm_unit = "configs/experiments/nm_unit_small.yaml";
  std::cout << "running nm_unit (SystemC) ...\n";
  const ChildResult nsc = run_in_child(nm_unit, {});
  rows.push_back(functional_row("nm_unit (SystemC)", "models/sparse nm_gemm_reference", nsc));
  std::cout << "running nm_unit_analytical ...\n";
  rows.push_back(twin_row("nm_unit_analytical", "nm_unit (SystemC)",
                          run_in_child(nm_unit, {"hw.model=nm_unit_analytical"}), nsc));

  // The MAC array on the shipped 256^3 GEMM and on a ragged shape (partial tiles in every
  // dimension); its twin must match the cycle count exactly.
  const std::string mac = "configs/experiments/mac_array_gemm.yaml";
  const std::vector<std::vector<std::string>> mac_shapes = {
      {}, {"workload.m=100", "workload.n=70", "workload.k=130"}};
  for (const auto& shape : mac_shapes) {
    const std::string dims = shape.empty() ? "256x256x256" : "100x70x130";
    std::cout << "running mac_array (SystemC) on " << dims << " ...\n";
    const ChildResult m = run_in_child(mac, shape);
    rows.push_back(functional_row("mac_array (SystemC) " + dims, "linalg gemm_int8", m));
    std::vector<std::string> sets = shape;
    sets.push_back("hw.model=mac_array_analytical");
    sets.push_back("workload.functional=false");
    std::cout << "running mac_array_analytical on " << dims << " ...\n";
    rows.push_back(twin_row("mac_array_analytical " + dims, "mac_array (SystemC)",
                            run_in_child(mac, sets), m, 0.0));
  }

  // The memory models: mixed reads and writes on three DRAM standards (row conflicts,
  // refresh, read/write turnarounds), then the DRAM + NVM + SSD hierarchy on a tensor trace.
  const std::string mem = "configs/experiments/memory_device.yaml";
  for (const char* device : {"ddr4_3200", "ddr5_4800", "hbm3"}) {
    std::cout << "running memory (SystemC) on " << device << " ...\n";
    rows.push_back(memory_row(
        std::string("memory ") + device + " (SystemC)",
        run_in_child(
            mem,
            {"hw.device=" + config_path(std::string("configs/hw/memory/") + device + ".yaml"),
             "workload.pattern=mixed", "workload.requests=20000", "workload.check_timing=true"})));
  }
  std::cout << "running memory (SystemC) on DRAM + NVM + SSD ...\n";
  rows.push_back(memory_row(
      "memory dram+nvm+ssd (SystemC)",
      run_in_child("configs/experiments/memory_tiers_trace.yaml", {"workload.check_timing=true"})));
  return rows;
}

std::string pass_text(bool p) {
  return p ? "pass" : "**FAIL**";
}

}  // namespace

CLI::App* add_validate_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "validate", "Cross-validate RTL, SystemC models and references; write a report");
  sub->add_option("--out", g_opt.out_dir, "Report folder (default: results/validation)");
  sub->add_option("--seed", g_opt.seed, "Seed of the random RTL vectors");
  sub->add_option("--vectors", g_opt.vectors, "Random vectors per RTL unit and parameter set")
      ->check(positive_integer(LLONG_MAX));
  return sub;
}

int run_validate_command() {
  std::ostringstream md;
  bool all = true;
  std::vector<std::string> skipped;  // parts this build cannot run
  md << "# Cross-validation report\n\n"
     << "Produced by `tessel validate --seed " << g_opt.seed << " --vectors " << g_opt.vectors
     << "` (docs/rtl.md explains every check). RTL numbers come from the Verilated units in "
        "rtl/, SystemC numbers from the models in sim/, references from models/.\n\n";

  md << "## RTL units (Verilator) against reference kernels and SystemC timing\n\n";
#ifdef TESSEL_VALIDATE_RTL
  rtl::CheckOptions opt;
  opt.seed = g_opt.seed;
  opt.random_vectors = g_opt.vectors;
  opt.source_dir = fs::exists("configs") && fs::exists("tests/models/lstm/golden")
                       ? fs::current_path().string()
                       : std::string(TESSEL_SOURCE_DIR);
  opt.trace_dir = g_opt.out_dir + "/traces";
  std::cout << "running the RTL unit checks ...\n";
  const std::vector<rtl::UnitCheck> units = rtl::run_all_checks(opt);
  md << "Max error is in LSBs of the unit's output format. Latency: cycles from the input "
        "that completes a result to the result; II: cycles per input beat when fed back to "
        "back. Δ = RTL − SystemC.\n\n"
     << "| Unit | Parameters | Suite | Outputs | Mismatches | Max error | Latency RTL / "
        "SystemC | Δ latency | II RTL / SystemC | Result |\n"
     << "|---|---|---|---:|---:|---:|---|---:|---|---|\n";
  std::vector<std::string> notes;
  for (const auto& u : units) {
    all = all && u.passed();
    auto num = [](int64_t v) { return v < 0 ? std::string("–") : std::to_string(v); };
    const std::string ii = u.ii_sc < 0 && u.ii_rtl < 0 ? "–" : num(u.ii_rtl) + " / " + num(u.ii_sc);
    md << "| " << u.unit << " | " << u.params << " | " << rtl::suite_name(u.suite) << " | "
       << u.vectors << " | " << u.mismatches << " | " << fmt_double(u.max_error) << " | "
       << num(u.latency_rtl) << " / " << num(u.latency_sc) << " | "
       << (u.latency_rtl >= 0 && u.latency_sc >= 0 ? std::to_string(u.latency_rtl - u.latency_sc)
                                                   : "–")
       << " | " << ii << " | " << pass_text(u.passed()) << " |\n";
    if (!u.passed())
      notes.push_back("- " + u.unit + " " + u.params + " " + rtl::suite_name(u.suite) + ": " +
                      u.first_mismatch +
                      (u.trace_path.empty() ? "" : " (trace " + u.trace_path + ")"));
    const std::string timing = "- " + u.unit + " " + u.params + ": " + u.timing_note;
    if (notes.empty() || std::find(notes.begin(), notes.end(), timing) == notes.end())
      notes.push_back(timing);
  }
  md << "\nSystemC timing sources and failures:\n\n";
  for (const auto& n : notes) md << n << "\n";
  md << "\n";
#else
  skipped.push_back("RTL units");
  md << "Skipped: this build has no Verilator (TESSEL_RTL=OFF or verilator not found), so "
        "the RTL half of the suite did not run.\n\n";
#endif

  md << "## Models: cycle-level against references and analytical twins\n\n"
     << "| Model | Against | Compared | Max error | Cycles (model / against) | Δ cycles | "
        "Result | Note |\n"
     << "|---|---|---|---:|---|---:|---|---|\n";
  for (const auto& r : model_rows()) {
    all = all && r.passed;
    md << "| " << r.check << " | " << r.against << " | " << r.compared << " | " << r.max_error
       << " | " << r.cycles << " | " << r.delta << " | " << pass_text(r.passed) << " | " << r.note
       << " |\n";
  }
  md << "\n**Overall: " << (all ? "pass" : "FAIL") << "**";
  for (size_t i = 0; i < skipped.size(); ++i)
    md << (i ? ", " : " (skipped: ") << skipped[i] << (i + 1 == skipped.size() ? ")" : "");
  md << "\n";
  // rtl/area.sh (yosys, minutes) writes its table beside this report; point to it.
  if (fs::exists(g_opt.out_dir + "/area.md"))
    md << "\nGate counts of the RTL units beside the energy-table assumptions: area.md "
          "(rtl/area.sh).\n";

  std::error_code ec;
  fs::create_directories(g_opt.out_dir, ec);
  const std::string path = g_opt.out_dir + "/report.md";
  write_file_atomic(path, md.str(), false);
  std::cout << md.str() << "\nwrote " << path << "\n";
  return all ? kExitOk : kExitFailure;
}

}  // namespace tessel::cli
