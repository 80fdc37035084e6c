// Labelled mail corpus (the SpamAssassin public corpus): messages from a .tar(.gz), the
// text a model reads from each, and a seeded per-message train/val/test split.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessel::data {

// The text a classifier reads from one raw RFC 822 message:
// - "Subject: <subject>" (continuation lines joined), a newline, then the body; every
//   other header is dropped (routes, dates and addresses would let a model learn how the
//   corpus was collected rather than what the mail says).
// - The body is the raw text after the first empty line, not MIME-decoded (base64 and
//   quoted-printable parts stay encoded; part headers and boundaries stay).
// - HTML tags (`<` followed by a letter, `/` or `!`, up to the next `>` within 1,000 bytes)
//   become a space; &nbsp; &amp; &lt; &gt; &quot; become their characters.
// - CR is dropped, tab becomes a space, every other control byte and every byte > 127
//   becomes kMailPlaceholder; runs of spaces become one space, spaces at line ends go,
//   and runs of empty lines become one.
// No truncation: the trainer reads the first train.seq_len characters.
std::string mail_text(const std::string& raw);
constexpr char kMailPlaceholder = '\x7f';

// The text a language model reads from a message, from mail_text()'s output:
// - the body only: the "Subject:" line, the one header mail_text keeps, is dropped;
// - lower-cased (ASCII letters), each kMailPlaceholder byte a space;
// - a line of kMailBlobLine or more characters without a space is dropped with its
//   newline (base64 parts, uuencoded data, long URLs: encodings, not language), and runs
//   of empty lines that leaves become one.
std::string mail_lm_text(const std::string& text);
constexpr std::size_t kMailBlobLine = 60;

struct MailMessage {
  std::string name;    // path inside the archive, e.g. spamassassin/spam-1/00001.<md5>.txt
  std::string folder;  // e.g. spam-1
  std::string md5;     // the checksum in the file name (NNNNN.<md5>.txt), or ""
  int label = 0;       // 0 ham, 1 spam
  std::string text;    // mail_text() of the message
};

// Every message of a SpamAssassin archive (.tar or .tar.gz), sorted by name. The label
// comes from the folder holding the file: `spam*` is spam, `easy-ham*` / `hard-ham*` /
// `ham*` ham. Throws tessel::IoError naming the archive for an unreadable archive, a file
// in another folder, or an archive with no messages.
std::vector<MailMessage> load_mail_archive(const std::string& path);

// A per-message split: indices into the message list, each list ascending.
struct DocumentSplit {
  std::vector<int> train, val, test;
  // Messages sharing their file-name md5 or their text with another message: all copies
  // sit in one split. Counts of such groups and of the messages in them.
  int md5_duplicate_groups = 0, md5_duplicate_messages = 0;
  int text_duplicate_groups = 0, text_duplicate_messages = 0;
};

// Groups duplicates (same file-name md5 or same text), then per label (the label of a
// group's first message) shuffles the groups with `seed` and fills test, then val, up to
// round(fraction × messages of that label), the rest train. Deterministic in (messages,
// fractions, seed); independent of message order. Fractions: each in [0, 1), sum < 1.
DocumentSplit split_messages(const std::vector<MailMessage>& messages, double val_fraction,
                             double test_fraction, uint64_t seed);

// The split as text, one "<split> <name>" line per message (train, val, test; names
// ascending), and its FNV-1a 64-bit hash as 16 hex digits, to record in results.
std::string split_manifest(const std::vector<MailMessage>& messages, const DocumentSplit& split);
std::string fnv1a64_hex(const std::string& bytes);

}  // namespace tessel::data
