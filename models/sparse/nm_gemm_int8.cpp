// int8 N:M CPU GEMM: panel plans, weight layout, the blocked driver and the portable loops.
// The design is described in nm_gemm_int8.h; the vector kernels are in nm_gemm_x86.cpp.
#include "models/sparse/nm_gemm_int8.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "runtime/core/error.h"

namespace tessel::sparse {
namespace int8_kernel {
namespace {

// Limits that keep planning cheap: index choices enumerated per super group, and the size
// of a slot's tuple -> panel table.
constexpr int64_t kMaxCombos = 1 << 14;  // >= C(16,8): G = 1 always enumerates
constexpr int64_t kMaxKeys = 1 << 16;
constexpr int kMaxPanels = 4096;

// The C(M,N) ascending index sets of one group.
std::vector<std::vector<int>> subsets(int m, int n) {
  std::vector<std::vector<int>> out;
  for (uint32_t mask = 0; mask < (1u << m); ++mask) {
    if (__builtin_popcount(mask) != n) continue;
    std::vector<int> s;
    for (int i = 0; i < m; ++i)
      if (mask & (1u << i)) s.push_back(i);
    out.push_back(std::move(s));
  }
  return out;
}

// Slot j's positions out of a super group's sorted kept positions, padded by repeating the
// last real one, and its lookup key.
int64_t slot_key(const int* pos, int kept, int j, int slot, int sg_rows, int* tuple) {
  int64_t key = 0, scale = 1;
  for (int q = 0; q < slot; ++q) {
    tuple[q] = pos[std::min(j * slot + q, kept - 1)];
    key += tuple[q] * scale;
    scale *= sg_rows;
  }
  return key;
}

// Cost of covering `groups` groups per row for `rows` rows with a plan, in units of one
// row's multiply-accumulates for one lane over one token block (4 vector instructions).
// Rows re-read and re-write their accumulators once per chunk (2 units per `ne` lanes);
// building a panel costs about two units (4 unpacks and 4 stores).
double plan_cost(const PanelPlan& plan, int64_t rows, int64_t groups, int64_t budget,
                 int64_t token_block) {
  const int64_t bytes = int64_t{plan.panels} * 4 * token_block;
  const int64_t sg_count = (groups + plan.group_span - 1) / plan.group_span;
  const int64_t per_chunk = std::max<int64_t>(1, std::min(budget / bytes, sg_count));
  const double ne = static_cast<double>(per_chunk * plan.slots);
  const double per_sg = static_cast<double>(rows) * plan.slots * (1.0 + 2.0 / ne) +
                        2.0 * static_cast<double>(plan.panels);
  return static_cast<double>(sg_count) * per_sg;
}

std::shared_ptr<const PanelPlan> cached_plan(const Pattern& p, LaneFormat f, int g, int slot) {
  static std::mutex mu;
  static std::map<std::tuple<int, int, int, int, int>, std::shared_ptr<const PanelPlan>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto key = std::make_tuple(p.n, p.m, static_cast<int>(f), g, slot);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  auto plan = std::make_shared<PanelPlan>();
  if (!make_plan(p, f, g, slot, *plan)) plan.reset();
  cache[key] = plan;
  return plan;
}

std::shared_ptr<const PanelPlan> best_plan(const Pattern& p, LaneFormat f, int64_t rows,
                                           int64_t groups, int64_t budget, int64_t token_block) {
  std::shared_ptr<const PanelPlan> best;
  double best_cost = 0;
  for (int g = 1; g <= 4; ++g)
    for (int slot = 1; slot <= lane_capacity(f); ++slot) {
      auto plan = cached_plan(p, f, g, slot);
      if (!plan || int64_t{plan->panels} * 4 * token_block > budget) continue;
      const double c = plan_cost(*plan, rows, groups, budget, token_block);
      if (!best || c < best_cost) {
        best = plan;
        best_cost = c;
      }
    }
  // G = 1, slot = 1 always enumerates and fits (M <= 16 panels of 4 * token_block bytes).
  if (!best) throw Error("nm_gemm: no panel plan for pattern " + p.str(), kExitFailure);
  return best;
}

// Bytes of panels per chunk. Measured on Zen 5 (48 KiB L1d, 1 MiB L2) at 1024^3 with 32-token
// blocks on every level: 64 KiB is as fast as an L1-sized 36 KiB for 2:4 and 2:8 and
// 10-20 % faster for 1:4 and 4:8 (larger chunks mean fewer accumulator round trips; the
// panels a chunk holds beyond L1 come from L2 at the rate the loop needs); 16 KiB is 20-40 %
// slower. So: 64 KiB, but at most 1/16 of L2 and at least 3/4 of L1. sysconf reports 0 or
// -1 where the C library does not know.
int64_t panel_budget() {
  static const int64_t budget = [] {
    const long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    int64_t b = 64 * 1024;
    if (l2 > 0) b = std::min<int64_t>(b, l2 / 16);
    if (l1 > 0) b = std::max<int64_t>(b, int64_t{l1} * 3 / 4);
    return b;
  }();
  return budget;
}

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<uint8_t[], AlignedFree>;
AlignedBuffer aligned_buffer(int64_t bytes) {
  const size_t size = static_cast<size_t>((std::max<int64_t>(bytes, 1) + 63) / 64 * 64);
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(64, size));
  if (!p) throw std::bad_alloc();
  return AlignedBuffer(p);
}

}  // namespace

int lane_capacity(LaneFormat f) {
  return f == LaneFormat::kQuadU8 ? 4 : 2;
}

bool make_plan(const Pattern& p, LaneFormat format, int group_span, int slot, PanelPlan& out) {
  const int cap = lane_capacity(format);
  if (slot < 1 || slot > cap || group_span < 1) return false;
  const int sg_rows = group_span * p.m;
  if (sg_rows > kMaxSuperGroupRows) return false;
  const auto subs = subsets(p.m, p.n);
  int64_t combos = 1, keys = 1;
  for (int g = 0; g < group_span; ++g)
    if ((combos *= static_cast<int64_t>(subs.size())) > kMaxCombos) return false;
  for (int q = 0; q < slot; ++q)
    if ((keys *= sg_rows) > kMaxKeys) return false;

  PanelPlan plan;
  plan.format = format;
  plan.group_span = group_span;
  plan.sg_rows = sg_rows;
  plan.slot = slot;
  const int kept = group_span * p.n;
  plan.slots = (kept + slot - 1) / slot;
  plan.key_count = keys;
  plan.lookup.assign(static_cast<size_t>(plan.slots * keys), -1);
  std::vector<int> pos(static_cast<size_t>(kept));
  int tuple[4];
  for (int64_t c = 0; c < combos; ++c) {
    int64_t rest = c;
    for (int g = 0; g < group_span; ++g) {
      const auto& s = subs[static_cast<size_t>(rest % static_cast<int64_t>(subs.size()))];
      rest /= static_cast<int64_t>(subs.size());
      for (int q = 0; q < p.n; ++q) pos[static_cast<size_t>(g * p.n + q)] = g * p.m + s[q];
    }
    for (int j = 0; j < plan.slots; ++j) {
      const int64_t key = slot_key(pos.data(), kept, j, slot, sg_rows, tuple);
      int32_t& id = plan.lookup[static_cast<size_t>(j * keys + key)];
      if (id >= 0) continue;
      id = static_cast<int32_t>(plan.tuples.size());
      std::array<uint8_t, 4> t{};
      for (int q = 0; q < 4; ++q) t[q] = static_cast<uint8_t>(tuple[std::min(q, slot - 1)]);
      plan.tuples.push_back(t);
    }
  }
  plan.panels = static_cast<int>(plan.tuples.size());
  if (plan.panels > kMaxPanels) return false;
  if (format == LaneFormat::kQuadU8) {
    std::vector<int> pair_id(static_cast<size_t>(sg_rows * sg_rows), -1);
    auto pair = [&](uint8_t a, uint8_t b) {
      int& id = pair_id[static_cast<size_t>(a * sg_rows + b)];
      if (id < 0) {
        id = static_cast<int>(plan.pairs.size());
        plan.pairs.push_back({a, b});
      }
      return static_cast<uint16_t>(id);
    };
    for (const auto& t : plan.tuples) plan.halves.push_back({pair(t[0], t[1]), pair(t[2], t[3])});
  }
  out = std::move(plan);
  return true;
}

std::string PanelPlan::describe() const {
  return std::string(format == LaneFormat::kQuadU8 ? "u8 quads" : "int16 pairs") + ", " +
         std::to_string(group_span) + " group(s) per super group, " + std::to_string(slot) +
         " kept per lane, " + std::to_string(slots) + " lane(s) per row and super group, " +
         std::to_string(panels) + " panels per super group";
}

int64_t scratch_bytes(const PanelPlan& plan) {
  // Rows (up to two ymm each) and the byte pairs (up to two zmm each).
  return 64 * int64_t{plan.sg_rows} + 128 * static_cast<int64_t>(plan.pairs.size());
}

}  // namespace int8_kernel

using int8_kernel::Entry;
using int8_kernel::LaneFormat;

namespace {

// Portable level: the kept weights of each row paired up and applied to int16 rows of X
// (two multiply-adds per pair and token; an odd count is padded with a zero weight).
struct PairList {
  std::vector<int32_t> k0, k1, w0, w1;
  std::vector<int64_t> row_start;
};

PairList make_pairs(const CompressedMatrix<int8_t>& w, const std::vector<uint8_t>& idx) {
  PairList p;
  const int64_t kept = w.kept_per_row();
  for (int64_t r = 0; r < w.rows; ++r) {
    p.row_start.push_back(static_cast<int64_t>(p.k0.size()));
    for (int64_t j = 0; j < kept; j += 2) {
      auto col = [&](int64_t jj) {
        return static_cast<int32_t>((jj / w.pattern.n) * w.pattern.m +
                                    idx[static_cast<size_t>(r * kept + jj)]);
      };
      const bool two = j + 1 < kept;
      p.k0.push_back(col(j));
      p.k1.push_back(two ? col(j + 1) : col(j));
      p.w0.push_back(w.values(r, j));
      p.w1.push_back(two ? w.values(r, j + 1) : 0);
    }
  }
  p.row_start.push_back(static_cast<int64_t>(p.k0.size()));
  return p;
}

}  // namespace

struct NmGemmInt8Cpu::Impl {
  CpuIsa isa = CpuIsa::kPortable;
  Pattern pattern;
  int64_t rows = 0, k = 0;
  // Panel levels.
  const int8_kernel::PanelKernel* kernel = nullptr;
  std::shared_ptr<const int8_kernel::PanelPlan> plan;
  int64_t sg_count = 0, sg_per_chunk = 0, entries_per_row = 0;
  std::vector<Entry> entries;  // rows x entries_per_row
  std::vector<int32_t> init;   // per row: accumulator start
  // Portable level.
  PairList pairs;

  void prepare_panels(const CompressedMatrix<int8_t>& w);
  MatrixI32 run_panels(const MatrixI8& x) const;
  MatrixI32 run_portable(const MatrixI8& x) const;
};

namespace {

// Indices [first, first + count) of a packed little-endian stream of `bits`-bit entries
// (compressed.h), read through a bit buffer refilled a byte at a time:
// CompressedMatrix::unpacked_indices() goes bit by bit, which costs as much as the product.
void decode_indices(const std::vector<uint8_t>& packed, int bits, int64_t first, int64_t count,
                    uint8_t* out) {
  if (count <= 0) return;
  const uint32_t mask = (1u << bits) - 1;
  const int64_t bit = first * bits;
  const uint8_t* src = packed.data() + bit / 8;
  uint32_t buf = *src++ >> (bit % 8);
  int have = 8 - static_cast<int>(bit % 8);
  for (int64_t i = 0; i < count; ++i) {
    if (have < bits) {  // bits <= 4, so one byte always suffices
      buf |= static_cast<uint32_t>(*src++) << have;
      have += 8;
    }
    out[i] = static_cast<uint8_t>(buf & mask);
    buf >>= bits;
    have -= bits;
  }
}

}  // namespace

void NmGemmInt8Cpu::Impl::prepare_panels(const CompressedMatrix<int8_t>& w) {
  const int64_t groups = w.groups_per_row(), budget = int8_kernel::panel_budget();
  plan = int8_kernel::best_plan(w.pattern, kernel->format, w.rows, groups, budget,
                                kernel->token_block);
  const auto& pl = *plan;
  const int n = w.pattern.n, m = w.pattern.m, kept = pl.group_span * n;
  const int64_t panel_bytes = 4 * kernel->token_block;
  sg_count = (groups + pl.group_span - 1) / pl.group_span;
  sg_per_chunk = std::max<int64_t>(
      1, std::min(budget / (int64_t{pl.panels} * panel_bytes), std::max<int64_t>(sg_count, 1)));
  entries_per_row = sg_count * pl.slots;
  entries.resize(static_cast<size_t>(w.rows * entries_per_row));
  init.assign(static_cast<size_t>(w.rows), 0);
  const int64_t kept_row = w.kept_per_row();
  // One row's indices and values, padded with the virtual groups past K (positions 0..N-1
  // of their group, weight 0, on zero rows of X).
  const int64_t padded = sg_count * kept;
  std::vector<uint8_t> idx(static_cast<size_t>(padded));
  std::vector<int32_t> val(static_cast<size_t>(padded), 0);
  for (int64_t j = kept_row; j < padded; ++j) idx[static_cast<size_t>(j)] = j % n;
  std::vector<int> group_base(static_cast<size_t>(kept));
  for (int e = 0; e < kept; ++e) group_base[static_cast<size_t>(e)] = (e / n) * m;
  int64_t scale[4] = {1, pl.sg_rows, pl.sg_rows * pl.sg_rows, pl.sg_rows * pl.sg_rows * pl.sg_rows};
  const bool quad = pl.format == LaneFormat::kQuadU8;
  for (int64_t r = 0; r < w.rows; ++r) {
    decode_indices(w.packed_indices, w.pattern.index_bits(), r * kept_row, kept_row, idx.data());
    int64_t sum = 0;
    const int8_t* vr = w.values.data() + r * kept_row;
    for (int64_t j = 0; j < kept_row; ++j) sum += val[static_cast<size_t>(j)] = vr[j];
    Entry* out = entries.data() + r * entries_per_row;
    for (int64_t sg = 0; sg < sg_count; ++sg) {
      const uint8_t* is = idx.data() + sg * kept;
      const int32_t* vs = val.data() + sg * kept;
      const int64_t chunk_base = (sg % sg_per_chunk) * pl.panels;
      for (int j = 0; j < pl.slots; ++j) {
        // The key of slot_key(), on the row's positions (padding repeats the last one).
        int64_t key = 0;
        for (int q = 0; q < pl.slot; ++q) {
          const int e = std::min(j * pl.slot + q, kept - 1);
          key += (group_base[static_cast<size_t>(e)] + is[e]) * scale[q];
        }
        const int32_t id = pl.lookup[static_cast<size_t>(j * pl.key_count + key)];
        if (id < 0) throw Error("nm_gemm: panel plan misses a tuple (bug)", kExitFailure);
        uint32_t packed = 0;
        for (int q = 0, e = j * pl.slot; q < pl.slot && e < kept; ++q, ++e)
          packed |= quad ? (static_cast<uint32_t>(vs[e]) & 0xFFu) << (8 * q)
                         : (static_cast<uint32_t>(vs[e]) & 0xFFFFu) << (16 * q);
        out->offset = static_cast<uint32_t>((chunk_base + id) * panel_bytes);
        out->weights = static_cast<int32_t>(packed);
        ++out;
      }
    }
    // u8 activations are x + 128: start each row at -128 * sum(w) to cancel the offset.
    init[static_cast<size_t>(r)] = quad ? static_cast<int32_t>(-128 * sum) : 0;
  }
}

MatrixI32 NmGemmInt8Cpu::Impl::run_panels(const MatrixI8& x) const {
  const auto& pl = *plan;
  const int64_t t_count = x.cols();
  MatrixI32 y(rows, t_count);

  const int64_t tb = kernel->token_block;
  const int64_t panel_bytes = 4 * tb, sg_bytes = pl.panels * panel_bytes;
  auto panels = int8_kernel::aligned_buffer(sg_per_chunk * sg_bytes);
  auto scratch = int8_kernel::aligned_buffer(int8_kernel::scratch_bytes(pl));
  auto acc_buf = int8_kernel::aligned_buffer(rows * tb * 4);
  int32_t* acc = reinterpret_cast<int32_t*>(acc_buf.get());
  // The last, partial token block reads a zero-padded copy of X and leaves its results in
  // acc; rows past K read zeros.
  std::vector<int8_t> zero(static_cast<size_t>(tb), 0);
  std::vector<int8_t> tail;
  std::vector<const int8_t*> x_rows(static_cast<size_t>(pl.sg_rows));

  for (int64_t t0 = 0; t0 < t_count; t0 += tb) {
    const bool partial = t0 + tb > t_count;
    const int8_t* base = x.data() + t0;
    int64_t stride = t_count;
    if (partial) {
      tail.assign(static_cast<size_t>(k * tb), 0);
      for (int64_t kk = 0; kk < k; ++kk)
        std::memcpy(&tail[static_cast<size_t>(kk * tb)], x.data() + kk * t_count + t0,
                    static_cast<size_t>(t_count - t0));
      base = tail.data();
      stride = tb;
    }
    for (int64_t c0 = 0; c0 < sg_count; c0 += sg_per_chunk) {
      const int64_t c1 = std::min(c0 + sg_per_chunk, sg_count);
      for (int64_t sg = c0; sg < c1; ++sg) {
        for (int i = 0; i < pl.sg_rows; ++i) {
          const int64_t kk = sg * pl.sg_rows + i;
          x_rows[static_cast<size_t>(i)] = kk < k ? base + kk * stride : zero.data();
        }
        kernel->build(pl, x_rows.data(), panels.get() + (sg - c0) * sg_bytes, scratch.get());
      }
      int8_kernel::RowsArgs a;
      a.entries = entries.data() + c0 * pl.slots;
      a.entry_stride = entries_per_row;
      a.count = (c1 - c0) * pl.slots;
      a.panels = panels.get();
      a.rows = rows;
      a.init = c0 == 0 ? init.data() : nullptr;
      a.acc = acc;
      a.y = c1 == sg_count && !partial ? y.data() + t0 : nullptr;
      a.y_stride = t_count;
      kernel->rows(a);
    }
    if (partial)
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(y.data() + r * t_count + t0, acc + r * tb,
                    sizeof(int32_t) * static_cast<size_t>(t_count - t0));
  }
  return y;
}

MatrixI32 NmGemmInt8Cpu::Impl::run_portable(const MatrixI8& x) const {
  const int64_t t_count = x.cols();
  std::vector<int16_t> x16(static_cast<size_t>(x.size()));
  for (int64_t i = 0; i < x.size(); ++i) x16[static_cast<size_t>(i)] = x.data()[i];
  MatrixI32 y = MatrixI32::Zero(rows, t_count);
  for (int64_t r = 0; r < rows; ++r) {
    int32_t* yr = y.data() + r * t_count;
    for (int64_t q = pairs.row_start[static_cast<size_t>(r)];
         q < pairs.row_start[static_cast<size_t>(r + 1)]; ++q) {
      const size_t s = static_cast<size_t>(q);
      const int32_t w0 = pairs.w0[s], w1 = pairs.w1[s];
      const int16_t* a = x16.data() + int64_t{pairs.k0[s]} * t_count;
      const int16_t* b = x16.data() + int64_t{pairs.k1[s]} * t_count;
      for (int64_t t = 0; t < t_count; ++t) yr[t] += w0 * a[t] + w1 * b[t];
    }
  }
  return y;
}

NmGemmInt8Cpu::NmGemmInt8Cpu(const CompressedMatrix<int8_t>& w, CpuIsa isa)
    : impl_(std::make_unique<Impl>()) {
  if (!cpu_supports(isa))
    throw Error(std::string("nm_gemm: this CPU (or build) cannot run the ") + cpu_isa_name(isa) +
                    " int8 kernel",
                kExitFailure);
  Impl& im = *impl_;
  im.isa = isa;
  im.pattern = w.pattern;
  im.rows = w.rows;
  im.k = w.cols;
  im.kernel = int8_kernel::panel_kernel(isa);
  if (im.kernel)
    im.prepare_panels(w);
  else
    im.pairs = make_pairs(w, w.unpacked_indices());
}

NmGemmInt8Cpu::~NmGemmInt8Cpu() = default;
NmGemmInt8Cpu::NmGemmInt8Cpu(NmGemmInt8Cpu&&) noexcept = default;
NmGemmInt8Cpu& NmGemmInt8Cpu::operator=(NmGemmInt8Cpu&&) noexcept = default;

MatrixI32 NmGemmInt8Cpu::operator()(const MatrixI8& x) const {
  const Impl& im = *impl_;
  if (x.rows() != im.k)
    throw ConfigError("nm_gemm: W is " + std::to_string(im.rows) + "x" + std::to_string(im.k) +
                      " but X has " + std::to_string(x.rows()) +
                      " rows (expected K=" + std::to_string(im.k) + ")");
  if (im.rows == 0 || x.cols() == 0 || im.k == 0) return MatrixI32::Zero(im.rows, x.cols());
  return im.kernel ? im.run_panels(x) : im.run_portable(x);
}

CpuIsa NmGemmInt8Cpu::isa() const {
  return impl_->isa;
}

std::string NmGemmInt8Cpu::describe() const {
  const Impl& im = *impl_;
  std::string s = std::string(cpu_isa_name(im.isa)) + " " + im.pattern.str() + ": ";
  if (!im.kernel) return s + "portable pair loops";
  return s + im.plan->describe() + ", " + std::to_string(im.sg_per_chunk) +
         " super groups per chunk";
}

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kPortable:
      return "portable";
    case CpuIsa::kAvx2:
      return "avx2";
    case CpuIsa::kAvxVnni:
      return "avx_vnni";
    case CpuIsa::kAvx512Vnni:
      return "avx512_vnni";
  }
  return "?";
}

bool cpu_supports(CpuIsa isa) {
  return int8_kernel::x86_supports(isa);
}

CpuIsa cpu_best_isa() {
  static const CpuIsa best = [] {
    for (CpuIsa isa : {CpuIsa::kAvx512Vnni, CpuIsa::kAvxVnni, CpuIsa::kAvx2})
      if (cpu_supports(isa)) return isa;
    return CpuIsa::kPortable;
  }();
  return best;
}

MatrixI32 nm_gemm_cpu(const CompressedMatrix<int8_t>& w, const MatrixI8& x, CpuIsa isa) {
  return NmGemmInt8Cpu(w, isa)(x);
}

}  // namespace tessel::sparse
