// Mail corpus: archive reading, text extraction, duplicate grouping and the seeded split.
#include "models/data/mail.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <unordered_map>

#include "models/common/rng.h"
#include "models/data/archive.h"
#include "runtime/core/error.h"

namespace tessel::data {
namespace {

bool starts_with_nocase(const std::string& s, std::size_t at, const char* prefix) {
  for (std::size_t i = 0; prefix[i]; ++i) {
    if (at + i >= s.size()) return false;
    const char a = s[at + i], b = prefix[i];
    if (std::tolower(static_cast<unsigned char>(a)) != std::tolower(static_cast<unsigned char>(b)))
      return false;
  }
  return true;
}

// Header block [0, end) and the body's start, split at the first empty line.
void split_headers(const std::string& raw, std::size_t& end, std::size_t& body) {
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\n') continue;
    std::size_t j = i + 1;
    if (j < raw.size() && raw[j] == '\r') ++j;
    if (j < raw.size() && raw[j] == '\n') {
      end = i;
      body = j + 1;
      return;
    }
    if (j == raw.size()) break;
  }
  end = raw.size();
  body = raw.size();
}

// The Subject header's value (continuation lines joined with a space), or "".
std::string subject(const std::string& raw, std::size_t end) {
  for (std::size_t line = 0; line < end;) {
    std::size_t eol = raw.find('\n', line);
    if (eol == std::string::npos || eol > end) eol = end;
    if (starts_with_nocase(raw, line, "subject:")) {
      std::string v = raw.substr(line + 8, eol - line - 8);
      // Folded header: following lines that start with a space or tab continue it.
      while (eol < end && eol + 1 < raw.size() && (raw[eol + 1] == ' ' || raw[eol + 1] == '\t')) {
        std::size_t next = raw.find('\n', eol + 1);
        if (next == std::string::npos || next > end) next = end;
        v += " " + raw.substr(eol + 1, next - eol - 1);
        eol = next;
      }
      return v;
    }
    line = eol + 1;
  }
  return "";
}

// Tags to a space, the common entities to their characters.
std::string strip_html(const std::string& s) {
  static const std::pair<const char*, char> kEntities[] = {
      {"&nbsp;", ' '}, {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}};
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '<' && i + 1 < s.size() &&
        (std::isalpha(static_cast<unsigned char>(s[i + 1])) || s[i + 1] == '/' ||
         s[i + 1] == '!')) {
      const std::size_t close = s.find('>', i + 1);
      if (close != std::string::npos && close - i <= 1000) {
        out += ' ';
        i = close;
        continue;
      }
    }
    if (c == '&') {
      bool matched = false;
      for (const auto& [name, ch] : kEntities)
        if (starts_with_nocase(s, i, name)) {
          out += ch;
          i += std::char_traits<char>::length(name) - 1;
          matched = true;
          break;
        }
      if (matched) continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string mail_text(const std::string& raw) {
  std::size_t end = 0, body = 0;
  split_headers(raw, end, body);
  const std::string text = strip_html("Subject: " + subject(raw, end) + "\n" + raw.substr(body));
  // Byte mapping and whitespace normalisation in one pass.
  std::string out;
  out.reserve(text.size());
  int newlines = 0;  // consecutive newlines already written
  bool space = false;
  for (const char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    if (u == '\r') continue;
    if (u == '\n') {
      space = false;
      while (!out.empty() && out.back() == ' ') out.pop_back();
      if (newlines < 2 && !out.empty()) out += '\n';
      ++newlines;
      continue;
    }
    if (u == '\t' || u == ' ') {
      space = true;
      continue;
    }
    if (space && !out.empty() && out.back() != '\n') out += ' ';
    space = false;
    newlines = 0;
    out += (u < 32 || u >= 127) ? kMailPlaceholder : ch;
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string mail_lm_text(const std::string& text) {
  const std::size_t first = text.find('\n');
  if (first == std::string::npos) return "";  // a subject and no body
  std::string out;
  out.reserve(text.size() - first);
  for (std::size_t start = first + 1; start <= text.size();) {
    std::size_t eol = text.find('\n', start);
    if (eol == std::string::npos) eol = text.size();
    const std::size_t len = eol - start;
    const bool blob =
        len >= kMailBlobLine && text.find(' ', start) >= eol;  // no space before the line's end
    if (!blob) {
      for (std::size_t i = start; i < eol; ++i) {
        const char c = text[i];
        out += c == kMailPlaceholder
                   ? ' '
                   : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      // At most one empty line in a row (a dropped line can leave two next to each other).
      const bool blank_run =
          out.size() >= 2 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n';
      if (eol < text.size() && !blank_run) out += '\n';
    }
    start = eol + 1;
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::vector<MailMessage> load_mail_archive(const std::string& path) {
  std::vector<TarEntry> entries = read_tar(read_maybe_gzip(path), path);
  std::vector<MailMessage> out;
  for (auto& e : entries) {
    const std::size_t slash = e.name.rfind('/');
    if (slash == std::string::npos || slash == 0) continue;  // not inside a folder
    const std::size_t before = e.name.rfind('/', slash - 1);
    MailMessage m;
    m.name = e.name;
    m.folder = e.name.substr(before == std::string::npos ? 0 : before + 1,
                             slash - (before == std::string::npos ? 0 : before + 1));
    if (m.folder.rfind("spam", 0) == 0)
      m.label = 1;
    else if (m.folder.rfind("easy-ham", 0) == 0 || m.folder.rfind("hard-ham", 0) == 0 ||
             m.folder.rfind("ham", 0) == 0)
      m.label = 0;
    else
      throw IoError(path + ": " + e.name + ": folder \"" + m.folder +
                    "\" is neither spam* nor (easy-|hard-)ham*, so its label is unknown");
    // NNNNN.<md5>.txt: the corpus's checksum of the original message.
    const std::string file = e.name.substr(slash + 1);
    const std::size_t d1 = file.find('.'),
                      d2 = file.find('.', d1 == std::string::npos ? 0 : d1 + 1);
    if (d1 != std::string::npos && d2 != std::string::npos)
      m.md5 = file.substr(d1 + 1, d2 - d1 - 1);
    m.text = mail_text(e.data);
    e.data.clear();
    e.data.shrink_to_fit();
    out.push_back(std::move(m));
  }
  if (out.empty()) throw IoError(path + ": no messages in folders of the archive");
  std::sort(out.begin(), out.end(),
            [](const MailMessage& a, const MailMessage& b) { return a.name < b.name; });
  return out;
}

std::string fnv1a64_hex(const std::string& bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

DocumentSplit split_messages(const std::vector<MailMessage>& messages, double val_fraction,
                             double test_fraction, uint64_t seed) {
  if (!(val_fraction >= 0 && test_fraction >= 0 && val_fraction + test_fraction < 1))
    throw Error("split_messages: fractions must be >= 0 with val + test < 1", kExitConfig);
  const int n = static_cast<int>(messages.size());
  // Order-independent: work on the messages sorted by name.
  std::vector<int> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return messages[a].name < messages[b].name; });

  // Union-find over "same md5" and "same text".
  std::vector<int> parent(static_cast<std::size_t>(n));
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](int x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  DocumentSplit s;
  auto group_by = [&](auto key_of, int& groups, int& members) {
    std::unordered_map<std::string, std::vector<int>> by;
    for (const int i : order) {
      const std::string k = key_of(messages[i]);
      if (!k.empty()) by[k].push_back(i);
    }
    for (const auto& [k, v] : by) {
      if (v.size() < 2) continue;
      ++groups;
      members += static_cast<int>(v.size());
      for (std::size_t j = 1; j < v.size(); ++j) parent[find(v[j])] = find(v[0]);
    }
  };
  group_by([](const MailMessage& m) { return m.md5; }, s.md5_duplicate_groups,
           s.md5_duplicate_messages);
  group_by([](const MailMessage& m) { return m.text; }, s.text_duplicate_groups,
           s.text_duplicate_messages);

  // Groups in name order of their first member; the group's label is that member's.
  std::map<int, std::vector<int>> groups;  // root -> members (name order)
  std::vector<int> roots;
  for (const int i : order) {
    const int r = find(i);
    if (groups[r].empty()) roots.push_back(r);
    groups[r].push_back(i);
  }
  for (int label = 0; label <= 1; ++label) {
    std::vector<int> mine;
    int count = 0;
    for (const int r : roots)
      if (messages[groups[r].front()].label == label) {
        mine.push_back(r);
        count += static_cast<int>(groups[r].size());
      }
    // Fisher-Yates with explicit modulo draws: the same order on every platform.
    Rng rng(seed * 2 + static_cast<uint64_t>(label));
    for (std::size_t i = mine.size(); i > 1; --i) std::swap(mine[i - 1], mine[rng.next_u64() % i]);
    const auto n_test = static_cast<int>(std::lround(test_fraction * count));
    const auto n_val = static_cast<int>(std::lround(val_fraction * count));
    int in_test = 0, in_val = 0;
    for (const int r : mine) {
      const auto& g = groups[r];
      std::vector<int>* to = &s.train;
      if (in_test < n_test) {
        to = &s.test;
        in_test += static_cast<int>(g.size());
      } else if (in_val < n_val) {
        to = &s.val;
        in_val += static_cast<int>(g.size());
      }
      to->insert(to->end(), g.begin(), g.end());
    }
  }
  for (auto* v : {&s.train, &s.val, &s.test}) std::sort(v->begin(), v->end());
  return s;
}

std::string split_manifest(const std::vector<MailMessage>& messages, const DocumentSplit& split) {
  std::string out;
  const std::pair<const char*, const std::vector<int>*> parts[] = {
      {"train", &split.train}, {"val", &split.val}, {"test", &split.test}};
  for (const auto& [tag, idx] : parts) {
    std::vector<std::string> names;
    for (const int i : *idx) names.push_back(messages[static_cast<std::size_t>(i)].name);
    std::sort(names.begin(), names.end());
    for (const auto& n : names) out += std::string(tag) + " " + n + "\n";
  }
  return out;
}

}  // namespace tessel::data
