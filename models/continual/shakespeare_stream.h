// Speaker attribution on tinyshakespeare as a class-incremental stream (docs/carm.md): each
// speech turn is one sample, its speaker the label, 5 tasks of 2 speakers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/continual/learner.h"

namespace tessel::continual {

// Hashed character 3-grams into this many buckets: the MNIST input width, so the same MLP
// and the same 4 KiB store records serve both streams.
constexpr int kShakespeareBuckets = 784;
// Turns with fewer characters of speech (lines joined by one space) are dropped: too few
// 3-grams to say anything about the speaker.
constexpr int kShakespeareMinChars = 20;

struct ShakespeareTurn {
  std::string speaker;  // as written, without the ':'
  std::string speech;   // the turn's lines joined by single spaces
  int64_t line = 0;     // 1-based line of the speaker line
};

// Every turn of the text. A turn is a block of non-blank lines after a blank line (or the
// start of the text) whose first line ends with ':' and starts with an upper-case letter
// ("First Citizen:", "KING RICHARD III:"); the rest of the block is the speech. A block
// whose first line is not of that form is skipped (tinyshakespeare has none).
std::vector<ShakespeareTurn> parse_shakespeare_turns(const std::string& text);

// The features of one speech: counts of its lower-cased character 3-grams, each hashed
// (FNV-1a over the 3 bytes) into kShakespeareBuckets buckets, scaled per turn to
// min(255, round(255 * count / largest count of the turn)); all zero for a speech under 3
// characters.
std::vector<uint8_t> shakespeare_features(const std::string& speech);
uint32_t shakespeare_bucket(unsigned char a, unsigned char b, unsigned char c);

// The stream: turns of at least kShakespeareMinChars characters; the `speakers` speakers with
// the most such turns (ties by name) get labels 0.. in that order; the last 20 % (floor) of
// each speaker's turns in text order are its test rows. Rows: all train turns in text
// order, then all test turns in text order (train_count rows train, as load_mnist_stream).
// Empty `tasks`: pairs of speakers in rank order. `names` (optional) receives the speakers.
// Throws IoError for an unreadable file or fewer speakers than asked for.
TaskStream load_shakespeare_stream(const std::string& path, int speakers,
                                   const std::vector<std::vector<int32_t>>& tasks,
                                   std::vector<std::string>* names = nullptr);

}  // namespace tessel::continual
