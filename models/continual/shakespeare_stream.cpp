// tinyshakespeare → TaskStream (speaker attribution).
#include "models/continual/shakespeare_stream.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

#include "runtime/core/error.h"

namespace tessel::continual {

std::vector<ShakespeareTurn> parse_shakespeare_turns(const std::string& text) {
  std::vector<ShakespeareTurn> turns;
  std::istringstream in(text);
  std::string l;
  bool after_blank = true, in_turn = false;
  int64_t n = 0;
  while (std::getline(in, l)) {
    ++n;
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (l.empty()) {
      after_blank = true;
      in_turn = false;
      continue;
    }
    if (after_blank) {
      in_turn = l.size() > 1 && l.back() == ':' && std::isupper(static_cast<unsigned char>(l[0]));
      if (in_turn) turns.push_back({l.substr(0, l.size() - 1), "", n});
    } else if (in_turn) {
      std::string& s = turns.back().speech;
      s += (s.empty() ? "" : " ") + l;
    }
    after_blank = false;
  }
  return turns;
}

uint32_t shakespeare_bucket(unsigned char a, unsigned char b, unsigned char c) {
  uint32_t h = 2166136261u;
  for (unsigned char x : {a, b, c}) h = (h ^ x) * 16777619u;
  return h % uint32_t(kShakespeareBuckets);
}

std::vector<uint8_t> shakespeare_features(const std::string& speech) {
  std::vector<int64_t> count(kShakespeareBuckets, 0);
  std::string s = speech;
  for (char& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  for (size_t i = 0; i + 3 <= s.size(); ++i)
    ++count[shakespeare_bucket(static_cast<unsigned char>(s[i]),
                               static_cast<unsigned char>(s[i + 1]),
                               static_cast<unsigned char>(s[i + 2]))];
  const int64_t top = *std::max_element(count.begin(), count.end());
  std::vector<uint8_t> out(kShakespeareBuckets, 0);
  if (top > 0)
    for (int k = 0; k < kShakespeareBuckets; ++k)
      out[size_t(k)] = uint8_t(std::min<int64_t>(255, (255 * count[size_t(k)] + top / 2) / top));
  return out;
}

TaskStream load_shakespeare_stream(const std::string& path, int speakers,
                                   const std::vector<std::vector<int32_t>>& tasks,
                                   std::vector<std::string>* names) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError(path + ": cannot read");
  std::ostringstream text;
  text << f.rdbuf();
  std::vector<ShakespeareTurn> turns = parse_shakespeare_turns(text.str());
  turns.erase(std::remove_if(turns.begin(), turns.end(),
                             [](const ShakespeareTurn& t) {
                               return int(t.speech.size()) < kShakespeareMinChars;
                             }),
              turns.end());
  std::map<std::string, int64_t> count;
  for (const auto& t : turns) ++count[t.speaker];
  std::vector<std::pair<std::string, int64_t>> rank(count.begin(), count.end());
  // Most turns first; the map's order breaks ties by name (stable sort).
  std::stable_sort(rank.begin(), rank.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (speakers < 1 || size_t(speakers) > rank.size())
    throw IoError(path + ": " + std::to_string(rank.size()) + " speakers with turns of at least " +
                  std::to_string(kShakespeareMinChars) + " characters, " +
                  std::to_string(speakers) + " asked for");
  std::map<std::string, int32_t> label;
  for (int k = 0; k < speakers; ++k) label[rank[size_t(k)].first] = k;

  // Per speaker, its first n - floor(n / 5) turns in text order train.
  std::vector<int64_t> seen(size_t(speakers), 0);
  std::vector<std::pair<const ShakespeareTurn*, int32_t>> train, test;
  for (const auto& t : turns) {
    const auto it = label.find(t.speaker);
    if (it == label.end()) continue;
    const int32_t y = it->second;
    const int64_t n = count[t.speaker];
    (seen[size_t(y)]++ < n - n / 5 ? train : test).push_back({&t, y});
  }
  TaskStream s;
  s.sample_bytes = kShakespeareBuckets;
  s.classes = speakers;
  for (const auto* part : {&train, &test})
    for (const auto& [t, y] : *part) {
      const std::vector<uint8_t> x = shakespeare_features(t->speech);
      s.pixels.insert(s.pixels.end(), x.begin(), x.end());
      s.labels.push_back(y);
    }
  s.train_count = int64_t(train.size());
  std::vector<std::vector<int32_t>> pairs = tasks;
  if (pairs.empty())
    for (int32_t k = 0; k < speakers; k += 2)
      pairs.push_back(k + 1 < speakers ? std::vector<int32_t>{k, k + 1} : std::vector<int32_t>{k});
  assign_tasks(s, pairs);
  if (names) {
    names->clear();
    for (int k = 0; k < speakers; ++k) names->push_back(rank[size_t(k)].first);
  }
  return s;
}

}  // namespace tessel::continual
