// Checkpoint serialisation with an integrity hash.
#include "models/nn/checkpoint.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "runtime/core/atomic_file.h"
#include "runtime/core/error.h"
#include "runtime/core/file_io.h"

namespace tessel::nn {
namespace {

constexpr char kMagic[8] = {'T', 'S', 'L', 'N', 'N', 'C', 'K', '1'};

uint64_t fnv1a(const char* p, std::size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 0x100000001b3ull;
  }
  return h;
}

template <typename T>
void put(std::string& s, const T& v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

}  // namespace

void write_checkpoint(const std::string& path, const Checkpoint& c) {
  nlohmann::json header = {
      {"step", c.step}, {"adam_steps", c.adam_steps}, {"params", c.params}, {"meta", c.meta}};
  const std::string h = header.dump();
  std::string s(kMagic, 8);
  put<uint64_t>(s, h.size());
  s += h;
  for (const auto* vec : {&c.values, &c.m, &c.v})
    s.append(reinterpret_cast<const char*>(vec->data()), vec->size() * sizeof(float));
  put<uint64_t>(s, fnv1a(s.data(), s.size()));
  write_file_atomic(path, s, /*durable=*/true);
}

std::string checkpoint_layout(const Checkpoint& c) {
  return c.meta.value("layout", "pre_ln");
}

std::string layout_mismatch(const Checkpoint& c, const std::string& layout) {
  const std::string have = checkpoint_layout(c);
  if (have == layout) return "";
  return "checkpoint holds a " + have + " model, the configured model is " + layout +
         " (model.layout)";
}

Checkpoint read_checkpoint(const std::string& path) {
  const std::string s = read_file(path, "checkpoint");
  auto bad = [&](const std::string& what) { throw IoError(path + ": bad checkpoint: " + what); };
  if (s.size() < 24 || std::memcmp(s.data(), kMagic, 8) != 0)
    bad("wrong magic (not a tessel nn checkpoint)");
  uint64_t stored = 0;
  std::memcpy(&stored, s.data() + s.size() - 8, 8);
  if (fnv1a(s.data(), s.size() - 8) != stored) bad("hash mismatch (truncated or corrupted)");
  uint64_t hlen = 0;
  std::memcpy(&hlen, s.data() + 8, 8);
  if (hlen > s.size() - 24) bad("header length beyond the end of the file");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(s.substr(16, hlen));
  } catch (const std::exception& e) {
    bad(std::string("header is not JSON: ") + e.what());
  }
  Checkpoint c;
  try {
    c.step = header.at("step").get<int64_t>();
    c.adam_steps = header.at("adam_steps").get<int64_t>();
    c.params = header.at("params");
    c.meta = header.at("meta");
  } catch (const std::exception& e) {
    bad(std::string("header field missing: ") + e.what());
  }
  const uint64_t body = s.size() - 8 - 16 - hlen;
  // Sizes are summed with the file's length as the bound, so no product or sum can overflow.
  uint64_t n = 0;
  try {
    if (!c.params.is_array()) bad("header field params is not a list");
    for (const auto& p : c.params) {
      const uint64_t rows = p.at("rows").get<uint64_t>(), cols = p.at("cols").get<uint64_t>();
      if (cols != 0 && rows > body / cols) bad("a parameter is larger than the whole file");
      n += rows * cols;
      if (n > body) bad("the parameters are larger than the whole file");
    }
  } catch (const nlohmann::json::exception& e) {
    bad(std::string("params: ") + e.what());
  }
  if (body != 3 * n * sizeof(float))
    bad("expected " + std::to_string(3 * n * sizeof(float)) + " bytes of tensors, found " +
        std::to_string(body));
  const char* p = s.data() + 16 + hlen;
  for (auto* vec : {&c.values, &c.m, &c.v}) {
    vec->resize(n);
    // Only empty parameters (n = 0) leave data() null, and memcpy from null is undefined.
    if (n > 0) std::memcpy(vec->data(), p, n * sizeof(float));
    p += n * sizeof(float);
  }
  return c;
}

}  // namespace tessel::nn
