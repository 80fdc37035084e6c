// Builds N:M unit experiment YAML for the tests (one place for the default machine).
#pragma once

#include <cstdio>
#include <string>

#include "runtime/core/error.h"
#include "runtime/core/runner.h"

namespace tessel::nm_unit::testing {

struct Machine {
  int rows = 32, cols = 32, lanes = 8, window = 16, mux_fanin = 8, slots = 4;
  double weight_kib = 256, act_kib = 256, out_kib = 16;
  double read_gbps = 410, write_gbps = 410, latency_ns = 100, clock_ghz = 1.0;
  const char* mode = "sparse";
  const char* dtype = "int8";
  const char* patterns = "[\"1:4\", \"2:4\", \"2:8\", \"4:8\"]";
  std::string memory;  // "": the link; else hw.memory (a device file)
  int max_outstanding = 256, request_bytes = 64;
};

struct Gemm {
  long m = 64, n = 48, k = 128;
  std::string pattern = "2:4";
  bool functional = true;
  std::string extra;  // more workload keys, "key: value" lines
};

inline std::string experiment_yaml(const Machine& h, const Gemm& g, const char* model) {
  const std::string memory = h.memory.empty() ? "" : "  memory: " + h.memory + "\n";
  const std::string port = h.memory.empty()
                               ? ""
                               : ", request_bytes: " + std::to_string(h.request_bytes) +
                                     ", max_outstanding: " + std::to_string(h.max_outstanding);
  char buf[4096];
  std::snprintf(buf, sizeof buf,
                "seed: 5\n"
                "hw:\n  model: %s\n  clock_ghz: %g\n  rows: %d\n  cols: %d\n  lanes: %d\n"
                "  window: %d\n  mux_fanin: %d\n  patterns: %s\n  mode: %s\n  dtype: %s\n"
                "  buffers: {slots: %d, weight_kib: %g, act_kib: %g, out_kib: %g}\n"
                "  offchip: {read_gbps: %g, write_gbps: %g, latency_ns: %g%s}\n%s"
                "  energy: {table: %s/configs/energy/45nm.yaml}\n"
                "workload:\n  kind: gemm\n  m: %ld\n  n: %ld\n  k: %ld\n  pattern: \"%s\"\n"
                "  functional: %s\n%s",
                model, h.clock_ghz, h.rows, h.cols, h.lanes, h.window, h.mux_fanin, h.patterns,
                h.mode, h.dtype, h.slots, h.weight_kib, h.act_kib, h.out_kib, h.read_gbps,
                h.write_gbps, h.latency_ns, port.c_str(), memory.c_str(), TESSEL_SOURCE_DIR, g.m,
                g.n, g.k, g.pattern.c_str(), g.functional ? "true" : "false", g.extra.c_str());
  return buf;
}

// The analytical twin run on one machine and GEMM, and the ConfigError message it gives
// ("no error" when it runs).
inline SimResult twin(const Machine& h, const Gemm& g) {
  return run_experiment(Config::parse(experiment_yaml(h, g, "nm_unit_analytical"), "exp.yaml"));
}

inline std::string config_error(const Machine& h, const Gemm& g) {
  try {
    twin(h, g);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace tessel::nm_unit::testing
