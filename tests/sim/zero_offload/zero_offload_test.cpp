// ZeRO-Offload step model (SystemC): step times against hand calculations on a 2-layer toy,
// with and without the delayed parameter update; PCIe traffic of exactly 2 bytes per
// parameter each way with the link's TLP arithmetic; the paper's 10B V100 throughput;
// "does not fit" as a result; config errors with file:line. SystemC simulates once per
// process, so every simulation runs in a forked child.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/core/runner.h"
#include "runtime/sweep/sweep_plan.h"
#include "sim/memory/dram_params.h"
#include "sim/zero_offload/zero_offload_params.h"
#include "tests/sim/in_child.h"

namespace tessel {
namespace {

const std::string kSrc = TESSEL_SOURCE_DIR;

// Runs `f` in a child process (a fresh SystemC kernel); the result comes back as JSON.
SimResult in_child(const std::function<SimResult()>& f) {
  const std::string in = testing::in_child_bytes([&] { return f().to_json().dump(); });
  if (in.empty()) {
    ADD_FAILURE() << "the simulation failed in the child";
    return {};
  }
  return SimResult::from_json(nlohmann::json::parse(in));
}

SimResult run_text(const std::string& text) {
  return in_child([text] { return run_experiment(Config::parse(text, "toy.yaml")); });
}

// ---- The toy: numbers by hand ------------------------------------------------------------

// 2 layers, h = 64, 2 heads, sequence 16, vocabulary 128, micro-batch 2, checkpointing.
constexpr double B = 2, S = 16, H = 64, V = 128;
constexpr int64_t kBlockParams = 12 * 64 * 64 + 13 * 64;                  // 49984
constexpr int64_t kEmbParams = 128 * 64 + 16 * 64;                        // 9216 (token + position)
constexpr int64_t kHeadParams = 2 * 64;                                   // final LayerNorm
constexpr int64_t kParams = 2 * kBlockParams + kEmbParams + kHeadParams;  // 109312
constexpr double kFlopsPerS = 1e9;                                        // sustained_tflops: 0.001
constexpr double kBlockFwd = (24 * B * S * H * H + 4 * B * S * S * H) / kFlopsPerS;
constexpr double kHeadFwd = 2 * B * S * H * V / kFlopsPerS;
// Forward: two blocks and the head. Backward: 2× forward, and the blocks recompute theirs.
constexpr double kGpu = 2 * kBlockFwd + kHeadFwd + 2 * (kBlockFwd + 2 * kBlockFwd) + 2 * kHeadFwd;

// PCIe 3.0 x16: 8 GT/s × 128/130 × 16 lanes / 8 bits; TLPs of 256 B payload + 24 B.
const double kPcieBps = 8e9 * 128 / 130 * 16 / 8;
constexpr double kLatency = 250e-9;
uint64_t wire(uint64_t payload) {
  return payload + (payload == 0 ? 1 : (payload + 255) / 256) * 24;
}

// Host DRAM: 2 channels of the DDR4-2666 preset at their refresh-bound peak (the
// sim/memory DRAM parameters, data rate × 8 bytes × (1 - tRFC/tREFI)).
double dram_bps() {
  const Config c = Config::load(kSrc + "/configs/hw/zero_offload/ddr4_2666.yaml", "dram");
  const memory::DramParams p = memory::read_dram_params(c.child("dram"), c.child("controller"));
  return 2 * p.data_rate_mtps * 1e6 * 8 * (1 - static_cast<double>(p.t.rfc) / p.t.refi);
}
// A posted write: data down, latency, DRAM, the completion header up, latency.
double to_host_s(uint64_t b) {
  return wire(b) / kPcieBps + kLatency + b / dram_bps() + wire(0) / kPcieBps + kLatency;
}
// A read: request header down, latency, DRAM, completions with data up, latency.
double to_gpu_s(uint64_t b) {
  return wire(0) / kPcieBps + kLatency + b / dram_bps() + wire(b) / kPcieBps + kLatency;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t i = s.find(from); i != std::string::npos; i = s.find(from, i + to.size()))
    s.replace(i, from.size(), to);
  return s;
}

std::string toy_text(bool dpu, double adam_mparams_per_core,
                     const std::string& copies =
                         "bucket_mparams: 1, adam_tile_params: 1000000, "
                         "dma_chunk_mib: 1") {
  std::string t = R"(hw:
  model: zero_offload
  energy: {table: SRC/configs/energy/memory_devices.yaml, node_nm: 45}
  gpu: {name: toy, peak_tflops: 1, sustained_tflops: 0.001, memory_gib: 1}
  pcie: {gen: 3, lanes: 16, latency_ns: 250, max_payload_bytes: 256, tlp_overhead_bytes: 24}
  host: {sockets: 1, cores_per_socket: 4, cores: 2, adam_mparams_per_s_per_core: RATE,
         memory_gib: 1, dram: {device: SRC/configs/hw/zero_offload/ddr4_2666.yaml,
                               channels_per_socket: 2}}
workload: {layers: 2, hidden: 64, heads: 2, seq: 16, vocab: 128, micro_batch: 2,
           checkpointing: true, dpu: DPU, dpu_warmup_steps: 2, measure_steps: 2, COPIES}
seed: 1
)";
  t = replace_all(t, "SRC", kSrc);
  t = replace_all(t, "RATE", std::to_string(adam_mparams_per_core));
  t = replace_all(t, "DPU", dpu ? "true" : "false");
  return replace_all(t, "COPIES", copies);
}

void expect_checks(const SimResult& r) {
  EXPECT_FALSE(r.checks.empty());
  for (const Check& c : r.checks) EXPECT_TRUE(c.passed) << c.name << ": " << c.detail;
}

// Without DPU a step is serial: forward and backward; the one gradient bucket (all 2M
// bytes) crosses when backward ends; CPU-Adam updates all M parameters (2 cores × 1 M/s);
// the update's tiles upload while later ones compute (the CPU is far slower than the
// link), so only the last unit's upload, the embedding's, is left when the update ends.
TEST(ZeroOffloadSim, ToyStepTimeByHandWithoutDpu) {
  const SimResult r = run_text(toy_text(false, 1));
  expect_checks(r);
  const double cpu = kParams / 2e6;
  const double expected = kGpu + to_host_s(2 * kParams) + cpu + to_gpu_s(2 * kEmbParams);
  EXPECT_NEAR(r.metrics.at("step_time_s"), expected, 2e-9) << "expected " << expected;
  EXPECT_NEAR(r.metrics.at("gpu_compute_s"), kGpu, 1e-12);
  EXPECT_NEAR(r.metrics.at("gpu_idle_s"), expected - kGpu, 2e-9);
  EXPECT_NEAR(r.metrics.at("cpu_adam_s"), cpu, 1e-9);
}

// DPU, GPU-bound (CPU-Adam at 2 G parameters/s takes 55 us): the update of step i runs
// during step i+1 and its tiles overwrite units as soon as step i+1's backward has left
// them. Block 0 and the embedding (whose backward takes no time) are left last, together,
// so their uploads are the only gap between steps: T = GPU + upload tail
// = max(GPU + upload tail, CPU-Adam). The tail, both reads issued at once: two request
// headers down; block 0's data read from DRAM and sent up; the embedding's data read
// meanwhile (it is shorter) and sent up after block 0's.
TEST(ZeroOffloadSim, ToyDpuGpuBoundByHand) {
  const SimResult dpu = run_text(toy_text(true, 1000));
  const SimResult sync = run_text(toy_text(false, 1000));
  expect_checks(dpu);
  const double cpu = kParams / 2e9;
  const uint64_t b0 = 2 * kBlockParams, emb = 2 * kEmbParams;
  ASSERT_GT(b0 / kPcieBps, emb / dram_bps());
  const double tail = wire(0) / kPcieBps + kLatency + b0 / dram_bps() + wire(b0) / kPcieBps +
                      wire(emb) / kPcieBps + kLatency;
  const double expected = kGpu + tail;
  ASSERT_GT(expected, cpu + to_host_s(2 * kParams));  // the GPU-bound regime
  EXPECT_NEAR(dpu.metrics.at("step_time_s"), expected, 2e-9) << "expected " << expected;
  EXPECT_LT(dpu.metrics.at("step_time_s"), sync.metrics.at("step_time_s"));
  EXPECT_NEAR(dpu.metrics.at("gpu_idle_s"), tail, 2e-9);
}

// DPU, CPU-bound (1 M parameters/s per core): CPU-Adam runs back to back, each update
// starting as the previous ends (the gradients arrived earlier), so T = CPU-Adam time
// = max(GPU + upload, CPU-Adam).
TEST(ZeroOffloadSim, ToyDpuCpuBoundByHand) {
  const SimResult dpu = run_text(toy_text(true, 1));
  const SimResult sync = run_text(toy_text(false, 1));
  expect_checks(dpu);
  const double cpu = kParams / 2e6;
  ASSERT_GT(cpu, kGpu + to_gpu_s(2 * kEmbParams) + to_host_s(2 * kParams));  // CPU-bound
  EXPECT_NEAR(dpu.metrics.at("step_time_s"), cpu, 2e-9);
  EXPECT_LT(dpu.metrics.at("step_time_s"), sync.metrics.at("step_time_s"));
  EXPECT_NEAR(dpu.metrics.at("gpu_idle_s"), cpu - kGpu, 2e-9);
}

// Every step moves 2 bytes per parameter each way, exactly, however the gradients are
// bucketed, the update tiled and the copies chunked; the link's wire bytes follow the TLP
// arithmetic: each chunk's payload plus 24 B per 256 B TLP, and a 24 B header the other
// way (a write's completion, a read's request).
TEST(ZeroOffloadSim, PcieBytesPerStepAreFourPerParameter) {
  for (bool dpu : {false, true}) {
    const SimResult r = run_text(
        toy_text(dpu, 1, "bucket_mparams: 0.03, adam_tile_params: 20000, dma_chunk_mib: 0.015625"));
    expect_checks(r);
    EXPECT_EQ(r.metrics.at("pcie_bytes_per_step"), 4.0 * kParams);
    EXPECT_EQ(r.metrics.at("pcie_to_host_bytes_per_step"), 2.0 * kParams);
    EXPECT_EQ(r.metrics.at("pcie_to_gpu_bytes_per_step"), 2.0 * kParams);
    // Backward order: head, block 1, block 0, embedding.
    const std::vector<int64_t> order = {kHeadParams, kBlockParams, kBlockParams, kEmbParams};
    const uint64_t chunk = 16384, bucket = 60000;
    uint64_t down = 0, up = 0, pending = 0;
    auto copy = [&](uint64_t bytes, bool to_host) {
      for (uint64_t off = 0; off < bytes; off += chunk) {
        const uint64_t c = std::min(chunk, bytes - off);
        (to_host ? down : up) += wire(c);
        (to_host ? up : down) += wire(0);
      }
    };
    for (int64_t p : order) {
      pending += 2 * static_cast<uint64_t>(p);
      for (; pending >= bucket; pending -= bucket) copy(bucket, true);
      for (int64_t first = 0; first < p; first += 20000)
        copy(2 * static_cast<uint64_t>(std::min<int64_t>(20000, p - first)), false);
    }
    if (pending) copy(pending, true);
    const double steps = r.metrics.at("steps_simulated");
    EXPECT_EQ(static_cast<double>(r.counters.at("pcie.wire_bytes_down")), steps * down);
    EXPECT_EQ(static_cast<double>(r.counters.at("pcie.wire_bytes_up")), steps * up);
  }
}

// The paper's setup: "40 TFlops/GPU on a single NVIDIA V100 GPU for 10B parameter model"
// (arXiv 2101.06840, abstract). Within 15 %, with and without DPU; DPU never slower.
TEST(ZeroOffloadSim, PaperThroughputOnV100Within15Percent) {
  const std::string file = kSrc + "/configs/experiments/zero_offload_v100_10b.yaml";
  auto run = [&](bool dpu) {
    return in_child([&] {
      return run_experiment(load_experiment(
          file, {parse_override(std::string("workload.dpu=") + (dpu ? "true" : "false")),
                 parse_override("workload.dpu_warmup_steps=2")}));
    });
  };
  const SimResult with = run(true), without = run(false);
  expect_checks(with);
  expect_checks(without);
  EXPECT_NEAR(with.metrics.at("tflops"), 40, 0.15 * 40);
  EXPECT_NEAR(without.metrics.at("tflops"), 40, 0.15 * 40);
  EXPECT_LE(with.metrics.at("step_time_s"), without.metrics.at("step_time_s"));
}

// A model too big for the GPU is a result with its memory breakdown, not an error.
TEST(ZeroOffloadSim, DoesNotFitIsAResult) {
  const std::string path = ::testing::TempDir() + "zero_offload_20b.yaml";
  std::ofstream(path) << "hw: " << kSrc << "/configs/hw/zero_offload/v100_dgx2.yaml\n"
                      << "workload: {layers: 25, hidden: 8192, heads: 64, seq: 1024, vocab: 50304,"
                      << " micro_batch: 8}\n";
  const SimResult r = in_child([&] { return run_experiment(load_experiment(path)); });
  EXPECT_EQ(r.labels.at("fit"), "does not fit");
  EXPECT_EQ(r.labels.at("does_not_fit"), "GPU memory exceeded");
  EXPECT_EQ(r.metrics.at("fits"), 0);
  EXPECT_GT(r.metrics.at("gpu_mem.total_gib"), r.metrics.at("gpu_mem.capacity_gib"));
  EXPECT_GT(r.metrics.at("gpu_mem.params_16bit_gib"), 37);  // 20.1e9 · 2 B
  EXPECT_EQ(r.metrics.count("step_time_s"), 0u);
  EXPECT_TRUE(r.checks.empty());
}

// Bad values: a ConfigError naming the file, the line and the key.
void expect_config_error(const std::string& hw_extra, const std::string& workload_extra, int line,
                         const std::string& key, const std::string& says) {
  const std::string path = ::testing::TempDir() + "zero_offload_bad.yaml";
  {
    std::ofstream f(path);
    f << "name: bad\n"                                                                // 1
      << "hw:\n"                                                                      // 2
      << "  base: " << kSrc << "/configs/hw/zero_offload/v100_dgx2.yaml\n"            // 3
      << "  pcie: {gen: 3, lanes: " << (hw_extra.empty() ? "16" : hw_extra) << "}\n"  // 4
      << "workload:\n"                                                                // 5
      << "  layers: 2\n  hidden: 64\n  heads: 2\n  seq: 16\n  vocab: 128\n"           // 6-10
      << "  micro_batch: 2\n"                                                         // 11
      << workload_extra;                                                              // 12
  }
  try {
    prepare_experiment(load_experiment(path));
    ADD_FAILURE() << "no error for " << key;
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path + ":" + std::to_string(line) + ":"), std::string::npos) << m;
    EXPECT_NE(m.find(key), std::string::npos) << m;
    EXPECT_NE(m.find(says), std::string::npos) << m;
  }
}

TEST(ZeroOffloadSim, ConfigErrorsNameFileLineAndKey) {
  expect_config_error("", "  dpu_warmup_steps: -1\n", 12, "workload.dpu_warmup_steps",
                      "expected an integer from 0");
  expect_config_error("", "  precision: fp8\n", 12, "workload.precision", "one of fp16, bf16");
  expect_config_error("", "  precision: bf16\n", 12, "workload.precision", "no bf16");
  expect_config_error("3", "", 4, "hw.pcie.lanes", "must be 1, 2, 4, 8 or 16");
  expect_config_error("32", "", 4, "hw.pcie.lanes", "from 1 to 16");
  // Keys are declared (zero_offload_params.cpp): a misspelt one names the nearest.
  expect_config_error("", "  dpu_warmup_step: 3\n", 12, "workload.dpu_warmup_step",
                      "unknown key (did you mean 'dpu_warmup_steps'?)");
  expect_config_error("16, gne: 3", "", 4, "hw.pcie.gne", "unknown key (did you mean 'gen'?)");
}

// The host's DRAM device file is loaded by the model and checked against sim/memory's
// device keys: a typo in it is an error in that file.
TEST(ZeroOffloadSim, DeviceFileTypoIsAnErrorInThatFile) {
  const std::string device = ::testing::TempDir() + "zero_offload_bad_dram.yaml";
  {
    std::ofstream f(device);
    f << "base: " << kSrc << "/configs/hw/zero_offload/ddr4_2666.yaml\n"
      << "dram: {data_rate_mtp: 2666}\n";
  }
  Config hw = Config::load(kSrc + "/configs/hw/zero_offload/v100_dgx2.yaml", "hw");
  hw.set("host.dram.device", Config::parse("\"" + device + "\"", "override"));
  try {
    zero_offload::read_system(hw);
    ADD_FAILURE() << "typo in the device file accepted";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(device + ":2:"), std::string::npos) << m;
    EXPECT_NE(m.find("did you mean 'data_rate_mtps'?"), std::string::npos) << m;
  }
}

// Removes the key at a dotted path, if it is there.
void erase(Config& c, const std::string& path) {
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos) {
    c.erase(path);
  } else if (c.has(path.substr(0, dot))) {
    Config parent = c.child(path.substr(0, dot));
    erase(parent, path.substr(dot + 1));
  }
}

std::string system_text(const zero_offload::SystemSpec& s) {
  std::ostringstream o;
  o << s.gpu.name << ' ' << s.gpu.peak_tflops << ' ' << s.gpu.sustained_tflops << ' '
    << s.gpu.memory_gib << ' ' << s.gpu.reserved_gib << ' ' << s.gpu.bf16 << " | " << s.pcie.gen
    << ' ' << s.pcie.lanes << ' ' << s.pcie.latency_ns << ' ' << s.pcie.max_payload_bytes << ' '
    << s.pcie.tlp_overhead_bytes << ' ' << s.pcie.pj_per_bit << " | " << s.host.sockets << ' '
    << s.host.cores_per_socket << ' ' << s.host.cores << ' ' << s.host.adam_params_per_s_per_core
    << ' ' << s.host.adam_bytes_per_param << ' ' << s.host.memory_gib << ' '
    << s.host.channels_per_socket << ' ' << s.host.dram_gbps();
  return o.str();
}

std::string job_text(const zero_offload::OffloadSpec& j) {
  const zero_offload::GptShape& s = j.shape;
  std::ostringstream o;
  o << s.layers << ' ' << s.hidden << ' ' << s.heads << ' ' << s.seq << ' ' << s.vocab << ' '
    << s.micro_batch << ' ' << s.checkpointing << ' ' << j.precision << ' ' << j.dpu << ' '
    << j.dpu_warmup_steps << ' ' << j.measure_steps << ' ' << j.bucket_params << ' '
    << j.adam_tile_params << ' ' << j.dma_chunk_bytes << ' ' << j.dma_write_window << ' '
    << j.dma_read_window;
  return o.str();
}

// Each declared default is what the readers use: a shipped file read with the key left out
// and read with the key set to the declared text give the same system and job.
template <typename Read>
int expect_defaults_used(const KeySet& set, const std::function<Config()>& load, Read read) {
  int checked = 0;
  for (const Key& key : set.keys()) {
    if (!key.fallback) continue;
    Config without = load(), with = load();  // each load is a copy of its own
    erase(without, key.path);
    erase(with, key.path);
    with.set(key.path, Config::parse(*key.fallback, "default"));
    EXPECT_EQ(read(without), read(with)) << key.path << " = " << *key.fallback;
    ++checked;
  }
  return checked;
}

TEST(ZeroOffloadSim, DeclaredDefaultsAreWhatTheReadersUse) {
  int checked = 0;
  for (const char* hw : {"v100_dgx2.yaml", "h100_dgx.yaml"})
    checked += expect_defaults_used(
        zero_offload::model_keys().hw,
        [hw] { return Config::load(kSrc + "/configs/hw/zero_offload/" + hw, "hw"); },
        [](const Config& c) { return system_text(zero_offload::read_system(c)); });
  checked += expect_defaults_used(
      zero_offload::model_keys().workload,
      [] {
        return Config::load(kSrc + "/configs/experiments/zero_offload_v100_10b.yaml")
            .child("workload");
      },
      [](const Config& c) { return job_text(zero_offload::read_offload(c)); });
  EXPECT_GE(checked, 2 * 6 + 10);
}

// Every point of the shipped sweeps configures (configs/sweeps/zero_offload/ is below the
// folder the shipped-configs test walks).
TEST(ZeroOffloadSim, ShippedSweepsConfigure) {
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(kSrc + "/configs/sweeps/zero_offload")) {
    if (e.path().extension() != ".yaml") continue;
    ++files;
    const sweep::SweepPlan plan = sweep::load_sweep(e.path().string());
    EXPECT_FALSE(plan.points.empty());
    for (const auto& p : plan.points) {
      try {
        prepare_experiment(sweep::point_experiment(plan, p));
      } catch (const ConfigError& err) {
        ADD_FAILURE() << e.path() << " " << p.id << ": " << err.what();
      }
    }
  }
  EXPECT_GE(files, 1);
}

}  // namespace
}  // namespace tessel
