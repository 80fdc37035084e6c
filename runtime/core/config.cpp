// Loading, merging and typed reading of YAML configuration with exact error locations.
#include "runtime/core/config.h"

#include <algorithm>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "runtime/core/limits.h"

namespace tessel {
namespace fs = std::filesystem;
namespace {

using NodePtr = std::shared_ptr<ConfigNode>;

std::string quote(const std::string& s) {
  return "\"" + s + "\"";
}

std::string describe(const ConfigNode& n) {
  switch (n.kind) {
    case ConfigNode::Kind::kNull:
      return "nothing";
    case ConfigNode::Kind::kMap:
      return "a mapping";
    case ConfigNode::Kind::kSequence:
      return "a list";
    case ConfigNode::Kind::kScalar:
      return quote(n.scalar);
  }
  return "?";
}

SourceLocation mark_location(const std::string& file, const YAML::Mark& m) {
  SourceLocation loc;
  loc.file = file;
  if (m.line >= 0) {
    loc.line = m.line + 1;
    loc.column = m.column + 1;
  }
  return loc;
}

// Whether `s` is well-formed UTF-8 (Unicode 15, table 3-7: no overlong forms, no surrogates).
// Values end up in JSON (results, hashes), which accepts nothing else.
bool valid_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned c = p[i];
    size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + len >= n) return false;  // the sequence runs past the end
    for (size_t k = 1; k <= len; ++k) {
      const unsigned b = p[i + k];
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return false;
    }
    i += len + 1;
  }
  return true;
}

// Converts yaml-cpp's tree into ConfigNodes. yaml-cpp keeps an alias as a reference to its
// anchor, so a few lines of nested aliases ("billion laughs") stand for billions of nodes;
// copying them here is where memory would run out. `nodes` counts what was made so far.
NodePtr convert(const YAML::Node& y, const std::string& file, int depth, int64_t& nodes) {
  auto n = std::make_shared<ConfigNode>();
  n->location = mark_location(file, y.Mark());
  if (++nodes > kMaxConfigNodes)
    throw ConfigError(n->location.str() + ": more than " + std::to_string(kMaxConfigNodes) +
                      " values (counting every use of a YAML alias as a copy); see Limits in "
                      "configs/README.md");
  if (depth > kMaxConfigDepth)
    throw ConfigError(n->location.str() + ": nested more than " + std::to_string(kMaxConfigDepth) +
                      " levels deep; see Limits in configs/README.md");
  switch (y.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      n->kind = ConfigNode::Kind::kNull;
      break;
    case YAML::NodeType::Scalar:
      n->kind = ConfigNode::Kind::kScalar;
      n->scalar = y.Scalar();
      n->quoted = y.Tag() == "!";
      if (!valid_utf8(n->scalar))
        throw ConfigError(n->location.str() +
                          ": value is not valid UTF-8 (config files are UTF-8)");
      break;
    case YAML::NodeType::Sequence:
      n->kind = ConfigNode::Kind::kSequence;
      for (const auto& item : y) n->sequence.push_back(convert(item, file, depth + 1, nodes));
      break;
    case YAML::NodeType::Map: {
      n->kind = ConfigNode::Kind::kMap;
      // Key -> index into n->map: a linear search per key made a large mapping quadratic.
      std::unordered_map<std::string, size_t> index;
      for (const auto& kv : y) {
        SourceLocation key_loc = mark_location(file, kv.first.Mark());
        if (!kv.first.IsScalar())
          throw ConfigError(key_loc.str() + ": mapping keys must be plain names");
        const std::string key = kv.first.Scalar();
        if (!valid_utf8(key))
          throw ConfigError(key_loc.str() + ": key is not valid UTF-8 (config files are UTF-8)");
        auto seen = index.find(key);
        if (seen != index.end())
          throw ConfigError(key_loc.str() + ": " + key + ": duplicate key (first at line " +
                            std::to_string(n->map[seen->second].second->key_location.line) + ")");
        NodePtr value = convert(kv.second, file, depth + 1, nodes);
        value->key_location = key_loc;
        if (value->location.line == 0) value->location = key_loc;
        index.emplace(key, n->map.size());
        n->map.emplace_back(key, value);
      }
      break;
    }
  }
  return n;
}

NodePtr parse_text(const std::string& text, const std::string& file) {
  try {
    int64_t nodes = 0;
    return convert(YAML::Load(text), file, 0, nodes);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own guard (2000 levels); its mark is where the parser stopped.
    SourceLocation loc = mark_location(file, e.mark);
    throw ConfigError(loc.str() + ": nested more than " + std::to_string(kMaxConfigDepth) +
                      " levels deep; see Limits in configs/README.md");
  } catch (const YAML::Exception& e) {
    SourceLocation loc = mark_location(file, e.mark);
    throw ConfigError(loc.str() + ": YAML syntax error: " + e.msg);
  }
}

// A file that cannot be read is an I/O error (exit 4), not a configuration error.
std::string read_file(const std::string& path, const std::string& referrer) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw IoError((referrer.empty() ? "" : referrer + ": ") + path +
                  ": is a directory, expected a file");
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::string msg = path + ": cannot open config file";
    if (!referrer.empty()) msg = referrer + ": cannot open config file " + quote(path);
    throw IoError(msg + (errno ? std::string(" (") + std::strerror(errno) + ")" : ""));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw IoError(path + ": read error");
  return ss.str();
}

NodePtr deep_copy(const NodePtr& n) {
  auto c = std::make_shared<ConfigNode>(*n);
  for (auto& kv : c->map) kv.second = deep_copy(kv.second);
  for (auto& item : c->sequence) item = deep_copy(item);
  return c;
}

// A value placed into another tree has not been read there yet.
void clear_used(const NodePtr& n) {
  n->used = false;
  for (auto& kv : n->map) clear_used(kv.second);
  for (auto& item : n->sequence) clear_used(item);
}

std::string join_path(const std::string& dir, const std::string& rel) {
  if (rel.empty() || rel[0] == '/' || dir.empty()) return rel;
  return (fs::path(dir) / rel).lexically_normal().string();
}

// Removes `key` from a mapping node and returns its value (or null).
NodePtr take(ConfigNode& map, const std::string& key) {
  for (auto it = map.map.begin(); it != map.map.end(); ++it) {
    if (it->first == key) {
      NodePtr v = it->second;
      map.map.erase(it);
      return v;
    }
  }
  return nullptr;
}

std::vector<std::string> path_list(const NodePtr& v, const std::string& key_path) {
  std::vector<std::string> out;
  auto bad = [&]() {
    throw ConfigError(v->location.str() + ": " + key_path +
                      ": expected a file path or a list of file paths, got " + describe(*v));
  };
  if (v->kind == ConfigNode::Kind::kScalar) {
    out.push_back(v->scalar);
  } else if (v->kind == ConfigNode::Kind::kSequence) {
    for (const auto& item : v->sequence) {
      if (item->kind != ConfigNode::Kind::kScalar) bad();
      out.push_back(item->scalar);
    }
  } else {
    bad();
  }
  return out;
}

std::string join_key(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

NodePtr load_file(const std::string& path, const std::string& referrer,
                  std::vector<std::string>& chain);

// Nodes copied by base:/include: expansion during the current Config::load.
int64_t& expanded_nodes() {
  thread_local int64_t n = 0;
  return n;
}

// Nodes in the tree under `n`, counting stops past `cap`.
int64_t count_nodes(const NodePtr& n, int64_t cap) {
  int64_t total = 1;
  for (const auto& kv : n->map)
    if ((total += count_nodes(kv.second, cap - total)) > cap) return total;
  for (const auto& item : n->sequence)
    if ((total += count_nodes(item, cap - total)) > cap) return total;
  return total;
}

// Expands `base:` and `include:` in `n` and every mapping below it, files relative to
// `dir`. `base: FILE` starts the mapping from FILE; `include:` merges fragments over that;
// the mapping's own keys win over both. So an inline `hw: {base: big.yaml, tiles: 8}`
// means what it means at the root of a file.
void expand(const NodePtr& n, const std::string& dir, const std::string& key_path,
            std::vector<std::string>& chain) {
  if (n->kind == ConfigNode::Kind::kSequence) {
    for (size_t i = 0; i < n->sequence.size(); ++i)
      expand(n->sequence[i], dir, key_path + "[" + std::to_string(i) + "]", chain);
    return;
  }
  if (n->kind != ConfigNode::Kind::kMap) return;
  for (auto& kv : n->map) expand(kv.second, dir, join_key(key_path, kv.first), chain);
  NodePtr base = take(*n, "base");
  NodePtr inc = take(*n, "include");
  if (!base && !inc) return;
  NodePtr merged = std::make_shared<ConfigNode>();
  merged->kind = ConfigNode::Kind::kMap;
  if (base) {
    if (base->kind != ConfigNode::Kind::kScalar)
      throw ConfigError(base->location.str() + ": " + join_key(key_path, "base") +
                        ": expected a file path, got " + describe(*base));
    merged = load_file(join_path(dir, base->scalar), base->location.str(), chain);
    if (merged->kind != ConfigNode::Kind::kMap)
      throw ConfigError(merged->location.str() + ": base file must be a mapping");
  }
  if (inc) {
    for (const auto& rel : path_list(inc, join_key(key_path, "include"))) {
      NodePtr frag = load_file(join_path(dir, rel), inc->location.str(), chain);
      if (frag->kind != ConfigNode::Kind::kMap)
        throw ConfigError(frag->location.str() + ": included fragment must be a mapping");
      merged = merge_config(merged, frag);
    }
  }
  NodePtr result = merge_config(merged, n);
  // Each base:/include: site copies a whole file, so a few files that pull each other in many
  // times multiply like aliases do; the copies made by one load are counted together.
  expanded_nodes() += count_nodes(result, kMaxConfigNodes + 1);
  if (expanded_nodes() > kMaxConfigNodes)
    throw ConfigError((base ? base : inc)->location.str() + ": " +
                      join_key(key_path, base ? "base" : "include") + ": expanding base: and " +
                      "include: gives more than " + std::to_string(kMaxConfigNodes) +
                      " values; see Limits in configs/README.md");
  n->map = result->map;
}

// A deep copy: callers mark nodes used and apply overrides, so a cached tree is never handed
// out itself.
NodePtr clone(const NodePtr& n) {
  NodePtr c = std::make_shared<ConfigNode>(*n);
  for (auto& kv : c->map) kv.second = clone(kv.second);
  for (auto& item : c->sequence) item = clone(item);
  return c;
}

// Loaded files, expanded, by canonical path. A sweep checks every point's configuration and
// each point's process loads it again: without this, re-reading and re-parsing the same few
// files was about 70% of the cost of checking a point. An entry holds while the file's size
// and modification time are unchanged (the files it includes are assumed not to change
// during one run of the tool).
struct CachedFile {
  fs::file_time_type mtime;
  uintmax_t size = 0;
  NodePtr tree;
  std::vector<std::string> files;  // canonical paths of it and everything it pulled in
};
std::map<std::string, CachedFile>& file_cache() {
  static std::map<std::string, CachedFile> cache;
  return cache;
}

// Records that the files on `chain` (being loaded) depend on `files`.
void add_dependencies(const std::vector<std::string>& chain,
                      const std::vector<std::string>& files) {
  for (const auto& loading : chain) {
    auto it = file_cache().find(loading);
    if (it != file_cache().end())
      it->second.files.insert(it->second.files.end(), files.begin(), files.end());
  }
}

NodePtr load_file(const std::string& path, const std::string& referrer,
                  std::vector<std::string>& chain) {
  std::error_code ec;
  std::string canonical = fs::weakly_canonical(path, ec).string();
  std::error_code mtime_ec, size_ec;
  const auto mtime = fs::last_write_time(path, mtime_ec);
  const auto size = fs::is_regular_file(path, size_ec) ? fs::file_size(path, size_ec) : 0;
  const bool cacheable = !mtime_ec && !size_ec && size > 0;
  if (cacheable) {
    auto it = file_cache().find(canonical);
    if (it != file_cache().end() && it->second.tree && it->second.mtime == mtime &&
        it->second.size == size) {
      // A cycle through this file would pass through one of the files it pulled in: then
      // the slow path below reports it.
      bool cycle = false;
      for (const auto& f : it->second.files)
        cycle |= std::find(chain.begin(), chain.end(), f) != chain.end();
      if (!cycle) {
        add_dependencies(chain, it->second.files);
        return clone(it->second.tree);
      }
    }
  }
  for (const auto& seen : chain) {
    if (seen == canonical) {
      std::string cycle;
      for (const auto& c : chain) cycle += fs::path(c).filename().string() + " -> ";
      throw ConfigError(referrer + ": base/include cycle: " + cycle +
                        fs::path(canonical).filename().string());
    }
  }
  if (cacheable) file_cache()[canonical] = CachedFile{mtime, size, nullptr, {canonical}};
  chain.push_back(canonical);
  NodePtr n = parse_text(read_file(path, referrer), path);
  expand(n, fs::path(path).parent_path().string(), "", chain);
  chain.pop_back();
  if (cacheable) {
    CachedFile& entry = file_cache()[canonical];
    entry.tree = clone(n);
    add_dependencies(chain, entry.files);
  }
  return n;
}

template <typename T>
bool parse_integer(const std::string& s, T& out) {
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (b != e && *b == '+') ++b;
  auto [p, ec] = std::from_chars(b, e, out);
  return ec == std::errc() && p == e && b != e;
}

bool parse_number(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE) return false;
  return std::isfinite(out);
}

bool parse_bool(const std::string& s, bool& out) {
  if (s == "true" || s == "True" || s == "TRUE") return out = true, true;
  if (s == "false" || s == "False" || s == "FALSE") return out = false, true;
  return false;
}

}  // namespace

std::string SourceLocation::str() const {
  if (line == 0) return file.empty() ? "<generated>" : file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::shared_ptr<ConfigNode> merge_config(const std::shared_ptr<ConfigNode>& base,
                                         const std::shared_ptr<ConfigNode>& over) {
  if (base->kind != ConfigNode::Kind::kMap || over->kind != ConfigNode::Kind::kMap)
    return deep_copy(over);
  NodePtr out = deep_copy(base);
  for (const auto& kv : over->map) {
    bool replaced = false;
    for (auto& existing : out->map) {
      if (existing.first == kv.first) {
        SourceLocation key_loc = kv.second->key_location;
        existing.second = merge_config(existing.second, kv.second);
        existing.second->key_location = key_loc;
        replaced = true;
        break;
      }
    }
    if (!replaced) out->map.emplace_back(kv.first, deep_copy(kv.second));
  }
  out->location = over->location;
  return out;
}

Config Config::load(const std::string& path, const std::string& key_path) {
  std::vector<std::string> chain;
  expanded_nodes() = 0;
  return Config(load_file(path, "", chain), key_path);
}

Config Config::parse(const std::string& text, const std::string& name,
                     const std::string& key_path) {
  return Config(parse_text(text, name), key_path);
}

bool Config::is_map() const {
  return node_ && node_->kind == ConfigNode::Kind::kMap;
}
bool Config::is_sequence() const {
  return node_ && node_->kind == ConfigNode::Kind::kSequence;
}
bool Config::is_scalar() const {
  return node_ && node_->kind == ConfigNode::Kind::kScalar;
}
bool Config::is_null() const {
  return !node_ || node_->kind == ConfigNode::Kind::kNull;
}
const SourceLocation& Config::location() const {
  return node_->location;
}
const std::string& Config::scalar() const {
  return node_->scalar;
}

std::string Config::directory() const {
  return fs::path(node_->location.file).parent_path().string();
}

std::shared_ptr<ConfigNode> Config::find(const std::string& key) const {
  if (!is_map()) return nullptr;
  for (const auto& kv : node_->map)
    if (kv.first == key) return kv.second;
  return nullptr;
}

std::string Config::child_path(const std::string& key) const {
  return join_key(key_path_, key);
}

bool Config::has(const std::string& key) const {
  auto n = find(key);
  return n && n->kind != ConfigNode::Kind::kNull;
}

std::vector<std::string> Config::keys() const {
  std::vector<std::string> out;
  if (is_map())
    for (const auto& kv : node_->map) out.push_back(kv.first);
  return out;
}

void Config::fail(const std::string& key, const std::string& message) const {
  if (!key.empty()) {
    if (auto n = find(key))
      throw ConfigError(n->location.str() + ": " + child_path(key) + ": " + message);
    throw ConfigError(node_->location.str() + ": " + child_path(key) + ": " + message);
  }
  throw ConfigError(node_->location.str() + ": " + (key_path_.empty() ? "" : key_path_ + ": ") +
                    message);
}

Config Config::at(const std::string& key) const {
  if (!is_map()) fail("", "expected a mapping, got " + describe(*node_));
  auto n = find(key);
  if (!n) fail(key, "missing required key");
  n->used = true;
  return Config(n, child_path(key));
}

Config Config::child(const std::string& key) const {
  Config c = at(key);
  if (!c.is_map()) c.fail("", "expected a mapping, got " + describe(*c.node_));
  return c;
}

std::vector<Config> Config::elements() const {
  if (!is_sequence()) fail("", "expected a list, got " + describe(*node_));
  node_->used = true;
  std::vector<Config> out;
  for (size_t i = 0; i < node_->sequence.size(); ++i)
    out.emplace_back(node_->sequence[i], key_path_ + "[" + std::to_string(i) + "]");
  return out;
}

std::vector<Config> Config::items(const std::string& key) const {
  return at(key).elements();
}

template <>
std::string Config::as<std::string>() const {
  node_->used = true;
  if (!is_scalar()) fail("", "expected a string, got " + describe(*node_));
  return node_->scalar;
}

template <>
bool Config::as<bool>() const {
  node_->used = true;
  bool v = false;
  if (!is_scalar() || !parse_bool(node_->scalar, v))
    fail("", "expected true or false, got " + describe(*node_));
  return v;
}

template <>
int64_t Config::as<int64_t>() const {
  node_->used = true;
  int64_t v = 0;
  if (!is_scalar() || node_->quoted || !parse_integer(node_->scalar, v))
    fail("", "expected an integer, got " + describe(*node_));
  return v;
}

template <>
uint64_t Config::as<uint64_t>() const {
  node_->used = true;
  uint64_t v = 0;
  if (!is_scalar() || node_->quoted || !parse_integer(node_->scalar, v))
    fail("", "expected a non-negative integer, got " + describe(*node_));
  return v;
}

template <>
int Config::as<int>() const {
  int64_t v = as<int64_t>();
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
    fail("", "integer " + node_->scalar + " is out of range");
  return static_cast<int>(v);
}

template <>
double Config::as<double>() const {
  node_->used = true;
  double v = 0;
  if (!is_scalar() || node_->quoted || !parse_number(node_->scalar, v))
    fail("", "expected a number, got " + describe(*node_));
  return v;
}

template <typename T>
T Config::get(const std::string& key) const {
  return at(key).as<T>();
}

template <typename T>
T Config::get(const std::string& key, const T& fallback) const {
  if (!is_map()) fail("", "expected a mapping, got " + describe(*node_));
  if (!has(key)) {
    if (auto n = find(key)) n->used = true;
    return fallback;
  }
  return get<T>(key);
}

template bool Config::get<bool>(const std::string&) const;
template int Config::get<int>(const std::string&) const;
template int64_t Config::get<int64_t>(const std::string&) const;
template uint64_t Config::get<uint64_t>(const std::string&) const;
template double Config::get<double>(const std::string&) const;
template std::string Config::get<std::string>(const std::string&) const;
template bool Config::get<bool>(const std::string&, const bool&) const;
template int Config::get<int>(const std::string&, const int&) const;
template int64_t Config::get<int64_t>(const std::string&, const int64_t&) const;
template uint64_t Config::get<uint64_t>(const std::string&, const uint64_t&) const;
template double Config::get<double>(const std::string&, const double&) const;
template std::string Config::get<std::string>(const std::string&, const std::string&) const;

int64_t Config::get_positive_int(const std::string& key) const {
  Config c = at(key);
  int64_t v = 0;
  c.node_->used = true;
  if (!c.is_scalar() || c.node_->quoted || !parse_integer(c.node_->scalar, v) || v <= 0)
    c.fail("", "expected a positive integer, got " + describe(*c.node_));
  return v;
}

int64_t Config::get_positive_int(const std::string& key, int64_t fallback) const {
  if (!has(key)) return get<int64_t>(key, fallback);
  return get_positive_int(key);
}

double Config::get_positive(const std::string& key) const {
  Config c = at(key);
  double v = 0;
  c.node_->used = true;
  if (!c.is_scalar() || c.node_->quoted || !parse_number(c.node_->scalar, v) || v <= 0)
    c.fail("", "expected a positive number, got " + describe(*c.node_));
  return v;
}

double Config::get_positive(const std::string& key, double fallback) const {
  if (!has(key)) return get<double>(key, fallback);
  return get_positive(key);
}

double Config::get_non_negative(const std::string& key, double fallback) const {
  double v = get<double>(key, fallback);
  if (v < 0) at(key).fail("", "expected a number >= 0, got " + describe(*find(key)));
  return v;
}

namespace {

// A range bound as a person writes it: 10, 0.01, 1048576.
std::string bound(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

}  // namespace

int64_t Config::as_int_range(int64_t lo, int64_t hi) const {
  node_->used = true;
  int64_t v = 0;
  if (!is_scalar() || node_->quoted || !parse_integer(node_->scalar, v) || v < lo || v > hi)
    fail("", "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
                 ", got " + describe(*node_));
  return v;
}

double Config::as_number_range(double lo, double hi) const {
  node_->used = true;
  double v = 0;
  if (!is_scalar() || node_->quoted || !parse_number(node_->scalar, v) || v < lo || v > hi)
    fail("",
         "expected a number from " + bound(lo) + " to " + bound(hi) + ", got " + describe(*node_));
  return v;
}

int64_t Config::get_int_range(const std::string& key, int64_t lo, int64_t hi) const {
  return at(key).as_int_range(lo, hi);
}

int64_t Config::get_int_range(const std::string& key, int64_t lo, int64_t hi,
                              int64_t fallback) const {
  if (!has(key)) return get<int64_t>(key, fallback);
  return get_int_range(key, lo, hi);
}

double Config::get_number_range(const std::string& key, double lo, double hi) const {
  return at(key).as_number_range(lo, hi);
}

double Config::get_number_range(const std::string& key, double lo, double hi,
                                double fallback) const {
  if (!has(key)) return get<double>(key, fallback);
  return get_number_range(key, lo, hi);
}

std::string Config::get_choice(const std::string& key,
                               const std::vector<std::string>& choices) const {
  std::string v = get<std::string>(key);
  for (const auto& c : choices)
    if (c == v) return v;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  at(key).fail("", "expected one of " + list + ", got " + quote(v));
}

std::string Config::get_choice(const std::string& key, const std::vector<std::string>& choices,
                               const std::string& fallback) const {
  if (!has(key)) return get<std::string>(key, fallback);
  return get_choice(key, choices);
}

std::string Config::get_path(const std::string& key) const {
  Config c = at(key);
  std::string rel = c.as<std::string>();
  return join_path(c.directory(), rel);
}

void Config::mark_used() const {
  if (!node_) return;
  node_->used = true;
  for (const auto& kv : node_->map) Config(kv.second, "").mark_used();
  for (const auto& item : node_->sequence) Config(item, "").mark_used();
}

void Config::reject_unused() const {
  if (!node_) return;
  if (is_map()) {
    for (const auto& kv : node_->map) {
      if (!kv.second->used)
        throw ConfigError(kv.second->key_location.str() + ": " + child_path(kv.first) +
                          ": unknown key");
      Config(kv.second, child_path(kv.first)).reject_unused();
    }
  } else if (is_sequence()) {
    for (const auto& item : elements()) item.reject_unused();
  }
}

bool Config::erase(const std::string& key) {
  if (!is_map()) return false;
  auto& map = node_->map;
  const auto it =
      std::find_if(map.begin(), map.end(), [&](const auto& kv) { return kv.first == key; });
  if (it == map.end()) return false;
  map.erase(it);
  return true;
}

void Config::set(const std::string& dotted_path, const Config& value) {
  if (!is_map()) fail("", "cannot set '" + dotted_path + "': not a mapping");
  std::shared_ptr<ConfigNode> cur = node_;
  std::string rest = dotted_path;
  for (;;) {
    size_t dot = rest.find('.');
    std::string key = rest.substr(0, dot);
    if (key.empty())
      throw ConfigError(value.location().str() + ": '" + dotted_path + "' is not a key path");
    std::shared_ptr<ConfigNode> next;
    for (auto& kv : cur->map)
      if (kv.first == key) next = kv.second;
    if (dot == std::string::npos) {
      auto copy = deep_copy(value.node_);
      clear_used(copy);
      copy->key_location =
          value.node_->key_location.line ? value.node_->key_location : value.node_->location;
      if (next) {
        for (auto& kv : cur->map)
          if (kv.first == key) kv.second = copy;
      } else {
        cur->map.emplace_back(key, copy);
      }
      return;
    }
    if (!next) {
      next = std::make_shared<ConfigNode>();
      next->kind = ConfigNode::Kind::kMap;
      next->location = next->key_location = value.node_->location;
      cur->map.emplace_back(key, next);
    } else if (next->kind != ConfigNode::Kind::kMap) {
      throw ConfigError(value.location().str() + ": '" + dotted_path + "': '" + key +
                        "' is not a mapping");
    }
    cur = next;
    rest = rest.substr(dot + 1);
  }
}

nlohmann::json Config::to_json() const {
  if (!node_) return nullptr;
  switch (node_->kind) {
    case ConfigNode::Kind::kNull:
      return nullptr;
    case ConfigNode::Kind::kMap: {
      nlohmann::json j = nlohmann::json::object();
      for (const auto& kv : node_->map) j[kv.first] = Config(kv.second, "").to_json();
      return j;
    }
    case ConfigNode::Kind::kSequence: {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& item : node_->sequence) j.push_back(Config(item, "").to_json());
      return j;
    }
    case ConfigNode::Kind::kScalar: {
      const std::string& s = node_->scalar;
      if (node_->quoted) return s;
      int64_t i = 0;
      double d = 0;
      bool b = false;
      if (parse_integer(s, i)) return i;
      if (parse_number(s, d)) return d;
      if (parse_bool(s, b)) return b;
      return s;
    }
  }
  return nullptr;
}

}  // namespace tessel
