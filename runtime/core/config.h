// Configuration tree over yaml-cpp that remembers file, line, column and key path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "runtime/core/error.h"

namespace tessel {

struct SourceLocation {
  std::string file;  // as given by the user (relative paths stay relative)
  int line = 0;      // 1-based; 0 when unknown (values made in code)
  int column = 0;    // 1-based
  std::string str() const;
};

struct ConfigNode;

// A view of one node of a loaded configuration. Copies share the tree.
//
// Every typed getter marks the key as used; reject_unused() then reports the first
// key nobody read, so that a typo is an error instead of a silent default.
class Config {
 public:
  // Loads `path`, resolving `base:` (root only; the file is merged over its base) and
  // `include:` (any mapping; fragments are merged under the mapping's own keys).
  // `key_path` names the root in messages ("hw", "sweep"...); empty for none.
  static Config load(const std::string& path, const std::string& key_path = "");
  // Parses YAML text; `name` stands for the file name in messages. No base/include.
  static Config parse(const std::string& text, const std::string& name,
                      const std::string& key_path = "");

  bool valid() const { return node_ != nullptr; }
  bool is_map() const;
  bool is_sequence() const;
  bool is_scalar() const;
  bool is_null() const;
  bool has(const std::string& key) const;
  std::vector<std::string> keys() const;  // mapping keys in file order
  const std::string& key_path() const { return key_path_; }
  const SourceLocation& location() const;
  // Folder of the file this node came from, for resolving relative paths.
  std::string directory() const;

  // Typed getters. T is one of: bool, int, int64_t, uint64_t, double, std::string.
  template <typename T>
  T get(const std::string& key) const;
  template <typename T>
  T get(const std::string& key, const T& fallback) const;
  // Integer > 0, number > 0, number >= 0: common constraints with exact messages.
  int64_t get_positive_int(const std::string& key) const;
  int64_t get_positive_int(const std::string& key, int64_t fallback) const;
  double get_positive(const std::string& key) const;
  double get_positive(const std::string& key, double fallback) const;
  double get_non_negative(const std::string& key, double fallback) const;
  // An integer or number from `lo` to `hi` inclusive; the error states the range:
  //   hw.yaml:3:12: hw.clock_ghz: expected a number from 0.01 to 10, got "1e-300"
  // Ranges are physical limits (documented in configs/README.md) that also keep the
  // arithmetic done with the value from overflowing.
  int64_t get_int_range(const std::string& key, int64_t lo, int64_t hi) const;
  int64_t get_int_range(const std::string& key, int64_t lo, int64_t hi, int64_t fallback) const;
  double get_number_range(const std::string& key, double lo, double hi) const;
  double get_number_range(const std::string& key, double lo, double hi, double fallback) const;
  // This node (a list element) read the same way.
  int64_t as_int_range(int64_t lo, int64_t hi) const;
  double as_number_range(double lo, double hi) const;
  // A string that must be one of `choices`.
  std::string get_choice(const std::string& key, const std::vector<std::string>& choices) const;
  std::string get_choice(const std::string& key, const std::vector<std::string>& choices,
                         const std::string& fallback) const;
  // A path resolved against the folder of the file that holds the key.
  std::string get_path(const std::string& key) const;
  // This node read as a scalar of type T (for list elements).
  template <typename T>
  T as() const;

  Config child(const std::string& key) const;               // must exist and be a mapping
  Config at(const std::string& key) const;                  // must exist, any kind
  std::vector<Config> items(const std::string& key) const;  // must be a sequence
  std::vector<Config> elements() const;                     // this node as a sequence

  // Throws ConfigError located at `key` (or at this node when key is empty).
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  // Throws for the first key in this subtree that no getter read.
  void reject_unused() const;
  void mark_used() const;  // this node and everything below it

  // Replaces (or creates) the value at a dotted path below this mapping.
  void set(const std::string& dotted_path, const Config& value);
  // Removes `key` from this mapping (nothing when absent); returns whether it was there.
  bool erase(const std::string& key);
  // Canonical JSON (scalars typed: integers, numbers, booleans, strings).
  nlohmann::json to_json() const;
  // Scalar text as written.
  const std::string& scalar() const;

  Config() = default;
  Config(std::shared_ptr<ConfigNode> node, std::string key_path)
      : node_(std::move(node)), key_path_(std::move(key_path)) {}
  const std::shared_ptr<ConfigNode>& node() const { return node_; }

 private:
  std::shared_ptr<ConfigNode> find(const std::string& key) const;
  std::string child_path(const std::string& key) const;

  std::shared_ptr<ConfigNode> node_;
  std::string key_path_;
};

struct ConfigNode {
  enum class Kind { kNull, kScalar, kMap, kSequence };
  Kind kind = Kind::kNull;
  std::string scalar;
  bool quoted = false;  // "8" is a string, 8 is a number
  std::vector<std::pair<std::string, std::shared_ptr<ConfigNode>>> map;
  std::vector<std::shared_ptr<ConfigNode>> sequence;
  SourceLocation location;      // where the value starts
  SourceLocation key_location;  // where its key starts (mapping entries)
  mutable bool used = false;
};

// Merges `over` onto `base` (mappings recursively; anything else replaces).
std::shared_ptr<ConfigNode> merge_config(const std::shared_ptr<ConfigNode>& base,
                                         const std::shared_ptr<ConfigNode>& over);

}  // namespace tessel
