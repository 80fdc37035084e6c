// The tar reader against hand-built ustar archives, mail text extraction, the seeded
// per-message split, and the shared SpamAssassin corpus's published folder counts.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "models/data/archive.h"
#include "models/data/mail.h"
#include "runtime/core/error.h"
#include "tests/support/shared_data.h"

namespace tessel::data {
namespace {

namespace fs = std::filesystem;

// A ustar header written field by field from the POSIX layout (independent of the reader):
// name[100] mode[8] uid[8] gid[8] size[12] mtime[12] chksum[8] typeflag[1] linkname[100]
// magic[6] version[2] uname[32] gname[32] devmajor[8] devminor[8] prefix[155].
std::string ustar_header(const std::string& name, std::size_t size, char type,
                         const std::string& prefix = "") {
  std::string h(512, '\0');
  auto put = [&](std::size_t at, const std::string& v) { h.replace(at, v.size(), v); };
  put(0, name);
  put(100, "0000644");
  put(108, "0001750");
  put(116, "0001750");
  char octal[16];
  std::snprintf(octal, sizeof octal, "%011zo", size);
  put(124, octal);
  put(136, "14500000000");
  h[156] = type;
  put(257, std::string("ustar\0"
                       "00",
                       8));
  put(265, "user");
  put(297, "group");
  put(345, prefix);
  put(148, "        ");
  unsigned sum = 0;
  for (const char c : h) sum += static_cast<unsigned char>(c);
  std::snprintf(octal, sizeof octal, "%06o", sum);
  put(148, std::string(octal) + std::string(1, '\0') + " ");
  return h;
}

std::string tar_file(const std::string& name, const std::string& data,
                     const std::string& prefix = "") {
  std::string out = ustar_header(name, data.size(), '0', prefix) + data;
  out.resize((out.size() + 511) / 512 * 512, '\0');
  return out;
}

std::string end_blocks() {
  return std::string(1024, '\0');
}

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() /
          ("tessel_mail_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

TEST(Tar, ReadsHandBuiltUstarArchive) {
  const std::string big(513, 'x');
  const std::string exact(512, 'y');
  const std::string tar = ustar_header("corpus/", 0, '5') + tar_file("corpus/a.txt", "hello") +
                          tar_file("corpus/empty.txt", "") + tar_file("b.txt", big, "corpus/sub") +
                          tar_file("corpus/c.txt", exact) + end_blocks();
  const auto e = read_tar(tar, "t.tar");
  ASSERT_EQ(e.size(), 4u);  // the directory is skipped
  EXPECT_EQ(e[0].name, "corpus/a.txt");
  EXPECT_EQ(e[0].data, "hello");
  EXPECT_EQ(e[1].name, "corpus/empty.txt");
  EXPECT_EQ(e[1].data, "");
  EXPECT_EQ(e[2].name, "corpus/sub/b.txt");
  EXPECT_EQ(e[2].data, big);
  EXPECT_EQ(e[3].data, exact);
  // Without the end-of-archive blocks the entries are the same.
  EXPECT_EQ(read_tar(tar.substr(0, tar.size() - 1024), "t.tar").size(), 4u);
  // Through a file: read_maybe_gzip passes an uncompressed file through unchanged.
  const std::string path = temp_path("plain.tar");
  std::ofstream(path, std::ios::binary) << tar;
  EXPECT_EQ(read_maybe_gzip(path), tar);
  fs::remove(path);
}

TEST(Tar, MalformedArchivesNameTheEntry) {
  auto fails_with = [](const std::string& tar, const std::string& want) {
    try {
      read_tar(tar, "bad.tar");
      ADD_FAILURE() << "no error, wanted " << want;
    } catch (const IoError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("bad.tar"), std::string::npos) << e.what();
    }
  };
  std::string tar = tar_file("a.txt", "hello") + tar_file("b.txt", "world");
  std::string bad_sum = tar;
  bad_sum[1024 + 10] = 'Z';  // inside b.txt's name field (a.txt: header + 1 data block)
  fails_with(bad_sum, "byte 1024: header checksum");
  fails_with(tar.substr(0, 1024 + 512 + 3), "(b.txt): truncated: 5 bytes");  // data cut off
  fails_with(tar.substr(0, 1024 + 100), "truncated tar header at byte 1024");
  fails_with(ustar_header("pax", 0, 'x') + end_blocks(), "pax or GNU long-name");
  std::string text(2048, 'q');
  fails_with(text, "header checksum");
}

TEST(Mail, TextKeepsSubjectAndBodyOnly) {
  const std::string raw =
      "From someone@example.com  Mon Jan  1 00:00:00 2002\r\n"
      "Received: from x by y\r\n"
      "SUBJECT: Cheap  offer\r\n"
      "\tfor you\r\n"
      "To: a@b.c\r\n"
      "\r\n"
      "<HTML><body bgcolor=\"#fff\">Buy&nbsp;now &amp; save</body>\r\n"
      "\r\n"
      "\r\n"
      "\r\n"
      "caf\xe9 \x01 a < b\t\tok   \r\n";
  EXPECT_EQ(mail_text(raw),
            "Subject: Cheap offer for you\nBuy now & save\n\ncaf\x7f \x7f a < b ok");
  // No empty line: all headers, no body; no Subject: an empty one.
  EXPECT_EQ(mail_text("From: a\nTo: b\n"), "Subject:");
  EXPECT_EQ(mail_text("To: b\n\nbody"), "Subject:\nbody");
}

MailMessage msg(const std::string& name, int label, const std::string& text,
                const std::string& md5) {
  MailMessage m;
  m.name = name;
  m.label = label;
  m.text = text;
  m.md5 = md5;
  return m;
}

TEST(Mail, SplitIsSeededDisjointAndKeepsDuplicatesTogether) {
  std::vector<MailMessage> ms;
  for (int i = 0; i < 300; ++i)
    ms.push_back(msg("f/" + std::to_string(1000 + i), i % 3 == 0, "text " + std::to_string(i),
                     "m" + std::to_string(i)));
  // Duplicates: same md5 (different text), same text (different md5), and a chain.
  ms[10].md5 = ms[20].md5;
  ms[30].text = ms[40].text;
  ms[50].text = ms[60].text;
  ms[60].md5 = ms[70].md5;
  const DocumentSplit s = split_messages(ms, 0.2, 0.1, 7);
  EXPECT_EQ(s.md5_duplicate_groups, 2);
  EXPECT_EQ(s.md5_duplicate_messages, 4);
  EXPECT_EQ(s.text_duplicate_groups, 2);
  EXPECT_EQ(s.text_duplicate_messages, 4);
  std::map<int, char> where;
  for (const auto& [tag, v] : {std::pair{'t', &s.train}, {'v', &s.val}, {'x', &s.test}})
    for (const int i : *v) EXPECT_TRUE(where.emplace(i, tag).second) << "message " << i << " twice";
  EXPECT_EQ(where.size(), ms.size());
  EXPECT_EQ(where[10], where[20]);
  EXPECT_EQ(where[30], where[40]);
  EXPECT_EQ(where[50], where[60]);
  EXPECT_EQ(where[60], where[70]);
  // Per label, the sizes are the rounded fractions (give or take one duplicate group).
  int spam_val = 0, spam_test = 0;
  for (const int i : s.val) spam_val += ms[i].label;
  for (const int i : s.test) spam_test += ms[i].label;
  EXPECT_NEAR(spam_val, 20, 1);
  EXPECT_NEAR(spam_test, 10, 1);
  EXPECT_NEAR(static_cast<double>(s.val.size()), 60, 2);
  EXPECT_NEAR(static_cast<double>(s.test.size()), 30, 2);
  // Deterministic, independent of the input order, and the seed matters.
  EXPECT_EQ(split_manifest(ms, split_messages(ms, 0.2, 0.1, 7)), split_manifest(ms, s));
  std::vector<MailMessage> reversed(ms.rbegin(), ms.rend());
  EXPECT_EQ(split_manifest(reversed, split_messages(reversed, 0.2, 0.1, 7)), split_manifest(ms, s));
  EXPECT_NE(split_manifest(ms, split_messages(ms, 0.2, 0.1, 8)), split_manifest(ms, s));
  EXPECT_EQ(fnv1a64_hex(""), "cbf29ce484222325");   // FNV-1a offset basis
  EXPECT_EQ(fnv1a64_hex("a"), "af63dc4c8601ec8c");  // published test vector
}

TEST(Mail, UnknownFolderIsAnError) {
  const std::string path = temp_path("folders.tar");
  std::ofstream(path, std::ios::binary) << tar_file("c/spam-1/1.x.txt", "Subject: a\n\nb") +
                                               tar_file("c/misc/2.y.txt", "z") + end_blocks();
  try {
    load_mail_archive(path);
    ADD_FAILURE() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("folder \"misc\""), std::string::npos) << e.what();
  }
  fs::remove(path);
}

// The shared corpus (../shared/data/spamassassin): the folder counts its README gives.
TEST(Mail, SpamAssassinFolderCountsAndSplit) {
  const std::string path =
      std::string(TESSEL_SOURCE_DIR) + "/../shared/data/spamassassin/spamassassin.tar.gz";
  TESSEL_REQUIRE_SHARED_DATA(path);
  const auto t0 = std::chrono::steady_clock::now();
  const auto ms = load_mail_archive(path);
  std::map<std::string, int> count;
  int spam = 0;
  for (const auto& m : ms) {
    ++count[m.folder];
    spam += m.label;
    EXPECT_EQ(m.label, m.folder.rfind("spam", 0) == 0 ? 1 : 0) << m.name;
    EXPECT_EQ(m.md5.size(), 32u) << m.name;
  }
  const std::map<std::string, int> want = {{"easy-ham-1", 2500},
                                           {"easy-ham-2", 1400},
                                           {"hard-ham-1", 250},
                                           {"spam-1", 500},
                                           {"spam-2", 1396}};
  EXPECT_EQ(count, want);
  EXPECT_EQ(ms.size(), 6046u);
  EXPECT_EQ(spam, 1896);
  const DocumentSplit s = split_messages(ms, 0.1, 0.1, 2026);
  EXPECT_EQ(s.train.size() + s.val.size() + s.test.size(), ms.size());
  std::set<int> all(s.train.begin(), s.train.end());
  all.insert(s.val.begin(), s.val.end());
  all.insert(s.test.begin(), s.test.end());
  EXPECT_EQ(all.size(), ms.size());
  // Every message whose text another message shares sits in that message's split.
  std::map<std::string, std::set<int>> split_of_text;
  for (const auto& [tag, v] : {std::pair{0, &s.train}, {1, &s.val}, {2, &s.test}})
    for (const int i : *v) split_of_text[ms[i].text].insert(tag);
  for (const auto& [text, splits] : split_of_text) EXPECT_EQ(splits.size(), 1u);
  std::printf(
      "  %zu messages in %.2f s; md5 duplicates %d groups / %d messages; identical "
      "texts %d groups / %d messages; train %zu val %zu test %zu; manifest %s\n",
      ms.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
      s.md5_duplicate_groups, s.md5_duplicate_messages, s.text_duplicate_groups,
      s.text_duplicate_messages, s.train.size(), s.val.size(), s.test.size(),
      fnv1a64_hex(split_manifest(ms, s)).c_str());
}

}  // namespace
}  // namespace tessel::data
