// TEXMEX vector files, MNIST IDX images and the seeded Gaussian-mixture generator.
#include "models/ann/vectors.h"

#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "models/common/npy.h"
#include "models/common/rng.h"
#include "runtime/core/atomic_file.h"
#include "runtime/core/error.h"
#include "runtime/core/file_io.h"
#include "runtime/core/limits.h"
#include "runtime/core/seed.h"

#ifdef TESSEL_ANN_HAVE_ZLIB
#include <zlib.h>
#endif

namespace tessel::ann {
namespace {

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

uint32_t le32(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint32_t be32(const unsigned char* p) {
  return uint32_t(p[3]) | uint32_t(p[2]) << 8 | uint32_t(p[1]) << 16 | uint32_t(p[0]) << 24;
}
void put_le32(std::string& out, uint32_t v) {
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xFF));
}

// Walks the records of a TEXMEX file whose components are `elem` bytes wide and hands each
// record's component bytes to `emit(record_index, bytes)`. Returns (records, dim). `name`
// starts every error message.
template <typename Emit>
std::pair<int64_t, int> parse_vecs(const std::string& bytes, const std::string& name, int elem,
                                   Emit emit) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t size = bytes.size();
  std::size_t pos = 0;
  int64_t record = 0;
  int dim = -1;
  while (pos < size) {
    if (size - pos < 4)
      throw IoError(name + ": record " + std::to_string(record) + ": truncated dimension field");
    const int32_t d = static_cast<int32_t>(le32(p + pos));
    if (d <= 0)
      throw IoError(name + ": record " + std::to_string(record) + ": dimension " +
                    std::to_string(d) + " is not positive");
    if (dim < 0) dim = d;
    if (d != dim)
      throw IoError(name + ": record " + std::to_string(record) + ": dimension " +
                    std::to_string(d) + ", expected " + std::to_string(dim));
    pos += 4;
    const std::size_t need = static_cast<std::size_t>(d) * elem;
    if (size - pos < need)
      throw IoError(name + ": record " + std::to_string(record) + ": truncated (" +
                    std::to_string(size - pos) + " of " + std::to_string(need) +
                    " component bytes)");
    emit(record, p + pos);
    pos += need;
    ++record;
  }
  if (record == 0) throw IoError(name + ": empty file (no records)");
  return {record, dim};
}

// Counts records first so the destination is allocated once (the 200k x 128 sets are 100 MB).
int64_t count_records(const std::string& bytes, const std::string& name, int elem, int* dim) {
  auto r = parse_vecs(bytes, name, elem, [](int64_t, const unsigned char*) {});
  *dim = r.second;
  return r.first;
}

void check_writable(const VectorSet& v, const std::string& path) {
  if (v.dim <= 0 || v.n < 0 || v.data.size() != static_cast<std::size_t>(v.n) * v.dim)
    throw IoError(path + ": cannot write a vector set whose size does not match n x dim");
}

bool is_gzip(const std::string& b) {
  return b.size() >= 2 && static_cast<unsigned char>(b[0]) == 0x1f &&
         static_cast<unsigned char>(b[1]) == 0x8b;
}

// IDX files start with two zero bytes, a type code (0x08 ubyte ... 0x0E double) and the number
// of dimensions. TEXMEX files start with a positive dimension, which matches this only for
// dimensions of 2^24 and more.
bool is_idx(const std::string& b) {
  if (b.size() < 4 || b[0] != 0 || b[1] != 0) return false;
  const unsigned char type = static_cast<unsigned char>(b[2]), dims = b[3];
  return (type == 0x08 || type == 0x09 || (type >= 0x0B && type <= 0x0E)) && dims >= 1 && dims <= 4;
}

bool is_npy(const std::string& b) {
  return b.size() >= 6 && b.compare(0, 6, "\x93NUMPY") == 0;
}

std::string gunzip(std::string raw, const std::string& path) {
#ifdef TESSEL_ANN_HAVE_ZLIB
  z_stream zs{};
  // 16 + MAX_WBITS: accept the gzip wrapper, not only raw zlib streams.
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw IoError(path + ": zlib init failed");
  zs.next_in = reinterpret_cast<Bytef*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  std::string out;
  char buf[1 << 16];
  int ret = Z_OK;
  while (ret != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    ret = inflate(&zs, Z_NO_FLUSH);
    if (ret != Z_OK && ret != Z_STREAM_END) {
      inflateEnd(&zs);
      throw IoError(path + ": corrupt gzip data" + (ret == Z_BUF_ERROR ? " (truncated)" : ""));
    }
    out.append(buf, sizeof(buf) - zs.avail_out);
  }
  inflateEnd(&zs);
  return out;
#else
  (void)raw;
  throw IoError(path + ": gzip-compressed and this build has no zlib; gunzip it first");
#endif
}

std::string gunzip_or_raw(const std::string& path) {
  std::string raw = read_file(path);
  return is_gzip(raw) ? gunzip(std::move(raw), path) : raw;
}

VectorSet fvecs_from_bytes(const std::string& bytes, const std::string& name) {
  int dim = 0;
  const int64_t n = count_records(bytes, name, 4, &dim);
  VectorSet out(n, dim);
  parse_vecs(bytes, name, 4, [&](int64_t i, const unsigned char* p) {
    std::memcpy(out.row(i), p, static_cast<std::size_t>(dim) * 4);
  });
  for (std::size_t k = 0; k < out.data.size(); ++k)
    if (!std::isfinite(out.data[k]))
      throw IoError(name + ": record " + std::to_string(k / dim) + ": component " +
                    std::to_string(k % dim) + " is not finite");
  return out;
}

VectorSet bvecs_from_bytes(const std::string& bytes, const std::string& name) {
  int dim = 0;
  const int64_t n = count_records(bytes, name, 1, &dim);
  VectorSet out(n, dim);
  parse_vecs(bytes, name, 1, [&](int64_t i, const unsigned char* p) {
    float* dst = out.row(i);
    for (int k = 0; k < dim; ++k) dst[k] = p[k];
  });
  return out;
}

VectorSet idx_images_from_bytes(const std::string& bytes, const std::string& name) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 16) throw IoError(name + ": truncated IDX header");
  const uint32_t magic = be32(p);
  if (magic != 2051)
    throw IoError(name + ": magic " + std::to_string(magic) +
                  ", expected 2051 (IDX3 unsigned-byte images)");
  const int64_t n = be32(p + 4), rows = be32(p + 8), cols = be32(p + 12);
  if (n == 0 || rows == 0 || cols == 0) throw IoError(name + ": empty image set in header");
  // Each count is below 2^32, so the product fits in 64 bits only after a check.
  const uint64_t pixels = product_bytes({n, rows, cols}, 1);
  if (bytes.size() - 16 < pixels)
    throw IoError(name + ": truncated (" + std::to_string(bytes.size()) + " bytes, header says " +
                  (pixels == UINT64_MAX ? "more than 2^64" : std::to_string(16 + pixels)) + ")");
  if (rows * cols > INT32_MAX)
    throw IoError(name + ": images of " + std::to_string(rows) + " x " + std::to_string(cols) +
                  " pixels are too large");
  VectorSet out(n, static_cast<int>(rows * cols));
  for (std::size_t k = 0; k < out.data.size(); ++k) out.data[k] = p[16 + k];
  return out;
}

VectorSet npy_vectors(const std::string& bytes, const std::string& name) {
  NpyArray a = parse_npy(bytes, name);
  if (a.shape.size() != 2 || a.shape[0] < 1 || a.shape[1] < 1 || a.shape[1] > INT32_MAX)
    throw IoError(name + ": .npy array of shape " + a.shape_string() +
                  ", expected 2-D [vectors, dim] with both > 0");
  VectorSet out;
  out.n = a.shape[0];
  out.dim = static_cast<int>(a.shape[1]);
  out.data = std::move(a.data);
  for (std::size_t k = 0; k < out.data.size(); ++k)
    if (!std::isfinite(out.data[k]))
      throw IoError(name + ": vector " + std::to_string(k / out.dim) + ": component " +
                    std::to_string(k % out.dim) + " is not finite");
  return out;
}

// The format a file name asks for: "fvecs", "bvecs", "ivecs", "npy" or "" (none), from the
// last extension in any case, after dropping a trailing .gz.
std::string format_from_name(std::string name) {
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto strip = [&](const std::string& ext) {
    const bool has =
        name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0;
    if (has) name.resize(name.size() - ext.size());
    return has;
  };
  strip(".gz");
  for (const std::string f : {"fvecs", "bvecs", "ivecs"})
    if (strip("." + f) || strip("." + f.substr(0, 4))) return f;  // .fvecs or .fvec
  if (strip(".npy")) return "npy";
  return "";
}

// Standard normal from two uniforms (Box-Muller), so the stream is the same on every platform
// (std::normal_distribution is implementation-defined).
class Normal {
 public:
  explicit Normal(uint64_t seed) : rng_(seed) {}
  double next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = rng_.uniform();
    while (u1 <= 0.0) u1 = rng_.uniform();
    const double u2 = rng_.uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * M_PI * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * M_PI * u2);
  }
  Rng& uniform() { return rng_; }

 private:
  Rng rng_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace

VectorSet VectorSet::slice(int64_t begin, int64_t end) const {
  if (begin < 0 || end > n || begin > end)
    throw Error("VectorSet::slice: rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                    ") out of [0, " + std::to_string(n) + ")",
                kExitFailure);
  VectorSet out(end - begin, dim);
  std::memcpy(out.data.data(), row(begin), out.data.size() * sizeof(float));
  return out;
}

VectorSet read_fvecs(const std::string& path) {
  return fvecs_from_bytes(read_file(path), base_name(path));
}

IntRows read_ivecs(const std::string& path) {
  const std::string bytes = read_file(path);
  const std::string name = base_name(path);
  IntRows out;
  out.n = count_records(bytes, name, 4, &out.dim);
  out.data.resize(static_cast<std::size_t>(out.n) * out.dim);
  parse_vecs(bytes, name, 4, [&](int64_t i, const unsigned char* p) {
    std::memcpy(out.data.data() + i * out.dim, p, static_cast<std::size_t>(out.dim) * 4);
  });
  return out;
}

VectorSet read_bvecs(const std::string& path) {
  return bvecs_from_bytes(read_file(path), base_name(path));
}

void write_fvecs(const std::string& path, const VectorSet& v) {
  check_writable(v, path);
  std::string out;
  out.reserve(static_cast<std::size_t>(v.n) * (4 + 4 * v.dim));
  for (int64_t i = 0; i < v.n; ++i) {
    put_le32(out, static_cast<uint32_t>(v.dim));
    out.append(reinterpret_cast<const char*>(v.row(i)), static_cast<std::size_t>(v.dim) * 4);
  }
  write_file_atomic(path, out, false);
}

void write_ivecs(const std::string& path, const IntRows& v) {
  if (v.dim <= 0 || v.data.size() != static_cast<std::size_t>(v.n) * v.dim)
    throw IoError(path + ": cannot write rows whose size does not match n x dim");
  std::string out;
  for (int64_t i = 0; i < v.n; ++i) {
    put_le32(out, static_cast<uint32_t>(v.dim));
    out.append(reinterpret_cast<const char*>(v.row(i)), static_cast<std::size_t>(v.dim) * 4);
  }
  write_file_atomic(path, out, false);
}

void write_bvecs(const std::string& path, const VectorSet& v) {
  check_writable(v, path);
  std::string out;
  for (int64_t i = 0; i < v.n; ++i) {
    put_le32(out, static_cast<uint32_t>(v.dim));
    for (int k = 0; k < v.dim; ++k) {
      const float x = v.row(i)[k];
      if (!(x >= 0 && x <= 255 && x == std::floor(x)))
        throw IoError(path + ": record " + std::to_string(i) + ": component " + std::to_string(k) +
                      " = " + std::to_string(x) + " is not an integer in [0, 255]");
      out.push_back(static_cast<char>(static_cast<unsigned char>(x)));
    }
  }
  write_file_atomic(path, out, false);
}

VectorSet read_mnist_images(const std::string& path) {
  return idx_images_from_bytes(gunzip_or_raw(path), base_name(path));
}

VectorSet read_vectors(const std::string& path) {
  const std::string name = base_name(path);
  const std::string named = format_from_name(name);
  if (named == "ivecs")
    throw IoError(name +
                  ": ivecs files hold integer ids (ground truth), not vectors; expected "
                  ".fvecs, .bvecs, .npy or IDX images");
  std::string bytes = read_file(path);
  const bool gz = is_gzip(bytes);
  if (gz) bytes = gunzip(std::move(bytes), path);
  const std::string found = is_idx(bytes) ? "IDX" : is_npy(bytes) ? "npy" : "";
  if (!found.empty()) {
    // A name that says TEXMEX over content with a signature is a mislabelled file: refused
    // rather than guessed at.
    if (named == "fvecs" || named == "bvecs" || (named == "npy" && found != "npy"))
      throw IoError(name + ": the name says " + named + " but the content" +
                    (gz ? " (gzip-compressed)" : "") + " is " +
                    (found == "IDX" ? "an IDX file" : "a .npy array") + "; rename the file");
    if (found == "npy") return npy_vectors(bytes, name);
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    if (p[2] != 0x08 || p[3] != 3)
      throw IoError(name + ": IDX file of type 0x" + "0123456789abcdef"[p[2] >> 4] +
                    "0123456789abcdef"[p[2] & 15] + " with " + std::to_string(p[3]) +
                    " dimension(s), expected unsigned-byte images (type 0x08, 3 dimensions)");
    return idx_images_from_bytes(bytes, name);
  }
  if (named == "fvecs") return fvecs_from_bytes(bytes, name + " (fvecs, from its name)");
  if (named == "bvecs") return bvecs_from_bytes(bytes, name + " (bvecs, from its name)");
  if (named == "npy") throw IoError(name + ": named .npy but has no .npy signature (\\x93NUMPY)");
  throw IoError(name + ": unknown vector format" + (gz ? " (inside gzip)" : "") +
                ": expected IDX images (starting 00 00 08 03), a .npy array, or a name ending in "
                ".fvecs/.fvec/.bvecs/.bvec (any case) for the TEXMEX files, which have no "
                "signature");
}

uint64_t vector_checksum(const VectorSet& v) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](uint64_t x, int bytes) {
    for (int k = 0; k < bytes; ++k) h = (h ^ ((x >> (8 * k)) & 0xFF)) * 0x100000001b3ull;
  };
  mix(static_cast<uint64_t>(v.n), 8);
  mix(static_cast<uint32_t>(v.dim), 4);
  for (float f : v.data) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    mix(bits, 4);
  }
  return h == 0 ? 1 : h;
}

VectorSet gaussian_mixture(const MixtureSpec& spec, int64_t n, uint64_t stream) {
  if (spec.centres <= 0 || spec.dim <= 0 || !(spec.sigma >= 0) || n < 0)
    throw Error("gaussian_mixture: centres and dim must be positive, sigma non-negative",
                kExitFailure);
  Rng centre_rng(derive_seed(spec.seed, 0));
  std::vector<double> centres(static_cast<std::size_t>(spec.centres) * spec.dim);
  for (double& c : centres) c = centre_rng.uniform();
  Normal normal(derive_seed(spec.seed, 1 + stream));
  VectorSet out(n, spec.dim);
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t c = normal.uniform().next_u64() % static_cast<uint64_t>(spec.centres);
    const double* centre = centres.data() + c * spec.dim;
    float* dst = out.row(i);
    for (int k = 0; k < spec.dim; ++k)
      dst[k] = static_cast<float>(centre[k] + spec.sigma * normal.next());
  }
  return out;
}

}  // namespace tessel::ann
