// The .npy / .npz writers: the exact bytes np.save writes, and round trips through the readers.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "models/common/npy.h"
#include "runtime/core/error.h"
#include "tests/support/tool.h"

namespace tessel {
namespace {

TEST(NpyWrite, BytesAreWhatNumpyWrites) {
  // np.save(f, np.array([[1, 2, 3], [4, 5, -0.5]], dtype="<f4")), written out by hand:
  // a 118-byte header (data at 128), Python's tuple repr, little-endian IEEE floats.
  std::string want("\x93NUMPY\x01\x00\x76\x00", 10);
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  want += dict + std::string(128 - 10 - dict.size() - 1, ' ') + "\n";
  for (uint32_t bits :
       {0x3f800000u, 0x40000000u, 0x40400000u, 0x40800000u, 0x40a00000u, 0xbf000000u})
    for (int k = 0; k < 4; ++k) want.push_back(static_cast<char>((bits >> (8 * k)) & 0xff));
  EXPECT_EQ(npy_bytes(NpyArray{{2, 3}, {1, 2, 3, 4, 5, -0.5f}, "<f4"}), want);

  const std::string one = npy_bytes(NpyArray{{3}, {1, 2, 3}, "<f4"});
  EXPECT_NE(one.find("'shape': (3,), }"), std::string::npos) << one;
  EXPECT_EQ(one.size() % 64, 12u);  // 64-byte header block, then 12 bytes of data
}

TEST(NpyWrite, RoundTripsThroughTheReaders) {
  testing::TempDir dir;
  const NpyArray a{{2, 1, 3}, {0.25f, -1e-30f, 3e30f, 7, 8, 9}, "<f4"};
  write_npy(dir / "a.npy", a);
  const NpyArray b = read_npy(dir / "a.npy");
  EXPECT_EQ(b.shape, a.shape);
  EXPECT_EQ(b.data, a.data);
  EXPECT_EQ(b.descr, "<f4");

  std::map<std::string, NpyArray> arrays = {{"w", a},
                                            {"enc.bias", NpyArray{{4}, {1, 2, 3, 4}, ""}}};
  write_npz(dir / "a.npz", arrays);
  const auto back = read_npz(dir / "a.npz");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back.at("w").data, a.data);
  EXPECT_EQ(back.at("enc.bias").shape, (std::vector<int64_t>{4}));
  EXPECT_EQ(back.at("enc.bias").data, (std::vector<float>{1, 2, 3, 4}));
}

TEST(NpyWrite, Errors) {
  EXPECT_THROW(npy_bytes(NpyArray{{2, 2}, {1, 2, 3}, ""}), ConfigError);
  try {
    write_npy("/nonexistent-folder/a.npy", NpyArray{{1}, {1}, ""});
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-folder/a.npy"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace tessel
