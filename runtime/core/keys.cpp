// Declared configuration keys: checking a config against them and reading it through them.
#include "runtime/core/keys.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace tessel {
namespace {

std::string bound_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

// Edit distance counting a swap of two neighbours as one edit (optimal string alignment),
// for "did you mean" on unknown keys: "stpes" is one edit from "steps".
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min(
          {d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1] ? 1 : 0)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::string join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

[[noreturn]] void misuse(const std::string& set, const std::string& message) {
  throw std::logic_error("key set '" + set + "': " + message);
}

// A present integer or number read with the Config getter its bound names.
int64_t read_integer(const Key& k, const Config& node, const std::string& name) {
  switch (k.bound) {
    case Key::Bound::kPositive:
      return node.get_positive_int(name);
    case Key::Bound::kUnsigned:
      node.get<uint64_t>(name);  // checked as unsigned; read with Keyed::unsigned_integer
      return 0;
    case Key::Bound::kAny:
    case Key::Bound::kNonNegative:
      return node.get<int64_t>(name);
    case Key::Bound::kRange:
      break;
  }
  return node.get_int_range(name, k.int_lo, k.int_hi);
}

double read_number(const Key& k, const Config& node, const std::string& name) {
  switch (k.bound) {
    case Key::Bound::kPositive:
      return node.get_positive(name);
    case Key::Bound::kNonNegative:
      return node.get_non_negative(name, 0);
    case Key::Bound::kAny:
    case Key::Bound::kUnsigned:
      return node.get<double>(name);
    case Key::Bound::kRange:
      break;
  }
  return node.get_number_range(name, k.lo, k.hi);
}

}  // namespace

std::string Key::type_text() const {
  switch (type) {
    case Type::kBool:
      return "bool";
    case Type::kInteger:
    case Type::kNumber: {
      const std::string what = type == Type::kInteger ? "integer" : "number";
      switch (bound) {
        case Bound::kPositive:
          return what + " > 0";
        case Bound::kNonNegative:
          return what + " ≥ 0";
        case Bound::kAny:
          return what;
        case Bound::kUnsigned:
          return what + ", 0–18446744073709551615";
        case Bound::kRange:
          break;
      }
      if (type == Type::kInteger)
        return what + ", " + std::to_string(int_lo) + "–" + std::to_string(int_hi);
      return what + ", " + bound_text(lo) + "–" + bound_text(hi);
    }
    case Type::kText:
      return "string";
    case Type::kChoice: {
      std::string s;
      for (const auto& c : choices) s += (s.empty() ? "`" : ", `") + c + "`";
      return s;
    }
    case Type::kPath:
      return "path";
    case Type::kSection:
      return "mapping";
    case Type::kList:
      return "list";
    case Type::kNested:
      return path_too ? "path or mapping" : "mapping";
    case Type::kOpen:
      return "any";
  }
  return "";
}

std::string Key::default_text() const {
  if (fallback) return *fallback;
  if (optional) return default_note.empty() ? "optional" : default_note;
  if (type == Type::kSection || type == Type::kOpen) return "";
  return "required";
}

Key& KeySet::add(const std::string& path, Key::Type type, const std::string& help) {
  if (find(path)) misuse(name_, "'" + path + "' declared twice");
  Key k;
  k.path = path;
  k.type = type;
  k.help = help;
  keys_.push_back(std::move(k));
  return keys_.back();
}

Key& KeySet::flag(const std::string& path, const std::string& help) {
  return add(path, Key::Type::kBool, help);
}

Key& KeySet::integer(const std::string& path, int64_t lo, int64_t hi, const std::string& help) {
  Key& k = add(path, Key::Type::kInteger, help);
  k.int_lo = lo;
  k.int_hi = hi;
  k.lo = static_cast<double>(lo);
  k.hi = static_cast<double>(hi);
  return k;
}

Key& KeySet::number(const std::string& path, double lo, double hi, const std::string& help) {
  Key& k = add(path, Key::Type::kNumber, help);
  k.lo = lo;
  k.hi = hi;
  return k;
}

Key& KeySet::positive_integer(const std::string& path, const std::string& help) {
  Key& k = add(path, Key::Type::kInteger, help);
  k.bound = Key::Bound::kPositive;
  return k;
}

Key& KeySet::positive_number(const std::string& path, const std::string& help) {
  Key& k = add(path, Key::Type::kNumber, help);
  k.bound = Key::Bound::kPositive;
  return k;
}

Key& KeySet::non_negative_number(const std::string& path, const std::string& help) {
  Key& k = add(path, Key::Type::kNumber, help);
  k.bound = Key::Bound::kNonNegative;
  return k;
}

Key& KeySet::any_integer(const std::string& path, const std::string& help) {
  Key& k = add(path, Key::Type::kInteger, help);
  k.bound = Key::Bound::kAny;
  return k;
}

Key& KeySet::any_number(const std::string& path, const std::string& help) {
  Key& k = add(path, Key::Type::kNumber, help);
  k.bound = Key::Bound::kAny;
  return k;
}

Key& KeySet::unsigned_integer(const std::string& path, const std::string& help) {
  Key& k = add(path, Key::Type::kInteger, help);
  k.bound = Key::Bound::kUnsigned;
  return k;
}

Key& KeySet::text(const std::string& path, const std::string& help) {
  return add(path, Key::Type::kText, help);
}

Key& KeySet::choice(const std::string& path, std::vector<std::string> choices,
                    const std::string& help) {
  Key& k = add(path, Key::Type::kChoice, help);
  k.choices = std::move(choices);
  return k;
}

Key& KeySet::file(const std::string& path, const std::string& help) {
  return add(path, Key::Type::kPath, help);
}

Key& KeySet::section(const std::string& path, const std::string& help) {
  return add(path, Key::Type::kSection, help);
}

Key& KeySet::list(const std::string& path, const std::string& help) {
  return add(path, Key::Type::kList, help);
}

Key& KeySet::nested(const std::string& path, const KeySet& set, const std::string& help) {
  Key& k = add(path, Key::Type::kNested, help);
  k.nested = &set;
  return k;
}

Key& KeySet::open(const std::string& path, const std::string& help) {
  return add(path, Key::Type::kOpen, help);
}

void KeySet::include(const std::string& prefix, const KeySet& other, const std::string& summary) {
  if (!summary.empty()) summaries_.push_back({keys_.size(), other.keys_.size(), prefix, summary});
  for (Key k : other.keys_) {
    k.path = join(prefix, k.path);
    if (find(k.path)) misuse(name_, "'" + k.path + "' declared twice");
    keys_.push_back(std::move(k));
  }
}

const Key* KeySet::find(const std::string& path) const {
  for (const auto& k : keys_)
    if (k.path == path) return &k;
  return nullptr;
}

void KeySet::check(const Config& node) const {
  check_map(node, "");
}

void KeySet::check_map(const Config& node, const std::string& prefix) const {
  if (!node.is_map()) node.fail("", "expected a mapping");
  for (const auto& [name, value] : node.node()->map) {
    const std::string path = prefix + name;
    const Key* key = find(path);
    if (!key) {
      // The nearest declared sibling, when it is close enough to be a typo.
      // A typo is one edit away in a short name, two in a longer one ("stpes" → "steps").
      std::string nearest;
      size_t best = name.size() <= 3 ? 2 : 3;
      for (const auto& k : keys_) {
        if (k.path.compare(0, prefix.size(), prefix) != 0) continue;
        const std::string rest = k.path.substr(prefix.size());
        if (rest.find_first_of(".[") != std::string::npos) continue;
        const size_t d = edit_distance(rest, name);
        if (d < best) best = d, nearest = rest;
      }
      const std::string where =
          value->key_location.line ? value->key_location.str() : value->location.str();
      const std::string key_path = node.key_path().empty() ? name : node.key_path() + "." + name;
      throw ConfigError(where + ": " + key_path + ": unknown key" +
                        (nearest.empty() ? "" : " (did you mean '" + nearest + "'?)"));
    }
    check_value(*key, node, name, prefix);
  }
  // Conditions last, so that the sibling's own value has been checked first.
  for (const auto& [name, value] : node.node()->map) {
    const Key* key = find(prefix + name);
    if (key->when_key.empty()) continue;
    const Key* sibling = find(prefix + key->when_key);
    std::string current;
    if (node.has(key->when_key))
      current = node.at(key->when_key).scalar();
    else if (sibling && sibling->fallback)
      current = *sibling->fallback;
    // An absent sibling without a default is the reader's "missing required key".
    if (current.empty() || std::find(key->when_values.begin(), key->when_values.end(), current) !=
                               key->when_values.end())
      continue;
    std::string values;
    for (const auto& v : key->when_values) values += (values.empty() ? "" : " or ") + v;
    const std::string where =
        value->key_location.line ? value->key_location.str() : value->location.str();
    const std::string key_path = node.key_path().empty() ? name : node.key_path() + "." + name;
    throw ConfigError(where + ": " + key_path + ": applies only with " + key->when_key + ": " +
                      values + " (here " + key->when_key + ": " + current + ")");
  }
}

void KeySet::check_value(const Key& key, const Config& parent, const std::string& name,
                         const std::string& prefix) const {
  if (!parent.has(name)) {  // `key:` with no value reads as absent
    const Config value = parent.at(name);
    value.mark_used();
    if (!key.fallback && !key.optional && key.type != Key::Type::kOpen) {
      const auto& node = *value.node();
      throw ConfigError((node.key_location.line ? node.key_location : node.location).str() + ": " +
                        value.key_path() + ": missing required value");
    }
    return;
  }
  switch (key.type) {
    case Key::Type::kBool:
      parent.get<bool>(name);
      return;
    case Key::Type::kInteger:
      read_integer(key, parent, name);
      return;
    case Key::Type::kNumber:
      read_number(key, parent, name);
      return;
    case Key::Type::kText:
    case Key::Type::kPath:
      parent.get<std::string>(name);
      return;
    case Key::Type::kChoice:
      parent.get_choice(name, key.choices);
      return;
    case Key::Type::kSection:
      check_map(parent.child(name), prefix + name + ".");
      return;
    case Key::Type::kList: {
      const std::vector<Config> items = parent.items(name);
      const Key* element = find(prefix + name + "[]");
      for (const Config& item : items) {
        if (!element) {
          check_map(item, prefix + name + "[].");
        } else if (element->type == Key::Type::kInteger) {
          Keyed(*this, item, prefix + name + "[].").as_integer();
        } else if (element->type == Key::Type::kNumber) {
          Keyed(*this, item, prefix + name + "[].").as_number();
        } else {
          item.as<std::string>();
        }
      }
      parent.at(name).mark_used();
      return;
    }
    case Key::Type::kNested: {
      const Config value = parent.at(name);
      if (key.path_too && value.is_scalar()) {
        value.as<std::string>();
        return;
      }
      key.nested->check(value);
      return;
    }
    case Key::Type::kOpen:
      parent.at(name).mark_used();
      return;
  }
}

std::string KeySet::markdown(const std::string& prefix) const {
  std::string out = "| key | type | unit | default | meaning |\n|---|---|---|---|---|\n";
  auto cell = [](std::string s) {
    for (size_t i = 0; (i = s.find('|', i)) != std::string::npos; i += 2) s.replace(i, 1, "\\|");
    return s;
  };
  for (size_t i = 0; i < keys_.size(); ++i) {
    const Key& k = keys_[i];
    const auto summary = std::find_if(summaries_.begin(), summaries_.end(), [&](const Summary& s) {
      return i >= s.first && i < s.first + s.count;
    });
    if (summary != summaries_.end()) {
      if (i == summary->first)
        out += "| `" + cell(summary->prefix.empty() ? "…" : summary->prefix + ".…") +
               "` | keys of another form |  |  | " + cell(summary->text) + " |\n";
      continue;
    }
    // An element declaration ("list[]") is described by its list's row.
    if (k.path.size() > 2 && k.path.compare(k.path.size() - 2, 2, "[]") == 0) continue;
    std::string type = k.type_text();
    if (k.type == Key::Type::kList) {
      if (const Key* element = find(k.path + "[]"))
        type = "list of " + element->type_text();
      else
        type = "list of mappings";
    }
    std::string help = k.help;
    if (!k.when_key.empty()) {
      std::string values;
      for (const auto& v : k.when_values) values += (values.empty() ? "`" : "` or `") + v;
      help += " (only with " + k.when_key + ": " + values + "`)";
    }
    out += "| `" + cell(join(prefix, k.path)) + "` | " + cell(type) + " | " + cell(k.unit) + " | " +
           cell(k.default_text()) + " | " + cell(help) + " |\n";
  }
  return out;
}

const Key& Keyed::spec(const std::string& key, Key::Type type) const {
  const Key* k = set_->find(prefix_ + key);
  if (!k) misuse(set_->name(), "'" + prefix_ + key + "' is read but not declared");
  if (k->type != type) misuse(set_->name(), "'" + prefix_ + key + "' is read as another type");
  return *k;
}

bool Keyed::flag(const std::string& key) const {
  const Key& k = spec(key, Key::Type::kBool);
  if (k.fallback) return node_.get<bool>(key, *k.fallback == "true");
  return node_.get<bool>(key);
}

int64_t Keyed::integer(const std::string& key) const {
  const Key& k = spec(key, Key::Type::kInteger);
  if (k.bound == Key::Bound::kUnsigned)
    misuse(set_->name(), "'" + prefix_ + key + "' is unsigned: read it with unsigned_integer");
  if (k.fallback && !node_.has(key)) return node_.get<int64_t>(key, std::stoll(*k.fallback));
  return read_integer(k, node_, key);
}

uint64_t Keyed::unsigned_integer(const std::string& key) const {
  const Key& k = spec(key, Key::Type::kInteger);
  if (k.bound != Key::Bound::kUnsigned)
    misuse(set_->name(), "'" + prefix_ + key + "' is not declared unsigned");
  if (k.fallback && !node_.has(key)) return node_.get<uint64_t>(key, std::stoull(*k.fallback));
  return node_.get<uint64_t>(key);
}

double Keyed::number(const std::string& key) const {
  const Key& k = spec(key, Key::Type::kNumber);
  if (k.fallback && !node_.has(key)) return node_.get<double>(key, std::stod(*k.fallback));
  return read_number(k, node_, key);
}

std::string Keyed::text(const std::string& key) const {
  const Key& k = spec(key, Key::Type::kText);
  if (k.fallback) return node_.get<std::string>(key, *k.fallback);
  return node_.get<std::string>(key);
}

std::string Keyed::choice(const std::string& key) const {
  const Key& k = spec(key, Key::Type::kChoice);
  if (k.fallback) return node_.get_choice(key, k.choices, *k.fallback);
  return node_.get_choice(key, k.choices);
}

std::string Keyed::path(const std::string& key) const {
  const Key* k = set_->find(prefix_ + key);
  if (!k || (k->type != Key::Type::kPath && !(k->type == Key::Type::kNested && k->path_too)))
    misuse(set_->name(), "'" + prefix_ + key + "' is read as a path but not declared one");
  return node_.get_path(key);
}

Keyed Keyed::child(const std::string& key) const {
  const Key* k = set_->find(prefix_ + key);
  if (!k) misuse(set_->name(), "'" + prefix_ + key + "' is read but not declared");
  if (k->type == Key::Type::kNested) return Keyed(*k->nested, node_.child(key));
  if (k->type != Key::Type::kSection && k->type != Key::Type::kOpen)
    misuse(set_->name(), "'" + prefix_ + key + "' is read as a mapping");
  return Keyed(*set_, node_.child(key), prefix_ + key + ".");
}

std::vector<Keyed> Keyed::items(const std::string& key) const {
  spec(key, Key::Type::kList);
  std::vector<Keyed> out;
  for (Config& item : node_.items(key)) out.emplace_back(*set_, item, prefix_ + key + "[].");
  return out;
}

const Key& Keyed::element_spec() const {
  // prefix_ is "name[]." for an element; its own declaration is "name[]".
  const std::string path = prefix_.empty() ? prefix_ : prefix_.substr(0, prefix_.size() - 1);
  const Key* k = set_->find(path);
  if (!k) misuse(set_->name(), "list element '" + path + "' is read but not declared");
  return *k;
}

int64_t Keyed::as_integer() const {
  const Key& k = element_spec();
  if (k.bound == Key::Bound::kRange) return node_.as_int_range(k.int_lo, k.int_hi);
  const int64_t v = node_.as<int64_t>();
  if (k.bound == Key::Bound::kPositive && v <= 0) node_.fail("", "expected a positive integer");
  return v;
}

double Keyed::as_number() const {
  const Key& k = element_spec();
  if (k.bound == Key::Bound::kRange) return node_.as_number_range(k.lo, k.hi);
  const double v = node_.as<double>();
  if (k.bound == Key::Bound::kPositive && !(v > 0)) node_.fail("", "expected a positive number");
  if (k.bound == Key::Bound::kNonNegative && !(v >= 0)) node_.fail("", "expected a number >= 0");
  return v;
}

std::string Keyed::as_text() const {
  element_spec();
  return node_.as<std::string>();
}

const KeySet& shared_hw_keys(bool energy_table) {
  static const KeySet with = [] {
    KeySet s("shared hw");
    s.text("model", "registered model name (`tessel list`)");
    s.section("energy", "how the model's activity is priced");
    s.file("energy.table", "energy table (`configs/energy/*.yaml`)");
    s.number("energy.node_nm", 1, 1000,
             "technology node the table is scaled to (rule in the table file)")
        .opt("the table's node")
        .in("nm");
    return s;
  }();
  static const KeySet without = [] {
    KeySet s("shared hw");
    s.text("model", "registered model name (`tessel list`)");
    return s;
  }();
  return energy_table ? with : without;
}

}  // namespace tessel
