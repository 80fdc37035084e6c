// The CUDA plugin loader: search paths, clear errors, lazy loading, and calls and exceptions
// crossing into libtessel_cuda.so (all without a GPU; the kernels are checked under label cuda).
#include "models/common/cuda_plugin.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "models/ann/knn.h"
#include "models/lstm/lstm_cuda.h"
#include "models/nn/transformer_cuda.h"
#include "models/sparse/nm_gemm_cuda.h"
#include "runtime/core/error.h"

namespace tessel {
namespace {

const std::string kBuiltPlugin = std::string(TESSEL_BINARY_DIR) + "/libtessel_cuda.so";

// Runs `body` in a fresh copy of this program (gtest's threadsafe death-test style re-executes
// it), so the loader's once-only state starts empty whatever ran before in this process.
#define EXPECT_IN_FRESH_PROCESS(body, exit_code, message_regex)             \
  do {                                                                      \
    GTEST_FLAG_SET(death_test_style, "threadsafe");                         \
    EXPECT_EXIT(body, ::testing::ExitedWithCode(exit_code), message_regex); \
  } while (0)

// Calls `symbol` in the plugin; on a tessel::Error prints its message and exits with its code.
void load_or_exit(const char* symbol) {
  try {
    cuda_plugin_symbol(symbol);
  } catch (const Error& e) {
    std::cerr << e.what() << "\n";
    std::exit(e.exit_code());
  }
  std::exit(0);
}

std::string self_maps() {
  std::ifstream in("/proc/self/maps");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(CudaPlugin, EnvironmentVariableIsTheOnlyPathTried) {
  setenv(kCudaPluginEnv, "/opt/x/libtessel_cuda.so", 1);
  EXPECT_EQ(cuda_plugin_paths(), std::vector<std::string>{"/opt/x/libtessel_cuda.so"});
  unsetenv(kCudaPluginEnv);
}

TEST(CudaPlugin, LooksNextToTheExecutableThenInTheBuildTree) {
  unsetenv(kCudaPluginEnv);
  const std::vector<std::string> paths = cuda_plugin_paths();
  ASSERT_FALSE(paths.empty());
  // This test program lives in <build>/tests/models; the plugin is built in <build>.
  EXPECT_EQ(paths[0], std::string(TESSEL_BINARY_DIR) + "/tests/models/libtessel_cuda.so");
  if (TESSEL_TEST_CUDA) {
    ASSERT_EQ(paths.size(), 2u);
    EXPECT_EQ(paths[1], kBuiltPlugin);
  } else {
    EXPECT_EQ(paths.size(), 1u);
  }
}

TEST(CudaPlugin, MissingFileNamesThePathAndTheReason) {
  EXPECT_IN_FRESH_PROCESS(
      {
        setenv(kCudaPluginEnv, "/nonexistent/libtessel_cuda.so", 1);
        load_or_exit("tessel_cuda_lstm_api");
      },
      kExitFailure,
      "cannot load the CUDA plugin libtessel_cuda.so; tried:\n  /nonexistent/libtessel_cuda.so: "
      ".*No such file or directory\n.*set TESSEL_CUDA_PLUGIN to its path");
}

TEST(CudaPlugin, LibraryWithoutTheTableIsAnError) {
  // libm loads fine but is no tessel plugin.
  EXPECT_IN_FRESH_PROCESS(
      {
        setenv(kCudaPluginEnv, "libm.so.6", 1);
        load_or_exit("tessel_cuda_lstm_api");
      },
      kExitFailure, "the CUDA plugin has no symbol tessel_cuda_lstm_api");
}

TEST(CudaPlugin, ToolStartsWithoutCudaLibraries) {
  // LD_TRACE_LOADED_OBJECTS makes the dynamic loader list what it maps at start-up (as ldd
  // does) and exit without running the program.
  const std::string cmd =
      "LD_TRACE_LOADED_OBJECTS=1 '" + std::string(TESSEL_BINARY_DIR) + "/tessel' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  ASSERT_EQ(pclose(p), 0) << out;
  ASSERT_NE(out.find("libstdc++"), std::string::npos) << out;  // the listing is real
  for (const char* lib : {"libcudart", "libcublas", "libcudnn", "libtessel_cuda"})
    EXPECT_EQ(out.find(lib), std::string::npos) << lib << " is mapped at start-up:\n" << out;
}

class CudaPluginBuilt : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TESSEL_TEST_CUDA) GTEST_SKIP() << "built without CUDA";
    unsetenv(kCudaPluginEnv);
  }
};

TEST_F(CudaPluginBuilt, LoadedOnFirstCudaCallOnly) {
  EXPECT_IN_FRESH_PROCESS(
      {
        const bool before = self_maps().find("libcudart") != std::string::npos;
        const int devices = lstm::cuda_device_count();
        const std::string maps = self_maps();
        const bool after = maps.find("libcudart") != std::string::npos &&
                           maps.find(kBuiltPlugin) != std::string::npos;
        std::cerr << "before " << before << " after " << after << " devices " << devices << "\n";
        std::exit(!before && after && devices >= 0 ? 0 : 1);
      },
      0, "before 0 after 1");
}

TEST_F(CudaPluginBuilt, EveryFamilyReachesTheSameRuntime) {
  const int n = lstm::cuda_device_count();
  EXPECT_GE(n, 0);
  EXPECT_EQ(nn::cuda_device_count(), n);
  EXPECT_EQ(ann::cuda_device_count(), n);
  EXPECT_EQ(sparse::cuda_device_count(), n);
#ifdef TESSEL_TEST_CUDNN
  EXPECT_TRUE(lstm::cudnn_compiled());
#endif
}

TEST_F(CudaPluginBuilt, ErrorsThrownInThePluginKeepTypeMessageAndCode) {
  const lstm::LstmWeights w = lstm::LstmWeights::random(lstm::LstmShape{4, 8, 1, false}, 1);
  try {
    lstm::CudaLstm gpu(w, 0, 3, lstm::CudaPrecision::kFp32);
    FAIL() << "batch 0 was accepted";
  } catch (const ConfigError& e) {  // thrown in libtessel_cuda.so, caught here by type
    EXPECT_STREQ(e.what(), "cuda lstm: batch and steps must be >= 1");
    EXPECT_EQ(e.exit_code(), kExitConfig);
  }
  ann::VectorSet base(4, 2), queries(1, 2);
  std::vector<int32_t> cand;
  try {
    ann::detail::cuda_knn_candidates(base, queries, 200, false, cand);
    FAIL() << "200 candidates were accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "exact_knn cuda: k too large (200 candidates per query, at most 128)");
    EXPECT_EQ(e.exit_code(), kExitFailure);
  }
}

TEST_F(CudaPluginBuilt, NoDeviceIsAClearErrorOnEveryFamily) {
  if (lstm::cuda_device_count() > 0) GTEST_SKIP() << "a GPU is present (label cuda covers it)";
  const lstm::LstmWeights w = lstm::LstmWeights::random(lstm::LstmShape{4, 8, 1, false}, 1);
  try {
    lstm::CudaLstm gpu(w, 1, 3, lstm::CudaPrecision::kFp32);
    FAIL() << "constructed without a GPU";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "cuda lstm: no CUDA device");
  }
  nn::TransformerConfig c;
  c.vocab_size = 8, c.max_seq = 4, c.layers = 1, c.width = 8, c.heads = 2;
  try {
    nn::CudaTransformer gpu(c, 16, nn::Precision::kFp32);
    FAIL() << "constructed without a GPU";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "nn: backend cuda needs a CUDA device and none is available");
  }
  sparse::CompressedMatrix<float> wf;
  try {
    sparse::cuda_nm_gemm(wf, sparse::MatrixF(0, 1));
    FAIL() << "ran without a GPU";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "cuda_nm_gemm: no CUDA device present");
  }
}

}  // namespace
}  // namespace tessel
