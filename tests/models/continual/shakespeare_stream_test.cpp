// The tinyshakespeare speaker stream: parsing, features and split against hand-counted
// values and a brute-force 3-gram count; the real file against an independent Python pass.
#include "models/continual/shakespeare_stream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "models/continual/continual_io.h"
#include "runtime/core/error.h"

namespace tessel::continual {
namespace {

// 15 blocks: 14 turns (the block "no speaker here" is skipped), one of them ("Short.", 6
// characters) under the 20-character floor. Kept: ALICE 5, Bob 5, CAROL 3 turns.
const char* kText =
    "ALICE:\n"
    "Hello there my good friend, how are you?\n"
    "\n"
    "Bob:\n"
    "Bob speaks first and at some length.\n"
    "\n"
    "CAROL:\n"
    "Carol has one line here, long enough.\n"
    "\n"
    "Bob:\n"
    "Short.\n"
    "\n"
    "ALICE:\n"
    "line one\n"
    "He said thus:\n"
    "\n"
    "no speaker here\n"
    "still skipped\n"
    "\n"
    "Bob:\n"
    "Bob speaks now with enough characters\n"
    "over two lines.\n"
    "\n"
    "CAROL:\n"
    "Carol again, long enough to be kept.\n"
    "\n"
    "ALICE:\n"
    "Third speech from alice, long enough.\n"
    "\n"
    "Bob:\n"
    "Third Bob turn, plenty of characters.\n"
    "\n"
    "ALICE:\n"
    "Fourth speech of alice, long enough.\n"
    "\n"
    "CAROL:\n"
    "Third Carol turn, plenty of characters.\n"
    "\n"
    "Bob:\n"
    "Fourth Bob turn, plenty of characters.\n"
    "\n"
    "ALICE:\n"
    "Fifth and last speech of alice here.\n"
    "\n"
    "Bob:\n"
    "Fifth Bob turn, the last one of them.\n";

std::string write_temp(const std::string& text) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "tessel_shakespeare_test.txt").string();
  std::ofstream(path) << text;
  return path;
}

TEST(ShakespeareStream, ParsesTurns) {
  const auto t = parse_shakespeare_turns(kText);
  ASSERT_EQ(t.size(), 14u);
  EXPECT_EQ(t[0].speaker, "ALICE");
  EXPECT_EQ(t[0].line, 1);
  EXPECT_EQ(t[3].speaker, "Bob");
  EXPECT_EQ(t[3].speech, "Short.");
  EXPECT_EQ(t[4].speaker, "ALICE");
  EXPECT_EQ(t[4].speech, "line one He said thus:");  // a ':' inside a speech stays speech
  EXPECT_EQ(t[4].line, 13);
  EXPECT_EQ(t[5].speaker, "Bob");  // after the skipped block
  EXPECT_EQ(t[5].line, 20);
  EXPECT_EQ(t[5].speech, "Bob speaks now with enough characters over two lines.");
  EXPECT_EQ(t[13].speaker, "Bob");
}

TEST(ShakespeareStream, LabelsAndSplit) {
  const std::string path = write_temp(kText);
  std::vector<std::string> names;
  // ALICE and Bob tie at 5 kept turns: by name, "ALICE" < "Bob"; CAROL (3) is out.
  const TaskStream s = load_shakespeare_stream(path, 2, {}, &names);
  EXPECT_EQ(names, (std::vector<std::string>{"ALICE", "Bob"}));
  EXPECT_EQ(s.classes, 2);
  EXPECT_EQ(s.sample_bytes, 784);
  // Each keeps floor(5 / 5) = 1 test turn: its last. Train in text order, then test.
  EXPECT_EQ(s.train_count, 8);
  EXPECT_EQ(s.labels, (std::vector<int32_t>{0, 1, 0, 1, 0, 1, 0, 1, 0, 1}));
  EXPECT_EQ(s.tasks, (std::vector<std::vector<int32_t>>{{0, 1}}));
  ASSERT_EQ(s.pixels.size(), 10u * 784u);
  // Row 2 is ALICE's second turn; row 9 (test) Bob's fifth.
  const auto a2 = shakespeare_features("line one He said thus:");
  EXPECT_TRUE(std::equal(a2.begin(), a2.end(), s.pixels.begin() + 2 * 784));
  const auto b5 = shakespeare_features("Fifth Bob turn, the last one of them.");
  EXPECT_TRUE(std::equal(b5.begin(), b5.end(), s.pixels.begin() + 9 * 784));

  const TaskStream s3 = load_shakespeare_stream(path, 3, {}, &names);
  EXPECT_EQ(names.back(), "CAROL");
  // CAROL: 3 turns, floor(3 / 5) = 0 test turns.
  EXPECT_EQ(s3.train_count, 11);
  EXPECT_EQ(s3.rows(), 13);
  EXPECT_EQ(s3.tasks, (std::vector<std::vector<int32_t>>{{0, 1}, {2}}));
  EXPECT_THROW(load_shakespeare_stream(path, 4, {}), IoError);
  std::remove(path.c_str());
}

TEST(ShakespeareStream, FeaturesMatchBruteForce) {
  // FNV-1a 32 of "abc" is 0x1a47e90b (Python: h = 2166136261; h = ((h ^ c) * 16777619) &
  // 0xffffffff for each byte); 0x1a47e90b % 784 = 299.
  EXPECT_EQ(shakespeare_bucket('a', 'b', 'c'), 299u);
  const std::string speech = "To be, or NOT to be: that is the Question; to be!";
  std::map<std::string, int> grams;
  for (size_t i = 0; i + 3 <= speech.size(); ++i) {
    std::string g = speech.substr(i, 3);
    for (char& c : g) c = char(std::tolower(static_cast<unsigned char>(c)));
    ++grams[g];
  }
  std::vector<int> count(784, 0);
  for (const auto& [g, n] : grams) {
    uint32_t h = 2166136261u;
    for (unsigned char c : g) h = (h ^ c) * 16777619u;
    count[h % 784] += n;
  }
  const int top = *std::max_element(count.begin(), count.end());
  ASSERT_GE(top, 3);  // "to " three times, " be" three times
  const auto x = shakespeare_features(speech);
  for (int k = 0; k < 784; ++k)
    ASSERT_EQ(int(x[size_t(k)]), int(std::lround(255.0 * count[size_t(k)] / top))) << k;
  EXPECT_EQ(shakespeare_features("ab"), std::vector<uint8_t>(784, 0));
}

// The shipped text, against counts from an independent one-off pass (same rule: a turn is a
// block after a blank line whose first line ends in ':' and starts upper-case; speech lines
// joined by ' '; kept when >= 20 characters), run in ../shared/data/tinyshakespeare:
//   python3 - <<'PY'
//   import collections
//   T, c, p = [], None, True
//   for l in open('input.txt').read().split('\n'):
//       if l == '':
//           if c: T.append(c)
//           c, p = None, True; continue
//       if p: c = [l[:-1], []] if l.endswith(':') and l[0].isupper() else None
//       elif c is not None: c[1].append(l)
//       p = False
//   if c: T.append(c)
//   n = collections.Counter(s for s, x in T if len(' '.join(x)) >= 20)
//   top = sorted(n.items(), key=lambda q: (-q[1], q[0]))[:10]
//   print(len(T), top, sum(k - k // 5 for _, k in top))
//   PY
// It gives 7,222 turns, the top 10 below, and 1,102 train turns (269 test).
TEST(ShakespeareStream, RealFileSpeakers) {
  const std::string path =
      std::string(TESSEL_SOURCE_DIR) + "/../shared/data/tinyshakespeare/input.txt";
  if (!std::filesystem::exists(path))
    GTEST_SKIP() << "../shared/data/tinyshakespeare/input.txt not present";
  std::ifstream f(path);
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(parse_shakespeare_turns(text).size(), 7222u);
  std::vector<std::string> names;
  const TaskStream s = load_shakespeare_stream(path, 10, {}, &names);
  const std::vector<std::pair<std::string, int>> want = {
      {"GLOUCESTER", 199}, {"DUKE VINCENTIO", 173},   {"ROMEO", 149},      {"MENENIUS", 137},
      {"PETRUCHIO", 136},  {"KING RICHARD III", 123}, {"CORIOLANUS", 117}, {"JULIET", 115},
      {"ISABELLA", 113},   {"KING EDWARD IV", 109}};
  ASSERT_EQ(names.size(), 10u);
  std::vector<int> n(10, 0);
  for (int32_t y : s.labels) ++n[size_t(y)];
  for (size_t k = 0; k < 10; ++k) {
    EXPECT_EQ(names[k], want[k].first);
    EXPECT_EQ(n[k], want[k].second) << want[k].first;
  }
  EXPECT_EQ(s.train_count, 1102);
  EXPECT_EQ(s.rows(), 1371);
  EXPECT_EQ(s.tasks.size(), 5u);
}

// dataset.kind chooses the stream; the MNIST keys apply only to mnist, `text` only to
// shakespeare, and a workload without `kind` is still MNIST.
TEST(ShakespeareStream, WorkloadKeys) {
  const KeySet& keys = continual_workload_keys();
  const Config mnist =
      Config::parse("dataset: {images: a.gz, labels: b.gz}\nmethod: er\n", "w.yaml");
  keys.check(mnist);
  EXPECT_EQ(read_continual_workload(mnist).kind, "mnist");
  const Config text =
      Config::parse("dataset: {kind: shakespeare, text: t.txt}\nmethod: er\n", "w.yaml");
  keys.check(text);
  const ContinualWorkload w = read_continual_workload(text);
  EXPECT_EQ(w.kind, "shakespeare");
  EXPECT_NE(w.text.find("t.txt"), std::string::npos);
  EXPECT_TRUE(w.images.empty());
  auto error = [&](const std::string& yaml) -> std::string {
    try {
      const Config c = Config::parse(yaml, "w.yaml");
      keys.check(c);
      read_continual_workload(c);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  std::string e = error("dataset: {kind: shakespeare, text: t.txt, images: a.gz}\nmethod: er\n");
  EXPECT_NE(e.find("dataset.images: applies only with kind: mnist"), std::string::npos) << e;
  e = error("dataset: {images: a.gz, labels: b.gz, text: t.txt}\nmethod: er\n");
  EXPECT_NE(e.find("dataset.text: applies only with kind: shakespeare"), std::string::npos) << e;
  e = error("dataset: {kind: shakespeare}\nmethod: er\n");
  EXPECT_NE(e.find("text"), std::string::npos) << e;
}

}  // namespace
}  // namespace tessel::continual
