// Layer kernels on Eigen: linear, LayerNorm, GELU, causal attention, softmax cross-entropy.
#include "models/nn/layers.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tessel::nn {
namespace {

template <typename T>
using Strided = Eigen::Map<Matrix<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using ConstStrided = Eigen::Map<const Matrix<T>, 0, Eigen::OuterStride<>>;

constexpr double kLayerNormEps = 1e-5;

}  // namespace

template <typename T>
void linear_forward(const Matrix<T>& x, const ConstMatMap<T>& w, const T* b, Matrix<T>& y) {
  y.resize(x.rows(), w.cols());
  y.noalias() = x * w;
  if (b) y.rowwise() += ConstVecMap<T>(b, w.cols());
}

template <typename T>
void linear_backward(const Matrix<T>& dy, const Matrix<T>& x, const ConstMatMap<T>& w,
                     Matrix<T>* dx, MatMap<T> dw, T* db) {
  if (dx) {
    dx->resize(dy.rows(), w.rows());
    dx->noalias() = dy * w.transpose();
  }
  dw.noalias() += x.transpose() * dy;
  if (db) VecMap<T>(db, dy.cols()) += dy.colwise().sum();
}

template <typename T>
void layernorm_forward(const Matrix<T>& x, const T* g, const T* b, Matrix<T>& y,
                       std::vector<T>& mean, std::vector<T>& rstd) {
  const Eigen::Index n = x.rows(), c = x.cols();
  y.resize(n, c);
  mean.resize(static_cast<std::size_t>(n));
  rstd.resize(static_cast<std::size_t>(n));
  ConstVecMap<T> gv(g, c), bv(b, c);
#pragma omp parallel for if (n * c > 32768)
  for (Eigen::Index r = 0; r < n; ++r) {
    const T m = x.row(r).mean();
    const T var = (x.row(r).array() - m).square().mean();
    const T s = T(1) / std::sqrt(var + T(kLayerNormEps));
    mean[static_cast<std::size_t>(r)] = m;
    rstd[static_cast<std::size_t>(r)] = s;
    y.row(r) = ((x.row(r).array() - m) * s * gv.array() + bv.array()).matrix();
  }
}

template <typename T>
void layernorm_backward(const Matrix<T>& dy, const Matrix<T>& x, const T* g,
                        const std::vector<T>& mean, const std::vector<T>& rstd, Matrix<T>& dx,
                        T* dg, T* db) {
  const Eigen::Index n = x.rows(), c = x.cols();
  dx.resize(n, c);
  ConstVecMap<T> gv(g, c);
  // xhat = (x - mean) rstd; dxhat = dy ⊙ g;
  // dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat ⊙ xhat)).
  Matrix<T> xhat(n, c);
#pragma omp parallel for if (n * c > 32768)
  for (Eigen::Index r = 0; r < n; ++r) {
    const auto ri = static_cast<std::size_t>(r);
    xhat.row(r) = ((x.row(r).array() - mean[ri]) * rstd[ri]).matrix();
    const RowVec<T> dxhat = (dy.row(r).array() * gv.array()).matrix();
    const T a = dxhat.mean();
    const T bterm = (dxhat.array() * xhat.row(r).array()).mean();
    dx.row(r) = ((dxhat.array() - a - xhat.row(r).array() * bterm) * rstd[ri]).matrix();
  }
  VecMap<T>(dg, c) += (dy.array() * xhat.array()).colwise().sum().matrix();
  VecMap<T>(db, c) += dy.colwise().sum();
}

namespace {
template <typename T>
constexpr T kGeluC = T(0.7978845608028654);  // sqrt(2 / pi)
}

// Rows are processed in blocks of kGeluRows through Eigen array expressions, whose tanh
// is vectorised for float (a scalar std::tanh per element cost a third of a step).
constexpr Eigen::Index kGeluRows = 64;

template <typename T>
void gelu_forward(const Matrix<T>& x, Matrix<T>& y) {
  y.resize(x.rows(), x.cols());
  const Eigen::Index n = x.rows();
#pragma omp parallel for if (x.size() > 65536)
  for (Eigen::Index r0 = 0; r0 < n; r0 += kGeluRows) {
    const Eigen::Index rows = std::min(kGeluRows, n - r0);
    const auto v = x.middleRows(r0, rows).array();
    y.middleRows(r0, rows).array() =
        T(0.5) * v * (T(1) + (kGeluC<T> * (v + T(0.044715) * v.cube())).tanh());
  }
}

template <typename T>
void gelu_backward(const Matrix<T>& dy, const Matrix<T>& x, Matrix<T>& dx) {
  dx.resize(x.rows(), x.cols());
  const Eigen::Index n = x.rows();
#pragma omp parallel for if (x.size() > 65536)
  for (Eigen::Index r0 = 0; r0 < n; r0 += kGeluRows) {
    const Eigen::Index rows = std::min(kGeluRows, n - r0);
    const auto v = x.middleRows(r0, rows).array();
    const Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> th =
        (kGeluC<T> * (v + T(0.044715) * v.cube())).tanh();
    dx.middleRows(r0, rows).array() =
        dy.middleRows(r0, rows).array() *
        (T(0.5) * (T(1) + th) +
         T(0.5) * v * (T(1) - th.square()) * kGeluC<T> * (T(1) + T(3 * 0.044715) * v.square()));
  }
}

template <typename T>
void attention_forward(const Matrix<T>& qkv, int batch, int seq, int heads, Matrix<T>& out,
                       Matrix<T>& att) {
  const int c3 = static_cast<int>(qkv.cols());
  const int c = c3 / 3;
  const int hd = c / heads;
  const T scale = T(1) / std::sqrt(T(hd));
  out.resize(static_cast<Eigen::Index>(batch) * seq, c);
  att.setZero(static_cast<Eigen::Index>(batch) * heads, static_cast<Eigen::Index>(seq) * seq);
// Tiny problems (gradient checks) stay on one thread: waking a team costs more than them.
#pragma omp parallel for collapse(2) schedule(static) if (batch * heads * seq * seq > 16384)
  for (int b = 0; b < batch; ++b) {
    for (int h = 0; h < heads; ++h) {
      const T* base = qkv.data() + static_cast<std::ptrdiff_t>(b) * seq * c3 + h * hd;
      ConstStrided<T> q(base, seq, hd, Eigen::OuterStride<>(c3));
      ConstStrided<T> k(base + c, seq, hd, Eigen::OuterStride<>(c3));
      ConstStrided<T> v(base + 2 * c, seq, hd, Eigen::OuterStride<>(c3));
      MatMap<T> p(att.row(static_cast<Eigen::Index>(b) * heads + h).data(), seq, seq);
      Matrix<T> s = (q * k.transpose()) * scale;
      for (int t = 0; t < seq; ++t) {
        // Causal: position t attends to 0..t only; the rest of the row stays zero.
        const T mx = s.row(t).head(t + 1).maxCoeff();
        T sum = 0;
        for (int j = 0; j <= t; ++j) {
          const T e = std::exp(s(t, j) - mx);
          p(t, j) = e;
          sum += e;
        }
        p.row(t).head(t + 1) /= sum;
      }
      Strided<T> o(out.data() + static_cast<std::ptrdiff_t>(b) * seq * c + h * hd, seq, hd,
                   Eigen::OuterStride<>(c));
      o.noalias() = p * v;
    }
  }
}

template <typename T>
void attention_backward(const Matrix<T>& dout, const Matrix<T>& qkv, const Matrix<T>& att,
                        int batch, int seq, int heads, Matrix<T>& dqkv) {
  const int c3 = static_cast<int>(qkv.cols());
  const int c = c3 / 3;
  const int hd = c / heads;
  const T scale = T(1) / std::sqrt(T(hd));
  dqkv.resize(qkv.rows(), qkv.cols());
// Tiny problems (gradient checks) stay on one thread: waking a team costs more than them.
#pragma omp parallel for collapse(2) schedule(static) if (batch * heads * seq * seq > 16384)
  for (int b = 0; b < batch; ++b) {
    for (int h = 0; h < heads; ++h) {
      const std::ptrdiff_t off = static_cast<std::ptrdiff_t>(b) * seq * c3 + h * hd;
      ConstStrided<T> q(qkv.data() + off, seq, hd, Eigen::OuterStride<>(c3));
      ConstStrided<T> k(qkv.data() + off + c, seq, hd, Eigen::OuterStride<>(c3));
      ConstStrided<T> v(qkv.data() + off + 2 * c, seq, hd, Eigen::OuterStride<>(c3));
      Strided<T> dq(dqkv.data() + off, seq, hd, Eigen::OuterStride<>(c3));
      Strided<T> dk(dqkv.data() + off + c, seq, hd, Eigen::OuterStride<>(c3));
      Strided<T> dv(dqkv.data() + off + 2 * c, seq, hd, Eigen::OuterStride<>(c3));
      ConstStrided<T> dout_h(dout.data() + static_cast<std::ptrdiff_t>(b) * seq * c + h * hd, seq,
                             hd, Eigen::OuterStride<>(c));
      ConstMatMap<T> p(att.row(static_cast<Eigen::Index>(b) * heads + h).data(), seq, seq);
      dv.noalias() = p.transpose() * dout_h;
      Matrix<T> dp = dout_h * v.transpose();
      // Softmax backward per row: ds = p ⊙ (dp - Σ_j p_j dp_j); masked entries have p = 0.
      Matrix<T> ds(seq, seq);
      for (int t = 0; t < seq; ++t) {
        const T dot = p.row(t).dot(dp.row(t));
        ds.row(t) = (p.row(t).array() * (dp.row(t).array() - dot)).matrix();
      }
      dq.noalias() = (ds * k) * scale;
      dk.noalias() = (ds.transpose() * q) * scale;
    }
  }
}

template <typename T>
T softmax_cross_entropy(const Matrix<T>& logits, const std::vector<int32_t>& targets,
                        Matrix<T>& dlogits, int64_t* counted) {
  const Eigen::Index n = logits.rows();
  dlogits.setZero(n, logits.cols());
  int64_t count = 0;
  for (Eigen::Index r = 0; r < n; ++r) count += targets[static_cast<std::size_t>(r)] >= 0;
  if (counted) *counted = count;
  if (count == 0) return T(0);
  double total = 0;
  const T inv = T(1) / T(count);
#pragma omp parallel for reduction(+ : total) if (n * logits.cols() > 32768)
  for (Eigen::Index r = 0; r < n; ++r) {
    const int32_t y = targets[static_cast<std::size_t>(r)];
    if (y < 0) continue;
    const T mx = logits.row(r).maxCoeff();
    const RowVec<T> e = (logits.row(r).array() - mx).exp().matrix();
    const T sum = e.sum();
    total += static_cast<double>(std::log(sum) + mx - logits(r, y));
    dlogits.row(r) = e * (inv / sum);
    dlogits(r, y) -= inv;
  }
  return static_cast<T>(total / static_cast<double>(count));
}

template <typename T>
T softmax_cross_entropy_loss(const Matrix<T>& logits, const std::vector<int32_t>& targets,
                             int64_t* counted) {
  const Eigen::Index n = logits.rows();
  int64_t count = 0;
  double total = 0;
#pragma omp parallel for reduction(+ : total, count) if (n * logits.cols() > 32768)
  for (Eigen::Index r = 0; r < n; ++r) {
    const int32_t y = targets[static_cast<std::size_t>(r)];
    if (y < 0) continue;
    const T mx = logits.row(r).maxCoeff();
    const T sum = (logits.row(r).array() - mx).exp().sum();
    total += static_cast<double>(std::log(sum) + mx - logits(r, y));
    ++count;
  }
  if (counted) *counted = count;
  return count ? static_cast<T>(total / static_cast<double>(count)) : T(0);
}

#define TESSEL_NN_INSTANTIATE(T)                                                                  \
  template void linear_forward<T>(const Matrix<T>&, const ConstMatMap<T>&, const T*, Matrix<T>&); \
  template void linear_backward<T>(const Matrix<T>&, const Matrix<T>&, const ConstMatMap<T>&,     \
                                   Matrix<T>*, MatMap<T>, T*);                                    \
  template void layernorm_forward<T>(const Matrix<T>&, const T*, const T*, Matrix<T>&,            \
                                     std::vector<T>&, std::vector<T>&);                           \
  template void layernorm_backward<T>(const Matrix<T>&, const Matrix<T>&, const T*,               \
                                      const std::vector<T>&, const std::vector<T>&, Matrix<T>&,   \
                                      T*, T*);                                                    \
  template void gelu_forward<T>(const Matrix<T>&, Matrix<T>&);                                    \
  template void gelu_backward<T>(const Matrix<T>&, const Matrix<T>&, Matrix<T>&);                 \
  template void attention_forward<T>(const Matrix<T>&, int, int, int, Matrix<T>&, Matrix<T>&);    \
  template void attention_backward<T>(const Matrix<T>&, const Matrix<T>&, const Matrix<T>&, int,  \
                                      int, int, Matrix<T>&);                                      \
  template T softmax_cross_entropy<T>(const Matrix<T>&, const std::vector<int32_t>&, Matrix<T>&,  \
                                      int64_t*);                                                  \
  template T softmax_cross_entropy_loss<T>(const Matrix<T>&, const std::vector<int32_t>&, int64_t*);

TESSEL_NN_INSTANTIATE(float)
TESSEL_NN_INSTANTIATE(double)

}  // namespace tessel::nn
