// Writes small, valid binary seeds for the fuzz targets with the project's own writers, so
// the fuzzer starts from inputs that pass the magic, the checksums and the size checks.
// Usage: fuzz_make_seeds <tests/fuzz/corpus>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "models/ann/graph.h"
#include "models/ann/vectors.h"
#include "models/common/npy.h"
#include "models/nn/checkpoint.h"
#include "runtime/core/file_io.h"
#include "runtime/core/memory_trace.h"

namespace fs = std::filesystem;
using namespace tessel;

namespace {

void put(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

// A file written by `write` to a scratch path, prefixed with the target's selector byte.
template <typename W>
std::string via_file(const fs::path& scratch, W write) {
  write(scratch.string());
  std::string s = read_file(scratch.string());
  fs::remove(scratch);
  return s;
}

std::string be32(uint32_t v) {
  std::string s(4, '\0');
  for (int k = 0; k < 4; ++k) s[k] = static_cast<char>((v >> (8 * (3 - k))) & 0xFF);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds <corpus dir>\n");
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path scratch = fs::temp_directory_path() / "tessel_seed";

  ann::VectorSet v(3, 4);
  for (size_t i = 0; i < v.data.size(); ++i) v.data[i] = static_cast<float>(i % 7);
  put(out / "vecs/fvecs_3x4",
      std::string(1, '\0') + via_file(scratch.string() + ".fvecs",
                                      [&](const std::string& p) { ann::write_fvecs(p, v); }));
  ann::IntRows r;
  r.n = 2, r.dim = 3, r.data = {0, 1, 2, 2, 1, 0};
  put(out / "vecs/ivecs_2x3",
      std::string(1, '\1') + via_file(scratch.string() + ".ivecs",
                                      [&](const std::string& p) { ann::write_ivecs(p, r); }));
  put(out / "vecs/bvecs_3x4",
      std::string(1, '\2') + via_file(scratch.string() + ".bvecs",
                                      [&](const std::string& p) { ann::write_bvecs(p, v); }));

  // IDX: 2 images of 3x3 (magic 0x00000803) and 2 labels (0x00000801), big-endian counts.
  std::string images = be32(0x803) + be32(2) + be32(3) + be32(3);
  for (int i = 0; i < 18; ++i) images += static_cast<char>(i * 14);
  put(out / "idx/images_2x3x3", std::string(1, '\0') + images);
  put(out / "idx/labels_2",
      std::string(1, '\0') + be32(0x801) + be32(2) + std::string("\x03\x07", 2));

  NpyArray a;
  a.shape = {2, 3};
  a.data = {1, 2, 3, 4, 5, 6};
  put(out / "npy/f4_2x3", npy_bytes(a));
  NpyArray b;
  b.shape = {4};
  b.data = {0.5f, -1, 2, 8};
  put(out / "npz/two_arrays", npz_bytes({{"a", a}, {"b", b}}));

  nn::Checkpoint c;
  c.step = 3;
  c.adam_steps = 3;
  c.params = nlohmann::json::array(
      {{{"name", "w"}, {"rows", 2}, {"cols", 2}}, {{"name", "b"}, {"rows", 1}, {"cols", 2}}});
  c.meta = {{"tokenizer", "char"}};
  c.values = {1, 2, 3, 4, 5, 6};
  c.m = {0, 0, 0, 0, 0, 0};
  c.v = {1, 1, 1, 1, 1, 1};
  put(out / "checkpoint/two_params",
      via_file(scratch.string() + ".ckpt",
               [&](const std::string& p) { nn::write_checkpoint(p, c); }));

  ann::IndexFile idx;
  idx.kind = ann::GraphKind::kNsg;
  idx.dim = 4;
  idx.graph.offsets = {0, 2, 3, 4};
  idx.graph.edges = {1, 2, 0, 0};
  idx.graph.entry = 0;
  idx.graph.extra_entries = {2};
  idx.base_checksum = 0x0123456789abcdefull;  // version 2 records the base's checksum
  put(out / "ann_index/three_nodes",
      via_file(scratch.string() + ".index",
               [&](const std::string& p) { ann::save_index(p, idx); }));

  MemoryTrace t;
  const uint32_t w = t.object_index("weights");
  t.requests.push_back({0, false, w, 0x40, 64, 0, MemoryRequest::kNoBatch});
  t.requests.push_back(
      {1000, true, MemoryRequest::kNoObject, 0x1000, 128, 0, MemoryRequest::kNoBatch});
  put(out / "memory_trace/binary_v1", format_memory_trace_binary(t));
  t.requests.push_back({MemoryRequest::kAsap, false, w, 0x80, 32, 0, 7});
  put(out / "memory_trace/binary_v2_batch", format_memory_trace_binary(t));
  put(out / "memory_trace/text_batch", format_memory_trace_text(t));
  return 0;
}
