// fvecs/ivecs/bvecs round trips and error messages, IDX/MNIST parsing, the mixture generator.
#include "models/ann/vectors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "models/common/npy.h"
#include "tests/models/ann/test_util.h"
#include "tests/support/shared_data.h"

namespace tessel::ann {
namespace {

using testing::error_of;
using testing::temp_path;
using testing::write_bytes;

std::string le32(int32_t v) {
  std::string s(4, '\0');
  for (int k = 0; k < 4; ++k)
    s[k] = static_cast<char>((static_cast<uint32_t>(v) >> (8 * k)) & 0xFF);
  return s;
}
std::string be32(uint32_t v) {
  std::string s(4, '\0');
  for (int k = 0; k < 4; ++k) s[3 - k] = static_cast<char>((v >> (8 * k)) & 0xFF);
  return s;
}
std::string f32(float f) {
  std::string s(4, '\0');
  std::memcpy(s.data(), &f, 4);
  return s;
}

TEST(Vectors, FvecsRoundTripMatchesHandWrittenBytes) {
  // Two records of dimension 3, written byte by byte as the TEXMEX format specifies.
  const std::string bytes =
      le32(3) + f32(1.5f) + f32(-2) + f32(0.25f) + le32(3) + f32(7) + f32(8) + f32(9);
  const VectorSet v = read_fvecs(write_bytes("hand.fvecs", bytes));
  ASSERT_EQ(v.n, 2);
  ASSERT_EQ(v.dim, 3);
  EXPECT_EQ(v.data, (std::vector<float>{1.5f, -2, 0.25f, 7, 8, 9}));
  const std::string p = temp_path("round.fvecs");
  write_fvecs(p, v);
  std::ifstream in(p, std::ios::binary);
  const std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(back, bytes);
}

TEST(Vectors, IvecsAndBvecsRoundTrip) {
  IntRows r;
  r.n = 2, r.dim = 2, r.data = {5, -1, 1 << 30, 0};
  const std::string pi = temp_path("a.ivecs");
  write_ivecs(pi, r);
  const IntRows r2 = read_ivecs(pi);
  EXPECT_EQ(r2.n, 2);
  EXPECT_EQ(r2.data, r.data);

  VectorSet b(3, 4);
  for (std::size_t k = 0; k < b.data.size(); ++k) b.data[k] = static_cast<float>((k * 37) % 256);
  const std::string pb = temp_path("a.bvecs");
  write_bvecs(pb, b);
  const VectorSet b2 = read_bvecs(pb);
  EXPECT_EQ(b2.data, b.data);
  b.data[5] = 3.5f;
  EXPECT_EQ(error_of([&] { write_bvecs(pb, b); }),
            pb + ": record 1: component 1 = 3.500000 is not an integer in [0, 255]");
}

TEST(Vectors, MalformedFilesNameRecordAndFault) {
  const std::string two = le32(2) + f32(1) + f32(2);
  EXPECT_EQ(error_of([&] {
              read_fvecs(write_bytes("dim.fvecs", two + le32(3) + f32(1) + f32(2) + f32(3)));
            }),
            "dim.fvecs: record 1: dimension 3, expected 2");
  EXPECT_EQ(error_of([&] { read_fvecs(write_bytes("trunc.fvecs", two + le32(2) + f32(1))); }),
            "trunc.fvecs: record 1: truncated (4 of 8 component bytes)");
  EXPECT_EQ(error_of([&] { read_fvecs(write_bytes("tail.fvecs", two + "\x02")); }),
            "tail.fvecs: record 1: truncated dimension field");
  EXPECT_EQ(error_of([&] { read_ivecs(write_bytes("neg.ivecs", le32(-4))); }),
            "neg.ivecs: record 0: dimension -4 is not positive");
  EXPECT_EQ(error_of([&] { read_bvecs(write_bytes("empty.bvecs", "")); }),
            "empty.bvecs: empty file (no records)");
  EXPECT_EQ(error_of([&] { read_fvecs(write_bytes("nan.fvecs", le32(1) + f32(NAN))); }),
            "nan.fvecs: record 0: component 0 is not finite");
  const std::string missing = temp_path("missing.fvecs");
  EXPECT_EQ(error_of([&] { read_fvecs(missing); }), missing + ": cannot open file");
}

TEST(Vectors, IdxImagesAndErrors) {
  std::string idx = be32(2051) + be32(2) + be32(2) + be32(3);
  for (int k = 0; k < 12; ++k) idx.push_back(static_cast<char>(k * 20));
  const VectorSet v = read_mnist_images(write_bytes("tiny-idx3", idx));
  ASSERT_EQ(v.n, 2);
  ASSERT_EQ(v.dim, 6);
  EXPECT_EQ(v.row(1)[5], 220.0f);
  EXPECT_EQ(error_of([&] {
              read_mnist_images(
                  write_bytes("labels-idx1", be32(2049) + be32(1) + be32(1) + be32(1) + "x"));
            }),
            "labels-idx1: magic 2049, expected 2051 (IDX3 unsigned-byte images)");
  EXPECT_EQ(error_of([&] { read_mnist_images(write_bytes("short-idx3", idx.substr(0, 20))); }),
            "short-idx3: truncated (20 bytes, header says 28)");
}

TEST(Vectors, MnistTestImages) {
  const std::string path = ::tessel::testing::shared_data("mnist/t10k-images-idx3-ubyte.gz");
  TESSEL_REQUIRE_SHARED_DATA(path);
  const VectorSet v = read_mnist_images(path);
  ASSERT_EQ(v.n, 10000);
  ASSERT_EQ(v.dim, 784);
  float lo = 255, hi = 0;
  for (float x : v.data) lo = std::min(lo, x), hi = std::max(hi, x);
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 255.0f);
  // Border pixels of a centred digit are background: the first row of every image is zero.
  for (int64_t i = 0; i < v.n; i += 997)
    for (int c = 0; c < 28; ++c) EXPECT_EQ(v.row(i)[c], 0.0f);
}

// A gzip member holding `data` in one stored (uncompressed) deflate block, written field by
// field from RFC 1951/1952; the CRC-32 is the zip one from models/common.
std::string gzip_stored(const std::string& data) {
  std::string g =
      std::string("\x1f\x8b\x08\x00", 4) + std::string(4, '\0') + std::string("\x00\xff", 2);
  const auto n = static_cast<uint16_t>(data.size());
  g += '\x01';  // BFINAL = 1, BTYPE = 00 (stored)
  g += le32(n | (static_cast<uint32_t>(static_cast<uint16_t>(~n)) << 16));  // LEN, NLEN
  g += data;
  g += le32(static_cast<int32_t>(crc32(data.data(), data.size())));
  g += le32(static_cast<int32_t>(data.size()));
  return g;
}

TEST(Vectors, FormatByContentOrCaseInsensitiveName) {
  const std::string two = le32(2) + f32(1) + f32(2) + le32(2) + f32(3) + f32(4);
  const std::vector<float> want{1, 2, 3, 4};
  // TEXMEX files have no signature: the name picks the type, in any case, .fvec or .fvecs.
  for (const char* name : {"x.fvec", "X.FVECS", "y.Fvecs"}) {
    const VectorSet v = read_vectors(write_bytes(name, two));
    EXPECT_EQ(v.n, 2) << name;
    EXPECT_EQ(v.data, want) << name;
  }
  const VectorSet b = read_vectors(write_bytes("B.BVEC", le32(3) + std::string("\x07\x00\xff", 3)));
  EXPECT_EQ(b.data, (std::vector<float>{7, 0, 255}));

  // IDX images are found by their magic whatever the name, gzipped or not.
  std::string idx = be32(2051) + be32(2) + be32(1) + be32(3);
  for (int k = 0; k < 6; ++k) idx.push_back(static_cast<char>(40 * k));
  const std::vector<float> pixels{0, 40, 80, 120, 160, 200};
  EXPECT_EQ(read_vectors(write_bytes("data.bin", idx)).data, pixels);

  // A 2-D .npy array, by its signature.
  NpyArray a;
  a.shape = {2, 2};
  a.data = want;
  const VectorSet n = read_vectors(write_bytes("points", npy_bytes(a)));
  EXPECT_EQ(n.n, 2);
  EXPECT_EQ(n.data, want);
}

TEST(Vectors, GzipIsFoundByContent) {
  std::string idx = be32(2051) + be32(2) + be32(1) + be32(3);
  for (int k = 0; k < 6; ++k) idx.push_back(static_cast<char>(40 * k));
  const std::string probe =
      error_of([&] { read_mnist_images(write_bytes("probe", gzip_stored(idx))); });
  if (probe.find("has no zlib") != std::string::npos) GTEST_SKIP() << probe;
  const VectorSet gz = read_vectors(write_bytes("images.dat", gzip_stored(idx)));
  EXPECT_EQ(gz.dim, 3);
  EXPECT_EQ(gz.data, (std::vector<float>{0, 40, 80, 120, 160, 200}));
  // gzip around fvecs: the name (less .gz) picks the type.
  const std::string two = le32(2) + f32(1) + f32(2) + le32(2) + f32(3) + f32(4);
  EXPECT_EQ(read_vectors(write_bytes("z.fvecs.GZ", gzip_stored(two))).data,
            (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(error_of([&] { read_vectors(write_bytes("m.bvec.gz", gzip_stored(idx))); }),
            "m.bvec.gz: the name says bvecs but the content (gzip-compressed) is an IDX file; "
            "rename the file");
}

TEST(Vectors, FormatErrorsNameTheFileAndWhatWasExpected) {
  const std::string two = le32(2) + f32(1) + f32(2) + le32(2) + f32(3) + f32(4);
  // Truncated: the last record lacks its second component.
  EXPECT_EQ(error_of([&] { read_vectors(write_bytes("t.fvecs", two.substr(0, 20))); }),
            "t.fvecs (fvecs, from its name): record 1: truncated (4 of 8 component bytes)");
  // fvecs renamed .bvecs: record 0 is 4 + 2 bytes, so record 1's dimension field is bytes 6-9,
  // 80 3f 00 00 (the top half of 1.0f, the bottom half of 2.0f) = 16256.
  EXPECT_EQ(error_of([&] { read_vectors(write_bytes("r.bvecs", two)); }),
            "r.bvecs (bvecs, from its name): record 1: dimension 16256, expected 2");
  EXPECT_EQ(error_of([&] { read_vectors(write_bytes("r.ivecs", two)); }),
            "r.ivecs: ivecs files hold integer ids (ground truth), not vectors; expected .fvecs, "
            ".bvecs, .npy or IDX images");
  std::string idx = be32(2051) + be32(1) + be32(1) + be32(1) + "\x05";
  EXPECT_EQ(error_of([&] { read_vectors(write_bytes("m.fvecs", idx)); }),
            "m.fvecs: the name says fvecs but the content is an IDX file; rename the file");
  EXPECT_EQ(error_of([&] { read_vectors(write_bytes("p.npy", two)); }),
            "p.npy: named .npy but has no .npy signature (\\x93NUMPY)");
  // Labels (IDX type 0x08, one dimension) are IDX but not images.
  EXPECT_EQ(error_of([&] {
              read_vectors(write_bytes("labels.bin", be32(0x801) + be32(2) + "\x01\x02"));
            }),
            "labels.bin: IDX file of type 0x08 with 1 dimension(s), expected unsigned-byte "
            "images (type 0x08, 3 dimensions)");
  const std::string unknown =
      ": unknown vector format: expected IDX images (starting 00 00 08 03), a .npy array, or a "
      "name ending in .fvecs/.fvec/.bvecs/.bvec (any case) for the TEXMEX files, which have no "
      "signature";
  EXPECT_EQ(error_of([&] { read_vectors(write_bytes("data.bin", two)); }), "data.bin" + unknown);
  EXPECT_EQ(error_of([&] { read_vectors(write_bytes("x.fvecs.txt", two)); }),
            "x.fvecs.txt" + unknown);
  NpyArray flat;
  flat.shape = {4};
  flat.data = {1, 2, 3, 4};
  EXPECT_EQ(error_of([&] { read_vectors(write_bytes("flat", npy_bytes(flat))); }),
            "flat: .npy array of shape [4], expected 2-D [vectors, dim] with both > 0");
}

TEST(Vectors, ChecksumIsFnv1aOfCountDimAndFloatBits) {
  // The reference: FNV-1a 64 over the bytes as documented, built here byte by byte.
  auto fnv = [](const std::string& bytes) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
    return h;
  };
  ASSERT_EQ(fnv("a"), 0xaf63dc4c8601ec8cull);  // the published FNV-1a 64 test vector
  VectorSet v(2, 3);
  v.data = {1.5f, -2, 0, 7, 8, 1e-3f};
  std::string bytes = le32(2) + le32(0) + le32(3);  // n as int64, dim as int32
  for (float x : v.data) bytes += f32(x);
  EXPECT_EQ(vector_checksum(v), fnv(bytes));
  VectorSet w = v;
  w.data[5] = 2e-3f;  // same shape, one component differs
  EXPECT_NE(vector_checksum(w), vector_checksum(v));
  VectorSet t(3, 2);  // same floats, other shape
  t.data = v.data;
  EXPECT_NE(vector_checksum(t), vector_checksum(v));
}

TEST(Vectors, MixtureIsSeededAndSharesCentresAcrossStreams) {
  MixtureSpec spec;
  spec.centres = 7, spec.dim = 16, spec.sigma = 0.0;
  // sigma = 0 exposes the centres themselves: both streams draw from the same 7 points.
  const VectorSet a = gaussian_mixture(spec, 400, 0), b = gaussian_mixture(spec, 400, 1);
  std::set<std::vector<float>> ca, cb;
  for (int64_t i = 0; i < a.n; ++i) ca.insert(std::vector<float>(a.row(i), a.row(i) + 16));
  for (int64_t i = 0; i < b.n; ++i) cb.insert(std::vector<float>(b.row(i), b.row(i) + 16));
  EXPECT_EQ(ca.size(), 7u);
  EXPECT_EQ(ca, cb);
  for (const auto& c : ca)
    for (float x : c) EXPECT_TRUE(x >= 0 && x < 1);
  EXPECT_NE(a.data, b.data);  // different points, same centres
  EXPECT_EQ(gaussian_mixture(spec, 400, 0).data, a.data);

  // With noise, each point's offset from its (sigma = 0) centre has variance sigma^2.
  spec.sigma = 0.1;
  const VectorSet noisy = gaussian_mixture(spec, 4000, 3);
  spec.sigma = 0.0;
  const VectorSet centres = gaussian_mixture(spec, 4000, 3);  // same stream: same centre picks
  double sum = 0, sum2 = 0;
  for (std::size_t k = 0; k < noisy.data.size(); ++k) {
    const double d = noisy.data[k] - centres.data[k];
    sum += d, sum2 += d * d;
  }
  const double m = sum / noisy.data.size();
  EXPECT_NEAR(m, 0.0, 0.002);
  EXPECT_NEAR(std::sqrt(sum2 / noisy.data.size() - m * m), 0.1, 0.002);
}

}  // namespace
}  // namespace tessel::ann
