// Reads .npy and .npz files produced by an independent writer, and checks every error path.
#include "models/common/npy.h"

#include <functional>

#include <gtest/gtest.h>

#include "runtime/core/error.h"
#include "tests/models/common/npy_writer.h"

namespace tessel {
namespace {

using testing::npy_bytes;
using testing::write_file;
using testing::zip_bytes;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const IoError& e) {
    return e.what();
  }
  return "(no IoError thrown)";
}

TEST(Npy, ReadsFloat32AndFloat64) {
  const std::string p4 = write_file("a4.npy", npy_bytes({2, 3}, {1, 2, 3, 4, 5, -6.5}));
  const NpyArray a = read_npy(p4);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.data, (std::vector<float>{1, 2, 3, 4, 5, -6.5f}));
  EXPECT_EQ(a.shape_string(), "[2, 3]");
  const std::string p8 = write_file("a8.npy", npy_bytes({4}, {0.1, 0.2, 0.3, 1e-3}, "<f8"));
  const NpyArray b = read_npy(p8);
  EXPECT_EQ(b.shape, (std::vector<int64_t>{4}));
  EXPECT_EQ(b.data[0], 0.1f);
  EXPECT_EQ(b.data[3], 1e-3f);
}

TEST(Npy, FortranOrderIsTransposedToCOrder) {
  // Fortran order lists column 0 first: [[1, 2, 3], [4, 5, 6]] is stored 1 4 2 5 3 6.
  const NpyArray a = parse_npy(npy_bytes({2, 3}, {1, 4, 2, 5, 3, 6}, "<f4", true), "f.npy");
  EXPECT_EQ(a.data, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(Npy, Int8ValuesAreExact) {
  const NpyArray a = parse_npy(npy_bytes({2, 3}, {-128, -1, 0, 1, 77, 127}, "|i1"), "q.npy");
  EXPECT_TRUE(a.is_int8());
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.data, (std::vector<float>{-128, -1, 0, 1, 77, 127}));
}

TEST(Npy, Errors) {
  EXPECT_EQ(error_of([] { parse_npy("PK\x03\x04 not numpy", "x.npy"); }),
            "x.npy: not a .npy file (missing \\x93NUMPY magic)");
  std::string bytes = npy_bytes({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(error_of([&] { parse_npy(bytes.substr(0, bytes.size() - 5), "t.npy"); }),
            "t.npy: truncated data: shape [2, 3] <f4 needs 24 bytes, found 19");
  EXPECT_EQ(error_of([&] { parse_npy(bytes.substr(0, 40), "t.npy"); }),
            "t.npy: truncated .npy header (needs 118 bytes, file has 30)");
  EXPECT_EQ(error_of([] {
              parse_npy(npy_bytes({3}, {1, 2, 3}, "<i4"), "i.npy");
            }),
            "i.npy: unsupported dtype '<i4' (expected '<f4', '<f8' or int8 '|i1')");
  std::string no_shape = npy_bytes({3}, {1, 2, 3});
  no_shape.replace(no_shape.find("'shape'"), 7, "'shapz'");
  EXPECT_EQ(error_of([&] { parse_npy(no_shape, "s.npy"); }), "s.npy: header has no 'shape' key");
  EXPECT_EQ(error_of([] { read_npy(testing::temp_path("does_not_exist.npy")); }),
            testing::temp_path("does_not_exist.npy") + ": cannot open file");
}

TEST(Npz, ReadsStoredEntriesIncludingZip64LocalHeaders) {
  const std::string path =
      write_file("two.npz", zip_bytes({{"w.npy", npy_bytes({2, 2}, {1, 2, 3, 4}), 0, false},
                                       {"b.npy", npy_bytes({3}, {5, 6, 7}, "<f8"), 0, true}}));
  const auto arrays = read_npz(path);
  ASSERT_EQ(arrays.size(), 2u);
  EXPECT_EQ(arrays.at("w").data, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(arrays.at("b").data, (std::vector<float>{5, 6, 7}));
}

TEST(Npz, Errors) {
  const std::string ok = zip_bytes({{"w.npy", npy_bytes({2}, {1, 2}), 0, false}});
  std::string p = write_file("deflate.npz", zip_bytes({{"w.npy", "xx", 8, false}}));
  EXPECT_EQ(error_of([&] { read_npz(p); }),
            p + ": entry 'w.npy' is compressed (zip method 8, deflate); only stored entries are "
                "supported: save with np.savez, not np.savez_compressed");
  p = write_file("trunc.npz", ok.substr(0, ok.size() - 30));
  EXPECT_EQ(error_of([&] { read_npz(p); }),
            p + ": truncated zip archive (no end-of-central-directory record)");
  p = write_file("junk.npz", std::string(100, 'x'));
  EXPECT_EQ(error_of([&] { read_npz(p); }),
            p + ": not a zip archive (no end-of-central-directory record)");
  std::string corrupt = ok;
  corrupt[corrupt.find("\x93NUMPY") + 130] ^= 0x55;  // inside the data (header is 128 bytes)
  p = write_file("crc.npz", corrupt);
  EXPECT_EQ(error_of([&] { read_npz(p); }),
            p + ": entry 'w.npy': CRC-32 mismatch (file is corrupt)");
  p = write_file("bad_inner.npz",
                 zip_bytes({{"w.npy", npy_bytes({2, 2}, {1, 2, 3, 4}).substr(0, 130), 0, false}}));
  EXPECT_EQ(error_of([&] { read_npz(p); }),
            p + ": array 'w': truncated data: shape [2, 2] <f4 needs 16 bytes, found 2");
}

}  // namespace
}  // namespace tessel
