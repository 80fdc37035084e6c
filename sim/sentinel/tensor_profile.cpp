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

void prefetch(const void* p) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p);
#else
  (void)p;
#endif
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

  // Every large array below is written once, so its first-touch page faults cost more than
  // the profiling itself at 4 KiB pages: each is hinted huge before it is written
  // (huge_pages.h), and per-tensor state is kept in flat arrays indexed by tensor.
  const size_t NT = trace.tensors.size();
  constexpr uint32_t kNone = UINT32_MAX;
  // Each trace name classified once.
  HugeVector<NameKind> kinds(NT);
  size_t param_names = 0;
  for (size_t i = 0; i < NT; ++i) {
    kinds[i] = name_kind(trace.tensors[i]);
    param_names += kinds[i].piece == 0;
  }
  // Sizes of the parameters, for splitting the whole-store optimizer accesses.
  struct Param {
    uint32_t trace_tensor = 0;
    int64_t bytes = 0;
  };
  HugeVector<Param> params;
  params.reserve(param_names);
  // Per trace tensor: its parameter while they are found, then its profile tensor.
  HugeVector<uint32_t> slot(NT, kNone);
  for (size_t k = 0; k < n; ++k) {
    const TraceEvent& e = trace.events[k];
    if (kinds[e.tensor].piece != 0) continue;
    uint32_t& at = slot[e.tensor];
    if (at == kNone) {
      at = static_cast<uint32_t>(params.size());
      params.push_back(Param{e.tensor, 0});
    }
    params[at].bytes = std::max(params[at].bytes, e.bytes);
  }
  const size_t P = params.size();
  // Without "param:".
  auto param_name = [&](size_t i) {
    return std::string_view(trace.tensors[params[i].trace_tensor]).substr(6);
  };
  // Profile tensors are created in order of first reference, so the indices match the
  // trace's order with the pieces inserted where their store is first accessed. Names are
  // set at the end from one arena: per tensor its trace tensor (< NT) or, for a piece the
  // trace lacks, NT + st * (P + 1) + i for store st and parameter i (i == P: "rest").
  // No string is built while profiling.
  if (n >= kNone || NT + 4 * (P + 1) >= kNone)
    throw ConfigError(trace.name + ": too many events or tensors to profile");
  auto piece_suffix = [&](size_t i) { return i < P ? param_name(i) : std::string_view("rest"); };
  HugeVector<uint32_t> name_src;
  size_t chars = 0;  // of all names
  auto name_len = [&](uint32_t src) {
    if (src < NT) return trace.tensors[src].size();
    const size_t st = (src - NT) / (P + 1), i = (src - NT) % (P + 1);
    return kPiece[st].size() + piece_suffix(i).size();
  };
  auto name_of = [&](uint32_t id) {  // for messages
    const uint32_t src = name_src[id];
    if (src < NT) return trace.tensors[src];
    const size_t st = (src - NT) / (P + 1), i = (src - NT) % (P + 1);
    return std::string(kPiece[st]) + std::string(piece_suffix(i));
  };
  enum State : char { kUnseen, kLive, kFreed, kPersistent };
  struct Work {
    int last_use = -1;         // the last interval with an access
    uint32_t uses = 0;         // how many; at the end, where its uses end in use_storage
    uint32_t first_event = 0;  // where the tensor was first seen, for messages
    char state = kUnseen;
  };
  HugeVector<Work> work;
  size_t k = 0;  // the event being profiled
  auto new_tensor = [&](uint32_t src) {
    p.tensors.emplace_back();
    work.push_back(Work{-1, 0, static_cast<uint32_t>(k), kUnseen});
    name_src.push_back(src);
    chars += name_len(src);
    return static_cast<uint32_t>(p.tensors.size() - 1);
  };
  const size_t expect = NT + 4 * P + 4;
  huge_reserve(p.tensors, expect);
  work.reserve(expect);
  name_src.reserve(expect);
  // Transient bytes live and their peak; bytes of the persistent tensors (summed as their
  // sizes grow, like the largest tensor, instead of in a pass over the tensors).
  int64_t live = 0, live_peak = 0, persistent = 0;

  // Which whole store (0-3) an access is to, -1 none.
  const bool split = opt.split_optimizer_state && P > 0;
  auto store = [&](const TraceEvent& e) {
    if (!split || (e.op != 'R' && e.op != 'W')) return -1;
    return static_cast<int>(kinds[e.tensor].store);
  };
  // Accesses per interval (an upper bound: a store access may have no remainder piece),
  // reserved up front: growing the optimizer's interval of a million accesses by doubling
  // copies and page-faults twice the memory.
  std::vector<size_t> accesses_of;
  size_t all_accesses = 0;
  for (size_t j = 0; j < n; ++j) {
    const TraceEvent& e = trace.events[j];
    if (j == 0 || e.layer != trace.events[j - 1].layer) accesses_of.push_back(0);
    if (e.op == 'R' || e.op == 'W') {
      const size_t a = store(e) >= 0 ? P + 1 : 1;
      accesses_of.back() += a;
      all_accesses += a;
    }
  }
  if (all_accesses >= kNone)
    throw ConfigError(trace.name + ": too many accesses to profile (optimizer split)");
  p.intervals.reserve(accesses_of.size());
  // Per interval, the tensors it accesses for the first time in it (the uses, in
  // interval order): use_log[use_at[iv], use_at[iv + 1]).
  HugeVector<uint32_t> use_log;
  use_log.reserve(all_accesses);
  std::vector<size_t> use_at;
  use_at.reserve(accesses_of.size() + 1);

  // The interval being built, and its roofline sums (linear layers only: attention's T^2
  // terms and elementwise work are left out, see docs/sentinel.md).
  int iv = -1;
  std::vector<Access>* acc = nullptr;
  double param_read = 0, grad_write = 0;
  bool writes_params = false;
  auto close_interval = [&] {
    if (iv < 0) return;
    Interval& in = p.intervals[static_cast<size_t>(iv)];
    in.backward = grad_write > 0;
    if (in.backward)
      in.flops = 4 * opt.rows * grad_write;
    else if (!writes_params)
      in.flops = 2 * opt.rows * param_read;
    param_read = grad_write = 0;
    writes_params = false;
  };

  // `piece`: the tensor's piece prefix (0: a parameter, 1: a gradient), for the FLOPs.
  auto handle = [&](const TraceEvent& e, uint32_t id, int64_t bytes, int piece) {
    auto nm = [&] { return name_of(id); };  // for messages only
    TensorInfo& t = p.tensors[id];
    Work& w = work[id];
    char& s = w.state;
    switch (e.op) {
      case 'A':
        if (s == kLive)
          throw ConfigError(where(trace, e, k) + ": tensor '" + nm() +
                            "' allocated twice without a free");
        if (s == kPersistent)
          throw ConfigError(where(trace, e, k) + ": tensor '" + nm() +
                            "' allocated after it was accessed (" +
                            where(trace, trace.events[w.first_event], w.first_event) + ")");
        if (s == kFreed)
          throw ConfigError(where(trace, e, k) + ": tensor '" + nm() +
                            "' allocated again in the same step");
        s = kLive;
        t.alloc = iv;
        t.bytes = bytes;
        p.largest_tensor = std::max(p.largest_tensor, bytes);
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
        if (t.persistent && bytes > t.bytes) {
          persistent += bytes - t.bytes;
          t.bytes = bytes;
          p.largest_tensor = std::max(p.largest_tensor, bytes);
        }
        const bool wr = e.op == 'W';
        acc->push_back(Access{id, wr, bytes});
        ++t.accesses;
        (wr ? t.write_bytes : t.read_bytes) += bytes;
        p.access_bytes += bytes;
        if (w.last_use != iv) {
          w.last_use = iv;
          ++w.uses;
          use_log.push_back(id);
        }
        // Summed in access order, as the FLOPs always were.
        if (piece == 0 && !wr) param_read += static_cast<double>(bytes) / 4;
        if (piece == 0 && wr) writes_params = true;
        if (piece == 1 && wr) grad_write += static_cast<double>(bytes) / 4;
      }
    }
  };

  // Trace tensor index -> profile tensor index (kNone: not referenced yet).
  HugeVector<uint32_t>& mapped = slot;
  std::fill(mapped.begin(), mapped.end(), kNone);
  auto trace_tensor = [&](uint32_t tr) {
    uint32_t& id = mapped[tr];
    if (id == kNone) id = new_tensor(tr);
    return id;
  };
  // A piece named like a trace tensor is that tensor: the `params` pieces are the
  // parameters themselves, "grad:h0.w_qkv" is the gradient the backward pass wrote; the
  // others ("adam_m:...") are new. Only names with a piece prefix other than "param:" can
  // match a piece that is not a parameter. By (prefix, rest of the name): open addressing,
  // each slot pointing into an arena of the rests (the prefix index, then the rest), so a
  // lookup neither builds a piece's name nor chases the trace's strings. The lookups are
  // random accesses into a table of megabytes: hashed first, then prefetched ahead.
  struct Slot {
    uint32_t tag = 0, tensor = kNone;  // tag: the hash's high bits, compared first
    uint32_t at = 0, len = 0;          // the rest: arena[at + 1, at + 1 + len)
  };
  HugeVector<Slot> by_name;
  HugeVector<char> arena;
  size_t mask = 0;
  auto hash = [](size_t st, std::string_view rest) {
    return static_cast<uint64_t>(std::hash<std::string_view>{}(rest)) ^
           (0x9E3779B97F4A7C15ull * (st + 1));
  };
  constexpr size_t kAhead = 16;                     // lookups prefetched ahead
  bool in_trace[4] = {false, false, false, false};  // any trace tensor with the prefix
  if (split) {
    HugeVector<uint32_t> cands;
    size_t rest_chars = 0;
    for (uint32_t tr = 0; tr < NT; ++tr)
      if (const int st = kinds[tr].piece; st >= 1) {
        in_trace[st] = true;
        cands.push_back(tr);
        rest_chars += 1 + trace.tensors[tr].size() - kPiece[st].size();
      }
    if (rest_chars >= kNone) throw ConfigError(trace.name + ": tensor names too long to profile");
    HugeVector<uint64_t> hashes(cands.size());
    arena.reserve(rest_chars);
    for (size_t j = 0; j < cands.size(); ++j) {
      const int st = kinds[cands[j]].piece;
      const std::string_view rest =
          std::string_view(trace.tensors[cands[j]]).substr(kPiece[st].size());
      hashes[j] = hash(static_cast<size_t>(st), rest);
      arena.push_back(static_cast<char>(st));
      arena.insert(arena.end(), rest.begin(), rest.end());
    }
    size_t slots = 16;
    while (slots < 2 * cands.size()) slots *= 2;
    mask = slots - 1;
    by_name = HugeVector<Slot>(slots, Slot{});
    uint32_t at = 0;
    for (size_t j = 0; j < cands.size(); ++j) {
      if (j + kAhead < cands.size()) prefetch(&by_name[hashes[j + kAhead] & mask]);
      // Trace names are unique (parse_tensor_trace and the generator intern them).
      const uint64_t h = hashes[j];
      size_t i = h & mask;
      while (by_name[i].tensor != kNone) i = (i + 1) & mask;
      const auto len = static_cast<uint32_t>(trace.tensors[cands[j]].size() -
                                             kPiece[kinds[cands[j]].piece].size());
      by_name[i] = Slot{static_cast<uint32_t>(h >> 32), cands[j], at, len};
      at += 1 + len;
    }
  }
  // The trace tensor that is the piece of store st named `rest`, kNone if none.
  auto find_piece = [&](size_t st, std::string_view rest, uint64_t h) {
    const auto tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& sl = by_name[i];
      if (sl.tensor == kNone) return kNone;
      if (sl.tag == tag && sl.len == rest.size() && arena[sl.at] == static_cast<char>(st) &&
          std::equal(rest.begin(), rest.end(), arena.begin() + sl.at + 1))
        return sl.tensor;
    }
  };
  auto new_piece = [&](size_t st, size_t i) {
    return new_tensor(static_cast<uint32_t>(NT + st * (P + 1) + i));
  };
  // The pieces of store st, in parameter order (its first access creates them).
  auto make_pieces = [&](size_t st, HugeVector<uint32_t>& ps) {
    ps.reserve(P);
    if (st == 0) {
      for (size_t i = 0; i < P; ++i) ps.push_back(trace_tensor(params[i].trace_tensor));
      return;
    }
    if (!in_trace[st]) {
      for (size_t i = 0; i < P; ++i) ps.push_back(new_piece(st, i));
      return;
    }
    HugeVector<uint64_t> h(P);
    for (size_t i = 0; i < P; ++i) h[i] = hash(st, param_name(i));
    for (size_t i = 0; i < P; ++i) {
      // Two stages: the slot kAhead lookups on, the rest of the name kAhead / 2 on.
      if (i + kAhead < P) prefetch(&by_name[h[i + kAhead] & mask]);
      if (i + kAhead / 2 < P) {
        const Slot& sl = by_name[h[i + kAhead / 2] & mask];
        if (sl.tensor != kNone) prefetch(&arena[sl.at]);
      }
      const uint32_t tr = find_piece(st, param_name(i), h[i]);
      ps.push_back(tr != kNone ? trace_tensor(tr) : new_piece(st, i));
    }
  };
  // The remainder piece of store st ("rest").
  auto rest_piece = [&](size_t st) {
    if (in_trace[st]) {
      const uint32_t tr = find_piece(st, "rest", hash(st, "rest"));
      if (tr != kNone) return trace_tensor(tr);
    }
    return new_piece(st, P);
  };
  // A parameter named "rest" shares its piece with the remainder piece of each store.
  int64_t rest_param = -1;
  for (size_t i = 0; i < P; ++i)
    if (param_name(i) == "rest") rest_param = static_cast<int64_t>(i);
  HugeVector<uint32_t> pieces[4];  // per store: its pieces, in parameter order
  int64_t rest[4] = {-1, -1, -1, -1};
  for (k = 0; k < n; ++k) {
    const TraceEvent& e = trace.events[k];
    if (k == 0 || e.layer != trace.events[k - 1].layer) {
      close_interval();
      use_at.push_back(use_log.size());
      Interval& in = p.intervals.emplace_back();
      in.layer = e.layer;
      huge_reserve(in.accesses, accesses_of[p.intervals.size() - 1]);
      acc = &in.accesses;
      ++iv;
    }
    if (const int st = store(e); st >= 0) {
      HugeVector<uint32_t>& ps = pieces[st];
      if (ps.empty()) make_pieces(static_cast<size_t>(st), ps);
      int64_t left = e.bytes;
      for (size_t i = 0; i < P; ++i) {
        // The pieces are scattered over the tensors: fetched ahead.
        if (i + kAhead < P) {
          prefetch(&p.tensors[ps[i + kAhead]]);
          prefetch(&work[ps[i + kAhead]]);
        }
        const int64_t pb = params[i].bytes;
        if (pb > left)
          throw ConfigError(where(trace, e, k) + ": '" + trace.tensors[e.tensor] + "' has " +
                            std::to_string(e.bytes) + " bytes, fewer than its parameters");
        handle(e, ps[i], pb, st);
        left -= pb;
      }
      if (left > 0) {
        if (rest[st] < 0)
          rest[st] = rest_param >= 0 ? ps[static_cast<size_t>(rest_param)]
                                     : rest_piece(static_cast<size_t>(st));
        handle(e, static_cast<uint32_t>(rest[st]), left, st);
      }
      continue;
    }
    handle(e, trace_tensor(e.tensor), e.bytes, kinds[e.tensor].piece);
  }
  close_interval();
  use_at.push_back(use_log.size());
  for (size_t id = 0; id < p.tensors.size(); ++id)
    if (work[id].state == kLive) {
      const uint32_t first = work[id].first_event;
      throw ConfigError(where(trace, trace.events[first], first) + ": tensor '" +
                        name_of(static_cast<uint32_t>(id)) +
                        "' is allocated and never freed in the step (truncated trace?)");
    }
  p.events = static_cast<int64_t>(n);

  // Uses: counted while profiling, then the log filled in interval order (so ascending and
  // unique) into one array.
  const size_t T = p.tensors.size();
  size_t end = 0;  // each tensor's count becomes where its uses start
  for (size_t id = 0; id < T; ++id) {
    const uint32_t c = work[id].uses;
    work[id].uses = static_cast<uint32_t>(end);
    end += c;
  }
  auto uses = std::make_shared<std::vector<int>>();
  huge_reserve(*uses, end);
  uses->resize(end);
  int* const u = uses->data();
  for (size_t i = 0; i + 1 < use_at.size(); ++i)
    for (size_t j = use_at[i]; j < use_at[i + 1]; ++j)
      u[work[use_log[j]].uses++] = static_cast<int>(i);

  // Names: one arena in profile order. One pass over the tensors sets the names and the
  // uses (the tensors are tens of megabytes: each pass costs milliseconds); each tensor's
  // uses now end where the next one's start.
  auto names = std::make_shared<std::string>();
  names->reserve(huge_size(chars + 1) - 1);  // and the terminating 0
  huge_pages(names->data(), names->capacity());
  names->resize(chars);
  char* const base = names->data();
  size_t at = 0;
  auto put = [&](std::string_view s) {
    std::copy(s.begin(), s.end(), base + at);
    at += s.size();
  };
  for (uint32_t id = 0; id < T; ++id) {
    const size_t from = at;
    const uint32_t src = name_src[id];
    if (src < NT) {
      put(trace.tensors[src]);
    } else {
      put(kPiece[(src - NT) / (P + 1)]);
      put(piece_suffix((src - NT) % (P + 1)));
    }
    TensorInfo& t = p.tensors[id];
    t.name = std::string_view(base + from, at - from);
    t.uses = View<int>{u + (id == 0 ? 0 : work[id - 1].uses), u + work[id].uses};
  }
  p.peak_bytes = persistent + live_peak;
  p.name_storage = std::move(names);
  p.use_storage = std::move(uses);
  return p;
}

}  // namespace tessel::sentinel
