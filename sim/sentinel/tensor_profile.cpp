// Tensor trace parser and Sentinel's profile: lifetimes, accesses and layer intervals.
#include "sim/sentinel/tensor_profile.h"

#include "sim/sentinel/huge_pages.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "runtime/core/error.h"

namespace tessel::sentinel {

namespace {

[[noreturn]] void bad_line(const std::string& name, int64_t line, const std::string& msg) {
  throw ConfigError(name + ":" + std::to_string(line) + ": " + msg);
}

bool parse_int(const std::string& s, int64_t& v) {
  if (s.empty()) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    if (v > (INT64_MAX - 9) / 10) return false;
    v = v * 10 + (s[i] - '0');
  }
  if (s[0] == '-') v = -v;
  return true;
}

}  // namespace

TraceFile parse_tensor_trace(std::istream& in, const std::string& name) {
  TraceFile t;
  t.name = name;
  std::unordered_map<std::string, uint32_t> index;
  std::string line;
  int64_t no = 0;
  while (std::getline(in, line)) {
    ++no;
    if (in.eof()) bad_line(name, no, "truncated file: the last line has no newline");
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream ss(line);
    std::vector<std::string> f;
    for (std::string w; ss >> w;) f.push_back(w);
    if (f.empty()) continue;
    if (f.size() != 5)
      bad_line(name, no,
               "expected 5 fields '<step> <layer> <A|F|R|W> <tensor> <bytes>', got " +
                   std::to_string(f.size()));
    TraceEvent e;
    int64_t layer = 0;
    if (!parse_int(f[0], e.step) || e.step < 0)
      bad_line(name, no, "step: expected a non-negative integer, got '" + f[0] + "'");
    if (!parse_int(f[1], layer) || layer < -1 || layer > 1000000)
      bad_line(name, no, "layer: expected an integer >= -1, got '" + f[1] + "'");
    if (f[2].size() != 1 || std::string("AFRW").find(f[2][0]) == std::string::npos)
      bad_line(name, no, "op: expected A, F, R or W, got '" + f[2] + "'");
    if (!parse_int(f[4], e.bytes) || e.bytes <= 0)
      bad_line(name, no, "bytes: expected a positive integer, got '" + f[4] + "'");
    e.layer = static_cast<int>(layer);
    e.op = f[2][0];
    e.line = no;
    auto [it, fresh] = index.emplace(f[3], static_cast<uint32_t>(t.tensors.size()));
    if (fresh) t.tensors.push_back(f[3]);
    e.tensor = it->second;
    t.events.push_back(e);
  }
  if (in.bad()) throw IoError(name + ": read error");
  return t;
}

TraceFile read_tensor_trace(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(path + ": cannot open the tensor trace");
  return parse_tensor_trace(in, path);
}

namespace {

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

// The whole optimizer stores and the prefix of their per-parameter pieces.
constexpr std::string_view kStore[] = {"params", "grads", "adam_m", "adam_v"};
constexpr std::string_view kPiece[] = {"param:", "grad:", "adam_m:", "adam_v:"};

// A name's piece prefix (index in kPiece) and whole store (index in kStore), -1 if none.
// Decided on the first character first: most names are activations.
struct NameKind {
  signed char piece = -1, store = -1;
};
NameKind name_kind(std::string_view nm) {
  NameKind k;
  if (nm.empty() || (nm[0] != 'p' && nm[0] != 'g' && nm[0] != 'a')) return k;
  for (int s = 0; s < 4; ++s) {
    if (nm[0] != kStore[s][0]) continue;
    if (nm == kStore[s]) k.store = static_cast<signed char>(s);
    if (starts_with(nm, kPiece[s])) k.piece = static_cast<signed char>(s);
  }
  return k;
}

// Where the message points: "file:line" or "file: event N" for generated traces.
std::string where(const TraceFile& t, const TraceEvent& e, size_t k) {
  return e.line > 0 ? t.name + ":" + std::to_string(e.line)
                    : t.name + ": event " + std::to_string(k + 1);
}

}  // namespace

Profile build_profile(const TraceFile& trace, const ProfileOptions& opt) {
  if (trace.events.empty()) throw ConfigError(trace.name + ": the tensor trace has no events");
  Profile p;
  p.name = trace.name;
  p.step = trace.events.front().step;
  // Events of the first step only (a trace may hold several).
  size_t n = 0;
  while (n < trace.events.size() && trace.events[n].step == p.step) ++n;

  // Sizes of the parameters, for splitting the whole-store optimizer accesses. Flat
  // arrays indexed by the trace's tensor index: no hashing per event.
  // Each trace name classified once.
  std::vector<NameKind> kinds(trace.tensors.size());
  for (size_t i = 0; i < trace.tensors.size(); ++i) kinds[i] = name_kind(trace.tensors[i]);
  struct Param {
    std::string_view name;  // without "param:"
    uint32_t trace_tensor = 0;
    int64_t bytes = 0;
  };
  std::vector<Param> params;
  {
    // Per trace tensor: its parameter, -1 not looked at yet, -2 not a parameter.
    std::vector<int64_t> seen(trace.tensors.size(), -1);
    for (size_t k = 0; k < n; ++k) {
      const TraceEvent& e = trace.events[k];
      int64_t& at = seen[e.tensor];
      if (at == -2) continue;
      if (at == -1) {
        const std::string& nm = trace.tensors[e.tensor];
        if (kinds[e.tensor].piece != 0) {
          at = -2;
          continue;
        }
        at = static_cast<int64_t>(params.size());
        params.push_back(Param{std::string_view(nm).substr(6), e.tensor, 0});
      }
      params[static_cast<size_t>(at)].bytes =
          std::max(params[static_cast<size_t>(at)].bytes, e.bytes);
    }
  }
  // Profile tensors are created in order of first reference, so the indices match the
  // trace's order with the pieces inserted where their store is first accessed. Names are
  // set at the end from one arena: per tensor its trace tensor (>= 0) or, for a piece
  // the trace lacks, -1 - its index in `extra` (no string per tensor while profiling).
  std::vector<int64_t> name_src;
  std::string extra;
  std::vector<size_t> extra_at{0};  // extra name j: extra[extra_at[j], extra_at[j + 1])
  auto name_of = [&](uint32_t id) -> std::string_view {
    const int64_t src = name_src[id];
    if (src >= 0) return trace.tensors[static_cast<size_t>(src)];
    const auto j = static_cast<size_t>(-1 - src);
    return std::string_view(extra).substr(extra_at[j], extra_at[j + 1] - extra_at[j]);
  };
  auto new_tensor = [&](int64_t src) {
    p.tensors.emplace_back();
    name_src.push_back(src);
    return static_cast<uint32_t>(p.tensors.size() - 1);
  };
  auto new_named = [&](std::string_view nm) {
    extra += nm;
    extra_at.push_back(extra.size());
    return new_tensor(-static_cast<int64_t>(extra_at.size() - 1));
  };
  enum State : char { kUnseen, kLive, kFreed, kPersistent };
  std::vector<char> state;
  std::vector<size_t> first_event;
  const size_t expect = trace.tensors.size() + 4 * params.size() + 4;
  p.tensors.reserve(expect);
  huge_pages(p.tensors);
  name_src.reserve(expect);
  state.reserve(expect);
  first_event.reserve(expect);  // where a tensor was first seen, for messages
  int64_t live = 0, live_peak = 0;

  // Which whole store (0-3) an access is to, -1 none.
  const bool split = opt.split_optimizer_state && !params.empty();
  auto store = [&](const TraceEvent& e) {
    if (!split || (e.op != 'R' && e.op != 'W')) return -1;
    return static_cast<int>(kinds[e.tensor].store);
  };
  // Accesses per interval (an upper bound: a store access may have no remainder piece),
  // reserved up front: growing the optimizer's interval of a million accesses by doubling
  // copies and page-faults twice the memory.
  std::vector<size_t> accesses_of;
  for (size_t k = 0; k < n; ++k) {
    const TraceEvent& e = trace.events[k];
    if (k == 0 || e.layer != trace.events[k - 1].layer) accesses_of.push_back(0);
    if (e.op == 'R' || e.op == 'W') accesses_of.back() += store(e) >= 0 ? params.size() + 1 : 1;
  }
  p.intervals.reserve(accesses_of.size());

  auto handle = [&](const TraceEvent& e, size_t k, uint32_t id, int64_t bytes) {
    auto nm = [&] { return std::string(name_of(id)); };  // for messages only
    if (state.size() <= id) {
      state.resize(id + 1, kUnseen);
      first_event.resize(id + 1, k);
    }
    TensorInfo& t = p.tensors[id];
    if (p.intervals.empty() || p.intervals.back().layer != e.layer) {
      p.intervals.emplace_back();
      p.intervals.back().layer = e.layer;
      p.intervals.back().accesses.reserve(accesses_of[p.intervals.size() - 1]);
      huge_pages(p.intervals.back().accesses);
    }
    const int iv = static_cast<int>(p.intervals.size()) - 1;
    char& s = state[id];
    switch (e.op) {
      case 'A':
        if (s == kLive)
          throw ConfigError(where(trace, e, k) + ": tensor '" + nm() +
                            "' allocated twice without a free");
        if (s == kPersistent)
          throw ConfigError(where(trace, e, k) + ": tensor '" + nm() +
                            "' allocated after it was accessed (" +
                            where(trace, trace.events[first_event[id]], first_event[id]) + ")");
        if (s == kFreed)
          throw ConfigError(where(trace, e, k) + ": tensor '" + nm() +
                            "' allocated again in the same step");
        s = kLive;
        t.alloc = iv;
        t.bytes = bytes;
        live += bytes;
        live_peak = std::max(live_peak, live);
        break;
      case 'F':
        if (s == kUnseen)
          throw ConfigError(where(trace, e, k) + ": free of unknown tensor '" + nm() +
                            "' (never allocated)");
        if (s != kLive)
          throw ConfigError(where(trace, e, k) + ": free of tensor '" + nm() +
                            "' that is not allocated");
        s = kFreed;
        t.free = iv;
        live -= t.bytes;
        break;
      default: {
        if (s == kFreed)
          throw ConfigError(where(trace, e, k) + ": access to freed tensor '" + nm() + "'");
        if (s == kUnseen) {
          s = kPersistent;
          t.persistent = true;
        }
        if (s == kLive && bytes > t.bytes)
          throw ConfigError(where(trace, e, k) + ": access of " + std::to_string(bytes) +
                            " bytes to tensor '" + nm() + "' of " + std::to_string(t.bytes));
        if (t.persistent) t.bytes = std::max(t.bytes, bytes);
        const bool w = e.op == 'W';
        p.intervals[static_cast<size_t>(iv)].accesses.push_back(Access{id, w, bytes});
        ++t.accesses;
        (w ? t.write_bytes : t.read_bytes) += bytes;
        p.access_bytes += bytes;
      }
    }
  };

  // Trace tensor index -> profile tensor index (-1: not referenced yet).
  std::vector<int64_t> mapped(trace.tensors.size(), -1);
  auto trace_tensor = [&](uint32_t tr) {
    int64_t& id = mapped[tr];
    if (id < 0) id = new_tensor(static_cast<int64_t>(tr));
    return static_cast<uint32_t>(id);
  };
  // A piece named like a trace tensor is that tensor: the `params` pieces are the
  // parameters themselves, "grad:h0.w_qkv" is the gradient the backward pass wrote; the
  // others ("adam_m:...") are new. Only names with a piece prefix other than "param:" can
  // match a piece that is not a parameter.
  // By name: open addressing over the trace's strings (no heap node per name).
  std::vector<uint32_t> by_name;  // trace tensor + 1; 0: empty
  const auto hash = [](std::string_view s) { return std::hash<std::string_view>{}(s); };
  bool in_trace[4] = {true, false, false, false};  // any trace tensor with the prefix
  if (split) {
    size_t candidates = 0;
    for (const NameKind& k : kinds)
      if (k.piece >= 1) {
        in_trace[k.piece] = true;
        ++candidates;
      }
    size_t slots = 16;
    while (slots < 2 * candidates) slots *= 2;
    by_name.assign(slots, 0);
    for (uint32_t tr = 0; tr < trace.tensors.size(); ++tr)
      if (kinds[tr].piece >= 1) {
        // Trace names are unique (parse_tensor_trace and the generator intern them).
        size_t h = hash(trace.tensors[tr]) & (slots - 1);
        while (by_name[h] != 0) h = (h + 1) & (slots - 1);
        by_name[h] = tr + 1;
      }
  }
  auto find_name = [&](std::string_view nm) -> int64_t {
    if (by_name.empty()) return -1;  // "param:rest" when the trace has no other pieces
    for (size_t h = hash(nm) & (by_name.size() - 1);; h = (h + 1) & (by_name.size() - 1)) {
      if (by_name[h] == 0) return -1;
      if (trace.tensors[by_name[h] - 1] == nm) return by_name[h] - 1;
    }
  };
  // Stores without a trace tensor of their prefix (Adam's moments) skip the lookups.
  auto piece = [&](int st, const std::string& nm) {
    if (!in_trace[st]) return new_named(nm);
    const int64_t tr = find_name(nm);
    return tr >= 0 ? trace_tensor(static_cast<uint32_t>(tr)) : new_named(nm);
  };
  // A parameter named "rest" shares its piece with the remainder piece of each store.
  int64_t rest_param = -1;
  for (size_t i = 0; i < params.size(); ++i)
    if (params[i].name == "rest") rest_param = static_cast<int64_t>(i);
  std::vector<uint32_t> pieces[4];  // per store: its pieces, in parameter order
  int64_t rest[4] = {-1, -1, -1, -1};
  for (size_t k = 0; k < n; ++k) {
    const TraceEvent& e = trace.events[k];
    if (const int st = store(e); st >= 0) {
      std::vector<uint32_t>& ps = pieces[st];
      if (ps.empty()) {
        ps.reserve(params.size());
        std::string nm(kPiece[st]);
        const size_t pre = nm.size();
        for (const Param& pp : params) {
          if (st == 0) {
            ps.push_back(trace_tensor(pp.trace_tensor));
            continue;
          }
          nm.resize(pre);
          nm += pp.name;
          ps.push_back(piece(st, nm));
        }
      }
      int64_t left = e.bytes;
      for (size_t i = 0; i < params.size(); ++i) {
        const int64_t pb = params[i].bytes;
        if (pb > left)
          throw ConfigError(where(trace, e, k) + ": '" + trace.tensors[e.tensor] + "' has " +
                            std::to_string(e.bytes) + " bytes, fewer than its parameters");
        handle(e, k, ps[i], pb);
        left -= pb;
      }
      if (left > 0) {
        if (rest[st] < 0)
          rest[st] = rest_param >= 0 ? ps[static_cast<size_t>(rest_param)]
                                     : piece(st, std::string(kPiece[st]) + "rest");
        handle(e, k, static_cast<uint32_t>(rest[st]), left);
      }
      continue;
    }
    handle(e, k, trace_tensor(e.tensor), e.bytes);
  }
  for (size_t id = 0; id < p.tensors.size(); ++id)
    if (state[id] == kLive)
      throw ConfigError(where(trace, trace.events[first_event[id]], first_event[id]) +
                        ": tensor '" + std::string(name_of(static_cast<uint32_t>(id))) +
                        "' is allocated and never freed in the step (truncated trace?)");
  p.events = static_cast<int64_t>(n);
  int64_t persistent = 0;
  for (const TensorInfo& t : p.tensors) {
    if (t.persistent) persistent += t.bytes;
    p.largest_tensor = std::max(p.largest_tensor, t.bytes);
  }
  p.peak_bytes = persistent + live_peak;

  // Names: one arena in profile order.
  {
    size_t chars = 0;
    for (uint32_t id = 0; id < p.tensors.size(); ++id) chars += name_of(id).size();
    auto names = std::make_shared<std::string>();
    names->reserve(chars);
    for (uint32_t id = 0; id < p.tensors.size(); ++id) names->append(name_of(id));
    size_t at = 0;
    for (uint32_t id = 0; id < p.tensors.size(); ++id) {
      const size_t len = name_of(id).size();
      p.tensors[id].name = std::string_view(*names).substr(at, len);
      at += len;
    }
    p.name_storage = std::move(names);
  }
  // Uses: the intervals with an access of each tensor, counted, then filled in interval
  // order (so ascending and unique) into one array.
  {
    const size_t T = p.tensors.size();
    std::vector<size_t> at(T + 1, 0);
    std::vector<int> last(T, -1);
    for (size_t k = 0; k < p.intervals.size(); ++k)
      for (const Access& a : p.intervals[k].accesses)
        if (last[a.tensor] != static_cast<int>(k)) {
          last[a.tensor] = static_cast<int>(k);
          ++at[a.tensor + 1];
        }
    for (size_t id = 0; id < T; ++id) at[id + 1] += at[id];
    auto uses = std::make_shared<std::vector<int>>(at.back());
    std::vector<size_t> next(at.begin(), at.end() - 1);
    last.assign(T, -1);
    for (size_t k = 0; k < p.intervals.size(); ++k)
      for (const Access& a : p.intervals[k].accesses)
        if (last[a.tensor] != static_cast<int>(k)) {
          last[a.tensor] = static_cast<int>(k);
          (*uses)[next[a.tensor]++] = static_cast<int>(k);
        }
    for (size_t id = 0; id < T; ++id)
      p.tensors[id].uses = View<int>{uses->data() + at[id], uses->data() + at[id + 1]};
    p.use_storage = std::move(uses);
  }

  // Roofline compute per interval: linear layers only (attention's T^2 terms and
  // elementwise work are left out: see docs/sentinel.md).
  std::vector<char> kind(p.tensors.size(), 0);  // 1: parameter, 2: gradient
  for (uint32_t id = 0; id < p.tensors.size(); ++id) {
    const int64_t src = name_src[id];
    const int piece =
        src >= 0 ? kinds[static_cast<size_t>(src)].piece : name_kind(name_of(id)).piece;
    kind[id] = piece == 0 ? 1 : piece == 1 ? 2 : 0;
  }
  for (Interval& iv : p.intervals) {
    double param_read = 0, grad_write = 0;
    bool writes_params = false;
    for (const Access& a : iv.accesses) {
      const char kd = kind[a.tensor];
      if (kd == 1 && !a.write) param_read += static_cast<double>(a.bytes) / 4;
      if (kd == 1 && a.write) writes_params = true;
      if (kd == 2 && a.write) grad_write += static_cast<double>(a.bytes) / 4;
    }
    iv.backward = grad_write > 0;
    if (iv.backward)
      iv.flops = 4 * opt.rows * grad_write;
    else if (!writes_params)
      iv.flops = 2 * opt.rows * param_read;
  }
  return p;
}

}  // namespace tessel::sentinel
