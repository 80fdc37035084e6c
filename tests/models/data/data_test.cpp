// Tokenizers, corpus split and sampling, synthetic corpus, and IDX/MNIST loading errors.
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>

#include <fstream>
#include <map>
#include <set>

#include "models/data/corpus.h"
#include "models/data/mnist.h"
#include "models/data/tokenizer.h"
#include "runtime/core/error.h"
#include "tests/support/shared_data.h"

namespace tessel::data {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() /
          ("tessel_data_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// An IDX header: two zero bytes, type, dims, then big-endian sizes.
std::string idx_header(uint8_t type, std::vector<uint32_t> dims) {
  std::string s = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int sh = 24; sh >= 0; sh -= 8) s.push_back(static_cast<char>((d >> sh) & 0xff));
  return s;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

TEST(Tokenizer, CharRoundTripAndSortedVocabulary) {
  const auto t = CharTokenizer::from_text("hello, world\n");
  EXPECT_EQ(t.serialize(), std::string("\n ,dehlorw"));
  EXPECT_EQ(t.vocab_size(), 10);
  const auto ids = t.encode("world");
  EXPECT_EQ(ids, (std::vector<int32_t>{9, 7, 8, 6, 3}));
  EXPECT_EQ(t.decode(ids), "world");
  EXPECT_THROW(t.encode("xyz"), Error);
  EXPECT_THROW(CharTokenizer::restore("aa"), Error);
  EXPECT_EQ(restore_tokenizer("char", t.serialize())->encode("hello"), t.encode("hello"));
}

TEST(Tokenizer, WordSplitCountsAndUnknown) {
  EXPECT_EQ(WordTokenizer::split("Don't go,  king!\nNow"),
            (std::vector<std::string>{"Don't", "go", ",", "king", "!", "\n", "Now"}));
  const auto t = WordTokenizer::from_text("b a b c b a\n", 3);
  // <unk>, then by count: b (3), a (2); c (1) does not fit.
  EXPECT_EQ(t.vocab_size(), 3);
  EXPECT_EQ(t.word(1), "b");
  EXPECT_EQ(t.word(2), "a");
  EXPECT_EQ(t.encode("a c b"), (std::vector<int32_t>{2, 0, 1}));
  EXPECT_EQ(t.decode({1, 2}), "b a");
  const auto r = WordTokenizer::restore(WordTokenizer::from_text("x\ny x", 10).serialize());
  EXPECT_EQ(r.encode("x\ny"), WordTokenizer::from_text("x\ny x", 10).encode("x\ny"));
  EXPECT_THROW(restore_tokenizer("bpe", ""), Error);
}

TEST(Corpus, SplitAndSampling) {
  std::vector<int32_t> ids(100);
  for (int i = 0; i < 100; ++i) ids[i] = i;
  const auto s = split_tokens(ids, 0.1);
  EXPECT_EQ(s.train.size(), 90u);
  EXPECT_EQ(s.val.front(), 90);
  TokenSampler sampler(&s.train, 8);
  Rng rng(1);
  const TokenBatch b = sampler.sample(4, rng);
  ASSERT_EQ(b.tokens.size(), 32u);
  for (int r = 0; r < 4; ++r)
    for (int t = 0; t < 8; ++t) {
      // Identity stream: the target is always the next token.
      EXPECT_EQ(b.targets[r * 8 + t], b.tokens[r * 8 + t] + 1);
      EXPECT_EQ(b.tokens[r * 8 + t], b.tokens[r * 8] + t);
    }
  const TokenBatch f0 = sampler.fixed(2, 0, 3), f2 = sampler.fixed(2, 2, 3);
  EXPECT_EQ(f0.tokens[0], 0);
  EXPECT_EQ(f2.tokens[8], 81);  // last window ends at the last target (89)
  EXPECT_THROW(TokenSampler(&s.val, 10), Error);
  const TokenBatch cut = b.truncated(3);
  EXPECT_EQ(cut.seq, 3);
  EXPECT_EQ(cut.tokens[3], b.tokens[8]);
}

TEST(Corpus, SyntheticIsDeterministicAndLearnable) {
  const std::string a = synthetic_corpus(5000, 7), b = synthetic_corpus(5000, 7);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), 5000u);
  EXPECT_NE(a, synthetic_corpus(5000, 8));
  // Each word has at most 4 successors, so word bigrams are far from uniform.
  // The corpus is cut at exactly 5000 bytes; drop the possibly cut last word.
  const auto words = WordTokenizer::split(a.substr(0, a.rfind(' ')));
  std::map<std::string, std::set<std::string>> next;
  for (std::size_t i = 0; i + 1 < words.size(); ++i)
    if (words[i] != "." && words[i] != "\n" && words[i + 1] != "." && words[i + 1] != "\n") {
      std::string w = words[i], v = words[i + 1];
      w[0] = static_cast<char>(std::tolower(w[0]));
      v[0] = static_cast<char>(std::tolower(v[0]));
      next[w].insert(v);
    }
  for (const auto& [w, succ] : next) EXPECT_LE(succ.size(), 4u) << w;
}

TEST(Corpus, MissingAndEmptyFilesNameThePath) {
  EXPECT_NE(
      error_of([] { read_text_file("/nonexistent/input.txt"); }).find("/nonexistent/input.txt"),
      std::string::npos);
  const std::string p = temp_path("empty.txt");
  write_bytes(p, "");
  EXPECT_NE(error_of([&] { read_text_file(p); }).find("empty"), std::string::npos);
  fs::remove(p);
}

TEST(Mnist, ReadsWellFormedIdxFiles) {
  const std::string img = temp_path("img.idx"), lab = temp_path("lab.idx");
  std::string pixels;
  for (int i = 0; i < 2 * 2 * 3; ++i) pixels.push_back(static_cast<char>(i * 20));
  write_bytes(img, idx_header(0x08, {2, 2, 3}) + pixels);
  write_bytes(lab, idx_header(0x08, {2}) + std::string{7, 3});
  const Mnist m = load_mnist(img, lab);
  EXPECT_EQ(m.count, 2);
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.cols, 3);
  EXPECT_FLOAT_EQ(m.images[5], 100.0f / 255.0f);
  EXPECT_EQ(m.labels, (std::vector<int32_t>{7, 3}));
  fs::remove(img);
  fs::remove(lab);
}

TEST(Mnist, MalformedFilesGiveClearErrors) {
  const std::string p = temp_path("bad.idx"), lab = temp_path("lab2.idx");
  auto err = [&](const std::string& bytes, int dims = 0) {
    write_bytes(p, bytes);
    return error_of([&] { read_idx(p, dims); });
  };
  EXPECT_NE(err("\x01\x02\x08\x01").find("two zero bytes"), std::string::npos);
  EXPECT_NE(err(idx_header(0x0D, {2}) + "ab").find("not unsigned byte"), std::string::npos);
  EXPECT_NE(err(idx_header(0x08, {2, 2}) + "abc").find("truncated"), std::string::npos);
  EXPECT_NE(err(idx_header(0x08, {2}) + "abc").find("trailing"), std::string::npos);
  EXPECT_NE(err(idx_header(0x08, {2}) + "ab", 3).find("expected 3 dimensions"), std::string::npos);
  EXPECT_NE(err("\0\0").find(p), std::string::npos);
  EXPECT_NE(error_of([] { read_idx("/nonexistent/x.idx"); }).find("/nonexistent/x.idx"),
            std::string::npos);
  // Label count disagreeing with the image count, and a label that is not a digit.
  write_bytes(p, idx_header(0x08, {2, 1, 1}) + std::string{1, 2});
  write_bytes(lab, idx_header(0x08, {3}) + std::string{1, 2, 3});
  EXPECT_NE(error_of([&] { load_mnist(p, lab); }).find("3 labels for 2 images"), std::string::npos);
  write_bytes(lab, idx_header(0x08, {2}) + std::string{1, 12});
  EXPECT_NE(error_of([&] { load_mnist(p, lab); }).find("not a digit"), std::string::npos);
  fs::remove(p);
  fs::remove(lab);
}

// The shipped test set (../shared/data/mnist), when present: 10,000 images of 28×28,
// label counts as published for the MNIST test set.
TEST(Mnist, SharedTestSetWhenPresent) {
  const std::string dir = std::string(TESSEL_SOURCE_DIR) + "/../shared/data/mnist/";
  TESSEL_REQUIRE_SHARED_DATA(dir + "t10k-images-idx3-ubyte.gz");
  const Mnist m = load_mnist(dir + "t10k-images-idx3-ubyte.gz", dir + "t10k-labels-idx1-ubyte.gz");
  EXPECT_EQ(m.count, 10000);
  EXPECT_EQ(m.rows, 28);
  EXPECT_EQ(m.cols, 28);
  std::vector<int> counts(10);
  for (int y : m.labels) ++counts[y];
  EXPECT_EQ(counts, (std::vector<int>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}));
}

}  // namespace
}  // namespace tessel::data
