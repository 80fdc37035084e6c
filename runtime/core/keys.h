// Configuration keys declared once, in code: name, type, unit, default, range and a one-line
// help per key. Validation (unknown keys, types, ranges), the readers' defaults,
// `tessel list --keys MODEL`, Python's tessel.models() and the key tables of
// configs/README.md all come from these declarations (docs/adding_a_model.md).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/core/config.h"

namespace tessel {

class KeySet;

struct Key {
  enum class Type {
    kBool,
    kInteger,  // int64 in [lo, hi]
    kNumber,   // double in [lo, hi]
    kText,     // any string
    kChoice,   // one of `choices`
    kPath,     // a file, resolved against the folder of the file that names it
    kSection,  // a mapping whose keys are declared as "name.child"
    kList,     // a sequence: of mappings (keys "name[].child") or of scalars (key "name[]")
    kNested,   // a mapping declared by another KeySet (`nested`); or a path, if `path_too`
    kOpen,     // free-form: checked by the code that reads it (the help says where)
  };
  // How an integer or number is bounded; each reads with the Config getter of the same name
  // and so keeps its message ("expected a positive integer, got ...").
  enum class Bound {
    kRange,        // [lo, hi]: get_int_range / get_number_range
    kPositive,     // > 0: get_positive_int / get_positive
    kNonNegative,  // >= 0 (numbers): get_non_negative
    kAny,          // any value of the type: get<int64_t> / get<double>
    kUnsigned,     // integers 0 to 2^64 − 1 (seeds): get<uint64_t>
  };
  std::string path;  // relative to the set's root: "rows", "offchip.read_gbps", "layers[].units"
  Type type = Type::kText;
  Bound bound = Bound::kRange;
  double lo = 0, hi = 0;           // the range, for numbers and (as text) for integers
  int64_t int_lo = 0, int_hi = 0;  // an integer's range exactly (2^63 − 1 is not a double)
  std::vector<std::string> choices;
  // The default as written in a config; nullopt: required, unless `optional`.
  std::optional<std::string> fallback;
  // May be absent; the reader decides what absence means (reading it absent is the usual
  // "missing required key" error, for keys required only in some cases).
  bool optional = false;
  std::string default_note;  // for optional keys: the default in words ("min(lanes, 512)")
  std::string unit;
  std::string help;
  const KeySet* nested = nullptr;
  bool path_too = false;  // kNested: a path to a file of that form is accepted too
  // A key that means something only for some values of a sibling key (`trace` only with
  // `kind: trace`): present with another value, it is an error, not silently unused.
  std::string when_key;
  std::vector<std::string> when_values;

  // Builder calls, chained after KeySet's declaring calls.
  Key& def(const std::string& text) {
    fallback = text;
    return *this;
  }
  Key& opt(const std::string& note = "") {
    optional = true;
    default_note = note;
    return *this;
  }
  Key& in(const std::string& u) {
    unit = u;
    return *this;
  }
  Key& doc(const std::string& text) {
    help = text;
    return *this;
  }
  Key& when(const std::string& sibling, std::vector<std::string> values) {
    when_key = sibling;
    when_values = std::move(values);
    return *this;
  }

  std::string type_text() const;     // "integer, 1–4096" as the README writes it
  std::string default_text() const;  // "3", "required", "optional"...
};

// The declared keys of one config form (a model's hw or workload, a memory device...).
// Sets are built once (function-local statics) and never change after.
class KeySet {
 public:
  explicit KeySet(std::string name) : name_(std::move(name)) {}

  Key& flag(const std::string& path, const std::string& help);
  Key& integer(const std::string& path, int64_t lo, int64_t hi, const std::string& help);
  Key& number(const std::string& path, double lo, double hi, const std::string& help);
  // Integers > 0, numbers > 0, numbers >= 0, and unbounded integers and numbers.
  Key& positive_integer(const std::string& path, const std::string& help);
  Key& positive_number(const std::string& path, const std::string& help);
  Key& non_negative_number(const std::string& path, const std::string& help);
  Key& any_integer(const std::string& path, const std::string& help);
  Key& any_number(const std::string& path, const std::string& help);
  Key& unsigned_integer(const std::string& path, const std::string& help);  // a uint64 (seeds)
  Key& text(const std::string& path, const std::string& help);
  Key& choice(const std::string& path, std::vector<std::string> choices, const std::string& help);
  Key& file(const std::string& path, const std::string& help);
  Key& section(const std::string& path, const std::string& help);
  Key& list(const std::string& path, const std::string& help);
  Key& nested(const std::string& path, const KeySet& set, const std::string& help);
  Key& open(const std::string& path, const std::string& help);
  // Every key of `other` again, below `prefix` ("" for the same level). With a `summary`
  // the generated table shows the fragment as one row saying where its keys are listed
  // (a memory hierarchy's hundred keys are documented once, with the memory model).
  void include(const std::string& prefix, const KeySet& other, const std::string& summary = "");

  const std::string& name() const { return name_; }
  const std::vector<Key>& keys() const { return keys_; }
  const Key* find(const std::string& path) const;  // nullptr when undeclared

  // Checks every key present in `node` (the set's root): an undeclared key is an error
  // ("unknown key", with the nearest declared name), a value of the wrong type or out of
  // range too; nested sets check their part. Marks all it checked as used.
  void check(const Config& node) const;

  // The Markdown table of these keys (configs/README.md), `prefix` before each name.
  std::string markdown(const std::string& prefix = "") const;

 private:
  Key& add(const std::string& path, Key::Type type, const std::string& help);
  void check_map(const Config& node, const std::string& prefix) const;
  void check_value(const Key& key, const Config& parent, const std::string& name,
                   const std::string& prefix) const;

  struct Summary {
    size_t first = 0, count = 0;  // the included keys, by index
    std::string prefix, text;
  };

  std::string name_;
  std::vector<Key> keys_;
  std::vector<Summary> summaries_;
};

// A config node read through a declaration: the range, default and type of each key come
// from the KeySet, so a reader states only the key's name. Asking for a key the set does
// not declare (or with another type) is a programming error (std::logic_error).
class Keyed {
 public:
  Keyed(const KeySet& set, Config node, std::string prefix = "")
      : set_(&set), node_(std::move(node)), prefix_(std::move(prefix)) {}

  bool flag(const std::string& key) const;
  int64_t integer(const std::string& key) const;
  uint64_t unsigned_integer(const std::string& key) const;
  double number(const std::string& key) const;
  std::string text(const std::string& key) const;
  std::string choice(const std::string& key) const;
  std::string path(const std::string& key) const;  // resolved against the file's folder
  bool has(const std::string& key) const { return node_.has(key); }
  Keyed child(const std::string& key) const;               // a kSection or kNested mapping
  std::vector<Keyed> items(const std::string& key) const;  // a kList's elements
  // A list element that is a scalar ("name[]" declared as integer or number).
  int64_t as_integer() const;
  double as_number() const;
  std::string as_text() const;

  const Config& config() const { return node_; }
  const KeySet& set() const { return *set_; }
  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    node_.fail(key, message);
  }

 private:
  const Key& spec(const std::string& key, Key::Type type) const;
  const Key& element_spec() const;

  const KeySet* set_;
  Config node_;
  std::string prefix_;  // path of node_ inside the set: "", "offchip.", "layers[]."
};

// The declaration of one registered model: its hardware file and its workload.
struct ModelKeys {
  KeySet hw;
  KeySet workload;
  // Other files the model loads and checks itself (a GPU anchor table...), by a short name
  // that `tessel list --keys` and the README markers (`<!-- keys: MODEL NAME -->`) use.
  std::vector<std::pair<std::string, const KeySet*>> files;
  explicit ModelKeys(const std::string& model) : hw(model + " hw"), workload(model + " workload") {}
};

// Keys every hardware file has (model, and energy.* for models priced with an energy table).
const KeySet& shared_hw_keys(bool energy_table);

}  // namespace tessel
