// Character and word tokenizers.
#include "models/data/tokenizer.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "runtime/core/error.h"

namespace tessel::data {

CharTokenizer CharTokenizer::from_text(const std::string& text) {
  bool seen[256] = {};
  for (unsigned char ch : text) seen[ch] = true;
  std::string chars;
  for (int b = 0; b < 256; ++b)
    if (seen[b]) chars.push_back(static_cast<char>(b));
  return restore(chars);
}

CharTokenizer CharTokenizer::restore(const std::string& chars) {
  if (chars.empty()) throw Error("tokenizer: empty character vocabulary", kExitFailure);
  CharTokenizer t;
  t.chars_ = chars;
  std::fill(std::begin(t.id_), std::end(t.id_), -1);
  for (std::size_t i = 0; i < chars.size(); ++i) {
    auto& slot = t.id_[static_cast<unsigned char>(chars[i])];
    if (slot >= 0) throw Error("tokenizer: character vocabulary repeats a byte", kExitFailure);
    slot = static_cast<int32_t>(i);
  }
  return t;
}

std::vector<int32_t> CharTokenizer::encode(const std::string& text) const {
  std::vector<int32_t> ids(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const int32_t id = id_[static_cast<unsigned char>(text[i])];
    if (id < 0)
      throw Error("tokenizer: byte " + std::to_string(static_cast<unsigned char>(text[i])) +
                      " at offset " + std::to_string(i) + " is not in the vocabulary",
                  kExitFailure);
    ids[i] = id;
  }
  return ids;
}

std::string CharTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string s;
  s.reserve(ids.size());
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size())
      throw Error("tokenizer: id " + std::to_string(id) + " out of range", kExitFailure);
    s.push_back(chars_[static_cast<std::size_t>(id)]);
  }
  return s;
}

namespace {
bool word_byte(unsigned char c) {
  return std::isalnum(c) || c == '\'' || c >= 0x80;
}
}  // namespace

std::vector<std::string> WordTokenizer::split(const std::string& text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out.emplace_back("\n");
      ++i;
    } else if (std::isspace(c)) {
      ++i;
    } else if (word_byte(c)) {
      std::size_t j = i;
      while (j < text.size() && word_byte(static_cast<unsigned char>(text[j]))) ++j;
      out.push_back(text.substr(i, j - i));
      i = j;
    } else {
      out.emplace_back(1, text[i]);
      ++i;
    }
  }
  return out;
}

WordTokenizer WordTokenizer::from_text(const std::string& text, int max_vocab) {
  if (max_vocab < 2)
    throw Error("tokenizer: word vocabulary needs at least 2 entries", kExitConfig);
  std::map<std::string, int64_t> counts;
  for (auto& w : split(text)) ++counts[w];
  std::vector<std::pair<std::string, int64_t>> order(counts.begin(), counts.end());
  // Stable sort on count keeps the map's byte order among equal counts.
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  WordTokenizer t;
  t.words_.push_back("<unk>");
  for (const auto& [w, n] : order) {
    if (static_cast<int>(t.words_.size()) >= max_vocab) break;
    t.words_.push_back(w);
  }
  for (std::size_t i = 0; i < t.words_.size(); ++i) t.ids_[t.words_[i]] = static_cast<int32_t>(i);
  return t;
}

WordTokenizer WordTokenizer::restore(const std::string& vocab) {
  WordTokenizer t;
  std::istringstream in(vocab);
  std::string line;
  while (std::getline(in, line)) {
    t.words_.push_back(line == "\\n" ? "\n" : line);
    if (!t.ids_.emplace(t.words_.back(), static_cast<int32_t>(t.words_.size() - 1)).second)
      throw Error("tokenizer: word vocabulary repeats '" + line + "'", kExitFailure);
  }
  if (t.words_.empty() || t.words_[0] != "<unk>")
    throw Error("tokenizer: word vocabulary must start with <unk>", kExitFailure);
  return t;
}

std::vector<int32_t> WordTokenizer::encode(const std::string& text) const {
  std::vector<int32_t> ids;
  for (const auto& w : split(text)) {
    auto it = ids_.find(w);
    ids.push_back(it == ids_.end() ? 0 : it->second);
  }
  return ids;
}

std::string WordTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string s;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size())
      throw Error("tokenizer: id " + std::to_string(id) + " out of range", kExitFailure);
    const std::string& w = words_[static_cast<std::size_t>(id)];
    if (!s.empty() && s.back() != '\n' && w != "\n") s.push_back(' ');
    s += w;
  }
  return s;
}

std::string WordTokenizer::serialize() const {
  std::string s;
  for (const auto& w : words_) s += (w == "\n" ? std::string("\\n") : w) + "\n";
  return s;
}

std::unique_ptr<Tokenizer> restore_tokenizer(const std::string& kind, const std::string& vocab) {
  if (kind == "char") return std::make_unique<CharTokenizer>(CharTokenizer::restore(vocab));
  if (kind == "word") return std::make_unique<WordTokenizer>(WordTokenizer::restore(vocab));
  throw Error("tokenizer: unknown kind '" + kind + "' (expected char or word)", kExitFailure);
}

}  // namespace tessel::data
