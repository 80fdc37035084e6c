// Fuzz target: the tokenizers on arbitrary bytes. The first byte picks the mode: build a
// vocabulary from the text and round-trip it, or restore a serialized vocabulary (as a
// checkpoint's metadata carries it) and encode with it.
#include <cstdint>
#include <string>

#include "models/data/tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessel;
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Bad input (an empty text, a vocabulary that repeats a byte) may fail, but only with a
  // tessel::Error; the invariants below are findings whatever happens.
  try {
    switch (data[0] % 4) {
      case 0: {
        // Char level is lossless: decode(encode(t)) == t for the text it was built from.
        data::CharTokenizer t = data::CharTokenizer::from_text(text);
        if (t.decode(t.encode(text)) != text) fuzz::finding("char tokenizer round trip");
        data::CharTokenizer r = data::CharTokenizer::restore(t.serialize());
        if (r.encode(text) != t.encode(text)) fuzz::finding("char tokenizer restore");
        break;
      }
      case 1: {
        data::WordTokenizer t = data::WordTokenizer::from_text(text, 64);
        const auto ids = t.encode(text);
        for (int32_t id : ids)
          if (id < 0 || id >= t.vocab_size()) fuzz::finding("word id out of range");
        t.decode(ids);
        data::WordTokenizer r = data::WordTokenizer::restore(t.serialize());
        if (r.encode(text) != ids) fuzz::finding("word tokenizer restore");
        break;
      }
      default: {
        // A vocabulary from a file: anything may fail, but only with a tessel::Error.
        const auto cut = text.find('\0');
        const std::string vocab = text.substr(0, cut);
        const std::string sample = cut == std::string::npos ? text : text.substr(cut + 1);
        auto t = data::restore_tokenizer(data[0] % 4 == 2 ? "char" : "word", vocab);
        const auto ids = t->encode(sample);
        t->decode(ids);
      }
    }
  } catch (const Error&) {
  } catch (const std::exception& e) {
    fuzz::finding(std::string("non-tessel exception: ") + e.what());
  }
  return 0;
}
