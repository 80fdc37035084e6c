// Character- and word-level tokenizers, serialisable so a checkpoint carries its vocabulary.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tessel::data {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string kind() const = 0;  // "char" or "word"
  virtual int vocab_size() const = 0;
  // Throws tessel::Error for text the vocabulary cannot represent (char level only;
  // the word level maps unknown words to <unk>).
  virtual std::vector<int32_t> encode(const std::string& text) const = 0;
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  // Vocabulary as text; restore() in the same class reads it back.
  virtual std::string serialize() const = 0;
};

// One token per byte that occurs in the training text, ids in byte order (as char-rnn
// and nanoGPT's shakespeare_char do, so vocabularies are comparable: 65 for
// tinyshakespeare).
class CharTokenizer : public Tokenizer {
 public:
  static CharTokenizer from_text(const std::string& text);
  // `chars` lists the vocabulary bytes in id order (serialize() output).
  static CharTokenizer restore(const std::string& chars);
  std::string kind() const override { return "char"; }
  int vocab_size() const override { return static_cast<int>(chars_.size()); }
  std::vector<int32_t> encode(const std::string& text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  std::string serialize() const override { return chars_; }

 private:
  std::string chars_;
  int32_t id_[256];
};

// Words are maximal runs of letters, digits and apostrophes; every other non-space
// byte is a token of its own, and a newline is the token "\n" (other whitespace only
// separates). Ids: 0 is <unk>, then the most frequent `max_vocab - 1` tokens of the
// training text, by decreasing count, ties in byte order. decode() joins words with
// single spaces, so it is lossy about spacing.
class WordTokenizer : public Tokenizer {
 public:
  static WordTokenizer from_text(const std::string& text, int max_vocab);
  // serialize() output: one token per line in id order ("\n" written as "\\n").
  static WordTokenizer restore(const std::string& vocab);
  static std::vector<std::string> split(const std::string& text);
  std::string kind() const override { return "word"; }
  int vocab_size() const override { return static_cast<int>(words_.size()); }
  std::vector<int32_t> encode(const std::string& text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  std::string serialize() const override;
  const std::string& word(int32_t id) const { return words_[static_cast<std::size_t>(id)]; }

 private:
  std::vector<std::string> words_;
  std::map<std::string, int32_t> ids_;
};

// Restores either kind from its kind() and serialize() strings; throws on an unknown kind.
std::unique_ptr<Tokenizer> restore_tokenizer(const std::string& kind, const std::string& vocab);

}  // namespace tessel::data
