// Resource limits: huge sizes in configurations and file headers fail before allocating,
// with an error naming the file, line and key (issue 27).
#include "runtime/core/limits.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "models/ann/vector_source.h"
#include "models/continual/continual_io.h"
#include "models/nn/trainer.h"
#include "models/sparse/mask_io.h"
#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "sim/lstm_sharp/lstm_sharp_params.h"

namespace tessel {
namespace {

namespace fs = std::filesystem;

// The ConfigError `f` throws; fails the test when it throws nothing or something else.
template <typename F>
std::string config_error(F f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ConfigError";
  return "";
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("tessel_limits_" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

// Sets TESSEL_MEMORY_LIMIT_GB for one test.
struct LimitEnv {
  explicit LimitEnv(const char* gb) { ::setenv("TESSEL_MEMORY_LIMIT_GB", gb, 1); }
  ~LimitEnv() { ::unsetenv("TESSEL_MEMORY_LIMIT_GB"); }
};

TEST(ConfigLimits, BillionLaughsStopsAtTheNodeLimit) {
  // Ten levels of ten aliases stand for 10^10 scalars; the loader must stop at 1M values.
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) text += (j ? ", *a" : "*a") + std::to_string(i - 1);
    text += "]\n";
  }
  const std::string msg = config_error([&] { Config::parse(text, "laughs.yaml"); });
  EXPECT_NE(msg.find("laughs.yaml:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("more than 1000000 values"), std::string::npos) << msg;
}

TEST(ConfigLimits, AliasesBelowTheLimitStillLoad) {
  // 10^5 scalars through aliases: under the limit, every copy is there.
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 5; ++i) {
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) text += (j ? ", *a" : "*a") + std::to_string(i - 1);
    text += "]\n";
  }
  Config c = Config::parse(text, "ok.yaml");
  EXPECT_EQ(c.to_json()["a4"].size(), 10u);
  EXPECT_EQ(c.to_json()["a4"][9][9][9][9][9], "x");
}

TEST(ConfigLimits, DeepNestingIsAConfigErrorNamingTheFile) {
  TempDir dir;
  const std::string path =
      dir.write("deep.yaml", "x: " + std::string(100000, '[') + std::string(100000, ']') + "\n");
  const std::string msg = config_error([&] { Config::load(path); });
  EXPECT_EQ(msg.rfind(path + ":1:", 0), 0u) << msg;
  EXPECT_NE(msg.find("nested more than 256 levels"), std::string::npos) << msg;
  // Just past the loader's own limit, below yaml-cpp's: the same message.
  const std::string msg2 = config_error(
      [&] { Config::parse("x: " + std::string(300, '[') + std::string(300, ']'), "d.yaml"); });
  EXPECT_EQ(msg2.rfind("d.yaml:1:", 0), 0u) << msg2;
  EXPECT_NE(msg2.find("nested more than 256 levels"), std::string::npos) << msg2;
  // 200 levels load.
  EXPECT_TRUE(Config::parse("x: " + std::string(200, '[') + std::string(200, ']'), "d.yaml")
                  .at("x")
                  .is_sequence());
}

TEST(ConfigLimits, IncludeExpansionIsCounted) {
  // 60 copies of a 20,001-value file through base: is 1.2M values: over the limit.
  TempDir dir;
  std::string list = "v: [1";
  for (int i = 1; i < 20000; ++i) list += ", 1";
  dir.write("c.yaml", list + "]\n");
  std::string b;
  for (int i = 0; i < 60; ++i) b += "k" + std::to_string(i) + ": {base: c.yaml}\n";
  const std::string path = dir.write("b.yaml", b);
  const std::string msg = config_error([&] { Config::load(path); });
  EXPECT_NE(msg.find("b.yaml:"), std::string::npos) << msg;
  EXPECT_NE(msg.find(".base: expanding base: and include: gives more than 1000000 values"),
            std::string::npos)
      << msg;
}

TEST(ConfigLimits, DuplicateKeysInALargeMappingAreFoundQuickly) {
  // 200,000 keys: a linear search per key took minutes; the last repeats the first.
  std::string text;
  for (int i = 0; i < 200000; ++i) text += "k" + std::to_string(i) + ": 1\n";
  text += "k0: 2\n";
  const std::string msg = config_error([&] { Config::parse(text, "big.yaml"); });
  EXPECT_NE(msg.find("big.yaml:200001:1: k0: duplicate key (first at line 1)"), std::string::npos)
      << msg;
}

TEST(ConfigLimits, InvalidUtf8IsAConfigErrorWithItsLine) {
  // Found by fuzz_config: such a value reached the results' JSON as "internal error".
  const std::string msg =
      config_error([] { Config::parse("a: 1\nname: \"x\xfb\"\n", "u.yaml").to_json().dump(); });
  EXPECT_EQ(msg, "u.yaml:2:7: value is not valid UTF-8 (config files are UTF-8)");
  const std::string key = config_error([] { Config::parse("\xc3\x28: 1\n", "u.yaml"); });
  EXPECT_EQ(key, "u.yaml:1:1: key is not valid UTF-8 (config files are UTF-8)");
  // Overlong encodings and surrogates are not UTF-8 either; real multi-byte text is.
  config_error([] { Config::parse("a: \"\xc0\xaf\"\n", "u.yaml"); });
  config_error([] { Config::parse("a: \"\xed\xa0\x80\"\n", "u.yaml"); });
  EXPECT_EQ(Config::parse("a: \"\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"\n", "u.yaml")
                .get<std::string>("a"),
            "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST(SizeLimits, ProductSaturatesInsteadOfOverflowing) {
  EXPECT_EQ(product_bytes({1000, 1000}, 4), 4000000u);
  EXPECT_EQ(product_bytes({int64_t{1} << 40, int64_t{1} << 40}, 4), UINT64_MAX);
  EXPECT_EQ(product_bytes({-5, 10}, 4), 0u);
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(uint64_t{3} << 30), "3 GiB");
}

TEST(SizeLimits, CheckAllocationNamesTheKeyAndTheLimit) {
  LimitEnv env("1");  // 1 GiB
  EXPECT_EQ(memory_limit_bytes(), uint64_t{1} << 30);
  Config w = Config::parse("rows: 100000\ncols: 100000\n", "w.yaml", "workload");
  check_allocation(w, "rows", {10000, 10000}, 4, "floats");  // 381 MiB: fine
  const std::string msg = config_error([&] {
    check_allocation(w, "rows", {100000, 100000}, 4, "floats");
  });
  EXPECT_EQ(msg,
            "w.yaml:1:7: workload.rows: 100000 x 100000 floats need 37.3 GiB, more than the "
            "1 GiB TESSEL_MEMORY_LIMIT_GB limit");
}

TEST(SizeLimits, BadLimitVariableIsAnError) {
  LimitEnv env("lots");
  const std::string msg = config_error([] { memory_limit_bytes(); });
  EXPECT_NE(msg.find("TESSEL_MEMORY_LIMIT_GB: expected a positive number"), std::string::npos);
}

TEST(SizeLimits, SimulatedCycleLimitAndItsVariable) {
  ::unsetenv("TESSEL_MAX_SIM_CYCLES");
  EXPECT_EQ(simulated_cycle_limit(), uint64_t{10000000000});
  Config w = Config::parse("m: 4\n", "w.yaml", "workload");
  check_simulated_cycles(w, "m", 1e10, "a GEMM");  // at the limit: fine
  EXPECT_EQ(config_error([&] { check_simulated_cycles(w, "m", 2.5e10, "a GEMM"); }),
            "w.yaml:1:4: workload.m: a GEMM needs at least 2.5e+10 cycles, more than the 1e+10 "
            "limit (set TESSEL_MAX_SIM_CYCLES to change it)");
  ::setenv("TESSEL_MAX_SIM_CYCLES", "many", 1);
  EXPECT_NE(config_error([] { simulated_cycle_limit(); })
                .find("TESSEL_MAX_SIM_CYCLES: expected a number of cycles from 1 to 1e18, got "
                      "\"many\""),
            std::string::npos);
  ::unsetenv("TESSEL_MAX_SIM_CYCLES");
}

TEST(SizeLimits, DefaultLimitIsPhysicalMemory) {
  ::unsetenv("TESSEL_MEMORY_LIMIT_GB");
  const uint64_t phys =
      static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  EXPECT_EQ(memory_limit_bytes(), phys);
}

TEST(SizeLimits, AnnMixtureOf1e11PointsFailsAtTheKey) {
  Config w = Config::parse("vectors: \"mixture:100000000000\"\nqueries: \"mixture:1000:1\"\n",
                           "ann.yaml", "workload");
  const std::string msg = config_error([&] { ann::VectorSource::read(w, "vectors", 1); });
  EXPECT_EQ(msg.rfind("ann.yaml:1:10: workload.vectors: 100000000000 x 128 mixture vectors need "
                      "46.6 TiB, more than the ",
                      0),
            0u)
      << msg;
  // A thousand points is nothing: read() accepts it.
  EXPECT_EQ(ann::VectorSource::read(w, "queries", 1).mixture_n, 1000);
}

TEST(SizeLimits, MaskHeaderOf1e11RowsFailsBeforeAllocating) {
  const std::string msg = config_error([] {
    sparse::parse_mask("# huge\nnm_mask rows=100000000000 cols=4 pattern=2:4\n", "m.txt");
  });
  EXPECT_EQ(msg,
            "m.txt:2: header: rows=100000000000 x cols=4 values need at least 745 GiB of text, "
            "the file has 52 B");  // 7 + 45 bytes
  // The product overflowing int64 is caught the same way.
  const std::string msg2 = config_error(
      [] { sparse::parse_mask("nm_mask rows=4611686018427387904 cols=8 pattern=2:4\n", "m.txt"); });
  EXPECT_NE(msg2.find("m.txt:1: header: rows=4611686018427387904 x cols=8 values need"),
            std::string::npos)
      << msg2;
}

TEST(SizeLimits, TransformerWidthAndBatchFailAtTheirKeys) {
  const std::string base =
      "task: lm\ndata: {synthetic_chars: 1000, tokenizer: char}\n"
      "train: {batch_size: BATCH, seq_len: 64, steps: 1, lr: 0.001}\n";
  auto config = [&](const std::string& width, const std::string& batch) {
    std::string text = base;
    text.replace(text.find("BATCH"), 5, batch);
    return Config::parse(text + "model: {layers: 2, width: " + width + ", heads: 4}\n", "t.yaml");
  };
  // 2 x 10^6 x 10^6 x 4 x 32 bytes = 232 TiB of parameters.
  const std::string msg =
      config_error([&] { nn::TrainConfig::from_config(config("1000000", "16")); });
  EXPECT_EQ(
      msg.rfind("t.yaml:4:27: model.width: 2 x 1000000 x 1000000 x 4 (layers x width x width x "
                "mlp_ratio) parameters need 233 TiB, more than the ",
                0),
      0u)
      << msg;
  // 10^12 x 64 x 64 x 2 x 4 bytes of activations.
  const std::string msg2 =
      config_error([&] { nn::TrainConfig::from_config(config("64", "1000000000000")); });
  EXPECT_NE(msg2.find("t.yaml:3:21: train.batch_size: 1000000000000 x 64 x 64 x 2"),
            std::string::npos)
      << msg2;
  // The shipped size is accepted.
  EXPECT_EQ(nn::TrainConfig::from_config(config("64", "16")).model.width, 64);
}

TEST(SizeLimits, EpisodicMemoryFailsAtEmSize) {
  const std::string msg = config_error([] {
    continual::read_continual_workload(
        Config::parse("dataset: {images: a.gz, labels: b.gz}\nmethod: er\n"
                      "memory: {em_size: 100000000000000}\n",
                      "w.yaml", "workload"));
  });
  EXPECT_EQ(msg.rfind("w.yaml:3:19: workload.memory.em_size: 100000000000000 x 784 (em_size x 784) "
                      "sample bytes need 69.6 PiB, more than the ",
                      0),
            0u)
      << msg;
}

TEST(SizeLimits, LstmFunctionalWeightsFailAtHiddenSize) {
  // 64 layers of 4 x 65536 rows x (65536 + 65536) float weights: 8 TiB, more than the 1 GiB
  // limit set here, failing before any weight is drawn. Timing-only runs allocate no weights.
  LimitEnv limit("1");
  const std::string text =
      "kind: lstm\ninput_size: 65536\nhidden_size: 65536\nlayers: 64\nseq_len: 10\n";
  const std::string msg = config_error([&] {
    lstm_sharp::read_lstm_workload(
        Config::parse(text + "functional: true\n", "lstm.yaml", "workload"));
  });
  EXPECT_EQ(msg.rfind("lstm.yaml:3:14: workload.hidden_size: 64 x 262144 x 131072 float weights "
                      "for the functional check need 8 TiB, more than the 1 GiB",
                      0),
            0u)
      << msg;
  EXPECT_EQ(lstm_sharp::read_lstm_workload(
                Config::parse(text + "functional: false\n", "lstm.yaml", "workload"))
                .hidden_size,
            65536);
}

}  // namespace
}  // namespace tessel
