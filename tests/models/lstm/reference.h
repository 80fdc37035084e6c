// Independent test references: a double-precision scalar LSTM and a spec-level integer cell.
// Written without calling the code under test (only its ROM tables, which fixed_test.cpp
// checks against exact sigmoid/tanh values).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "models/common/fixed.h"
#include "models/lstm/lstm.h"

namespace tessel::lstm::ref {

// x[t][b][f]; returns y[t][b][dirs*H] and fills hn/cn[layer*dirs+dir][b][j].
using Seq3 = std::vector<std::vector<std::vector<double>>>;

inline Seq3 to_seq3(const Sequence& x) {
  Seq3 out(x.size());
  for (std::size_t t = 0; t < x.size(); ++t) {
    out[t].resize(static_cast<std::size_t>(x[t].cols()));
    for (Eigen::Index b = 0; b < x[t].cols(); ++b)
      for (Eigen::Index f = 0; f < x[t].rows(); ++f) out[t][b].push_back(x[t](f, b));
  }
  return out;
}

inline Seq3 scalar_lstm(const LstmWeights& w, const Seq3& x, const Seq3* h0, const Seq3* c0,
                        Seq3& hn, Seq3& cn) {
  const int hid = w.shape.hidden_size, dirs = w.shape.directions();
  const std::size_t steps = x.size(), batch = x.empty() ? 0 : x[0].size();
  Seq3 in = x;
  hn.assign(w.shape.num_layers * dirs, {});
  cn.assign(w.shape.num_layers * dirs, {});
  for (int l = 0; l < w.shape.num_layers; ++l) {
    Seq3 out(steps, std::vector<std::vector<double>>(batch, std::vector<double>(dirs * hid)));
    for (int d = 0; d < dirs; ++d) {
      const LayerParams& p = w.at(l, d);
      const int k = l * dirs + d;
      for (std::size_t b = 0; b < batch; ++b) {
        std::vector<double> h(hid, 0.0), c(hid, 0.0);
        if (h0) h = (*h0)[k][b];
        if (c0) c = (*c0)[k][b];
        for (std::size_t s = 0; s < steps; ++s) {
          const std::size_t t = d ? steps - 1 - s : s;
          std::vector<double> gate(4 * hid);
          for (int r = 0; r < 4 * hid; ++r) {
            double z = double(p.b_ih(r)) + double(p.b_hh(r));
            for (std::size_t f = 0; f < in[t][b].size(); ++f)
              z += double(p.w_ih(r, f)) * in[t][b][f];
            for (int j = 0; j < hid; ++j) z += double(p.w_hh(r, j)) * h[j];
            gate[r] = (r >= 2 * hid && r < 3 * hid) ? std::tanh(z) : 1.0 / (1.0 + std::exp(-z));
          }
          for (int j = 0; j < hid; ++j) {
            c[j] = gate[hid + j] * c[j] + gate[j] * gate[2 * hid + j];
            h[j] = gate[3 * hid + j] * std::tanh(c[j]);
            out[t][b][d * hid + j] = h[j];
          }
        }
        hn[k].push_back(h);
        cn[k].push_back(c);
      }
    }
    in = std::move(out);
  }
  return in;
}

// ---- Integer cell straight from the written specification (docs/lstm_kernels.md). ----

// floor(a / 2^s + 1/2) computed with integer division and an explicit remainder test.
inline int64_t div_round_half_up(int64_t a, int s) {
  const int64_t d = int64_t{1} << s;
  int64_t q = a / d, r = a % d;
  if (r < 0) q -= 1, r += d;  // now a = q*d + r with 0 <= r < d
  return 2 * r >= d ? q + 1 : q;
}
inline int16_t clamp16(int64_t v) {
  return static_cast<int16_t>(std::clamp<int64_t>(v, -32768, 32767));
}

inline int16_t act(const std::array<int16_t, fixed::kRomEntries>& rom, int seg_bits, int16_t z,
                   bool odd) {
  const int64_t a = std::abs(int64_t{z});
  const int64_t seg = a / (int64_t{1} << seg_bits);
  int64_t y;
  if (seg >= 256) {
    y = rom[256];
  } else {
    const int64_t frac = a - seg * (int64_t{1} << seg_bits);
    y = rom[seg] + div_round_half_up((rom[seg + 1] - rom[seg]) * frac, seg_bits);
  }
  if (z >= 0) return static_cast<int16_t>(y);
  return static_cast<int16_t>(odd ? -y : 32768 - y);
}
inline int16_t sigm(int16_t z) {
  return act(fixed::kSigmoidRom, 7, z, false);
}
inline int16_t tanh_q(int16_t z) {
  return act(fixed::kTanhRom, 6, z, true);
}

struct CellOut {
  std::vector<int64_t> acc;
  std::vector<int16_t> z, gate, c, h;
};

// w_ih [4H x I] and w_hh [4H x H] row-major Q2.13, bias Q4.11, x/h Q2.13, c Q4.11.
inline CellOut int_cell(const std::vector<int16_t>& w_ih, const std::vector<int16_t>& w_hh,
                        const std::vector<int16_t>& bias, const std::vector<int16_t>& x,
                        const std::vector<int16_t>& h, const std::vector<int16_t>& c) {
  const std::size_t hid = h.size(), in = x.size();
  CellOut o;
  for (std::size_t r = 0; r < 4 * hid; ++r) {
    int64_t acc = 0;
    for (std::size_t k = 0; k < in; ++k) acc += int64_t{w_ih[r * in + k]} * x[k];
    for (std::size_t k = 0; k < hid; ++k) acc += int64_t{w_hh[r * hid + k]} * h[k];
    o.acc.push_back(acc);
    // bias Q4.11 -> 26 fraction bits is a multiply by 2^15; result back to 11 bits.
    const int16_t z = clamp16(div_round_half_up(acc + int64_t{bias[r]} * 32768, 15));
    o.z.push_back(z);
    o.gate.push_back(r / hid == 2 ? tanh_q(z) : sigm(z));
  }
  for (std::size_t j = 0; j < hid; ++j) {
    const int64_t i = o.gate[j], f = o.gate[hid + j], g = o.gate[2 * hid + j],
                  og = o.gate[3 * hid + j];
    // f*c has 15+11 = 26 fraction bits, i*g has 30: scale f*c by 16, round 30 -> 11.
    const int16_t cn = clamp16(div_round_half_up(f * c[j] * 16 + i * g, 19));
    o.c.push_back(cn);
    o.h.push_back(clamp16(div_round_half_up(og * tanh_q(cn), 17)));
  }
  return o;
}

}  // namespace tessel::lstm::ref
