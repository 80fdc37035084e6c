// Full-view file: reads return exactly the stored vectors (every I/O engine, with and without
// O_DIRECT, vectors smaller and larger than a page), exact re-rank, and clear errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "models/ann/full_view.h"
#include "models/common/rng.h"
#include "tests/models/ann/test_util.h"

namespace tessel::ann {
namespace {

using testing::error_of;
using testing::temp_path;

VectorSet random_set(int64_t n, int dim, uint64_t seed) {
  VectorSet v(n, dim);
  Rng rng(seed);
  for (auto& x : v.data) x = static_cast<float>(rng.uniform(-1, 1));
  return v;
}

TEST(FullView, LayoutPacksWholeVectorsPerPage) {
  EXPECT_EQ(FullViewLayout::of(128, 100).per_page, 8);  // 512-byte vectors
  EXPECT_EQ(FullViewLayout::of(128, 100).data_pages(), 13);
  EXPECT_EQ(FullViewLayout::of(784, 10).per_page, 1);   // MNIST: 3136 bytes
  EXPECT_EQ(FullViewLayout::of(1100, 10).per_page, 0);  // 4400 bytes span two pages
  EXPECT_EQ(FullViewLayout::of(1100, 10).span, 2);
  EXPECT_EQ(FullViewLayout::of(1100, 10).file_bytes(), 21 * 4096);
  EXPECT_EQ(FullViewLayout::of(100, 50).per_page, 10);  // 400 bytes: 10 per page, 96 unused
  EXPECT_EQ(FullViewLayout::of(100, 50).offset_in_page(13), 3 * 400);
}

TEST(FullView, ReadsReturnTheStoredVectorsWithEveryEngine) {
  for (int dim : {128, 100, 784, 1100}) {
    const VectorSet v = random_set(333, dim, static_cast<uint64_t>(dim));
    const std::string path = temp_path("fv_read_" + std::to_string(dim) + ".tfv");
    const uint64_t sum = write_full_view(path, v);
    EXPECT_EQ(sum, vectors_checksum(v));
    EXPECT_EQ(std::filesystem::file_size(path),
              static_cast<uintmax_t>(FullViewLayout::of(dim, 333).file_bytes()));
    for (FullViewIo io :
         {FullViewIo::kUring, FullViewIo::kThreads, FullViewIo::kSequential, FullViewIo::kMmap})
      for (bool direct : {true, false}) {
        FullViewOptions o;
        o.io = io;
        o.direct = direct;
        o.queue_depth = 32;
        o.expected_dim = dim;
        o.expected_checksum = sum;
        o.verify_data = true;
        FullView fv(path, o);
        if (!direct) {
          EXPECT_FALSE(fv.direct());
        }
        Rng rng(5);
        std::vector<int32_t> ids;
        for (int i = 0; i < 150; ++i) ids.push_back(static_cast<int32_t>(rng.next_u64() % 333));
        ids.push_back(332);
        ids.push_back(0);
        std::vector<float> out(ids.size() * dim);
        FullViewReadStats st;
        fv.read(ids.data(), static_cast<int>(ids.size()), out.data(), &st);
        EXPECT_EQ(st.reads, static_cast<int64_t>(fv.pages_of(ids.data(), ids.size()).size()));
        for (std::size_t i = 0; i < ids.size(); ++i)
          for (int k = 0; k < dim; ++k)
            ASSERT_EQ(out[i * dim + k], v.row(ids[i])[k])
                << full_view_io_name(fv.io()) << " direct " << fv.direct() << " dim " << dim
                << " id " << ids[i];
      }
  }
}

TEST(FullView, RerankIsTheExactNearestAmongTheCandidates) {
  const VectorSet v = random_set(2000, 64, 3);
  const VectorSet q = random_set(5, 64, 4);
  const std::string path = temp_path("fv_rerank.tfv");
  write_full_view(path, v);
  FullView fv(path, {});
  std::vector<int32_t> cand;
  for (int32_t i = 0; i < 2000; i += 7) cand.push_back(i);
  for (int64_t j = 0; j < q.n; ++j) {
    int32_t ids[10];
    float dist[10];
    fv.rerank(q.row(j), cand.data(), static_cast<int>(cand.size()), 10, ids, dist);
    // Brute force over the same candidates in long double.
    std::vector<std::pair<long double, int32_t>> ref;
    for (int32_t c : cand) ref.emplace_back(testing::ref_dist(q.row(j), v.row(c), 64), c);
    std::sort(ref.begin(), ref.end());
    for (int i = 0; i < 10; ++i) EXPECT_EQ(ids[i], ref[i].second) << "query " << j << " rank " << i;
  }
  // Fewer candidates than k: the rest is -1 / inf.
  int32_t ids[10];
  float dist[10];
  fv.rerank(q.row(0), cand.data(), 3, 10, ids, dist);
  EXPECT_GE(ids[2], 0);
  EXPECT_EQ(ids[3], -1);
  EXPECT_TRUE(std::isinf(dist[9]));
}

TEST(FullView, BadFilesAreClearErrors) {
  const VectorSet v = random_set(100, 32, 6);
  const std::string path = temp_path("fv_good.tfv");
  const uint64_t sum = write_full_view(path, v);
  auto open_err = [](const std::string& p, FullViewOptions o) {
    return error_of([&] { FullView fv(p, o); });
  };
  // Missing file.
  EXPECT_NE(open_err(temp_path("fv_missing.tfv"), {}).find("fv_missing.tfv: cannot open"),
            std::string::npos);
  // Shorter than its header says.
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const std::string cut = testing::write_bytes("fv_cut.tfv", bytes.substr(0, bytes.size() - 4096));
  EXPECT_NE(open_err(cut, {}).find("fv_cut.tfv: file is 16384 bytes but its header's 100 x 32 "
                                   "vectors need 20480 (short file)"),
            std::string::npos);
  // Wrong dimension for the index.
  FullViewOptions o;
  o.expected_dim = 64;
  EXPECT_NE(open_err(path, o).find("dimension 32, but the index was built for dimension 64"),
            std::string::npos);
  // An index built from another data file.
  o = {};
  o.expected_checksum = sum ^ 1;
  EXPECT_NE(open_err(path, o).find("(an index from another data file)"), std::string::npos);
  // Corrupt data under a valid header.
  std::string bad = bytes;
  bad[4096 + 17] ^= 0x40;
  const std::string corrupt = testing::write_bytes("fv_corrupt.tfv", bad);
  o = {};
  o.verify_data = true;
  EXPECT_NE(open_err(corrupt, o).find("corrupt file"), std::string::npos);
  EXPECT_NO_THROW(FullView(corrupt, {}));  // not verified: header only
  // Not a full-view file.
  const std::string junk = testing::write_bytes("fv_junk.tfv", std::string(5000, 'x'));
  EXPECT_NE(open_err(junk, {}).find("bad magic"), std::string::npos);
  // A directory.
  EXPECT_NE(open_err(std::filesystem::temp_directory_path().string(), {}).find("not a regular"),
            std::string::npos);
  // Ids outside the file.
  FullView fv(path, {});
  const int32_t far[1] = {100};
  float row[32];
  EXPECT_NE(error_of([&] { fv.read(far, 1, row); }).find("vector id 100 outside the 100 vectors"),
            std::string::npos);
  // Writing into a folder that does not exist: an error and nothing left behind.
  const std::string nowhere = temp_path("no_such_dir") + "/x.tfv";
  EXPECT_NE(error_of([&] { write_full_view(nowhere, v); }).find("cannot open"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(nowhere));
}

}  // namespace
}  // namespace tessel::ann
