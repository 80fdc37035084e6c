// Dense GEMM baselines for bench_nm_gemm: oneDNN int8 and fp32 matmul, OpenBLAS sgemm.
//
// Each is optional (bench/CMakeLists.txt defines TESSEL_HAVE_DNNL / TESSEL_HAVE_OPENBLAS when
// the library is found); only raw pointers cross into nm_gemm.cpp. Everything a library
// does once per weight matrix (primitive creation, weight reorder into its blocked layout,
// operand copies) happens in make_dense(), outside the timed loop; run() is one product.
//
// Single thread, set programmatically in dense_single_thread():
//   oneDNN: Debian's libdnnl is built with DNNL_CPU_RUNTIME=OMP (GNU libgomp; reported as
//     "cpu_runtime" in the context), so its thread count is OpenMP's: omp_set_num_threads(1)
//     before any primitive is created (brgemm kernels size their work split at creation).
//   OpenBLAS: Debian's libopenblas0-pthread uses its own pthread pool:
//     openblas_set_num_threads(1).
// The bench is run pinned to one core (taskset) as well.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#ifdef TESSEL_HAVE_DNNL
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#endif
#ifdef TESSEL_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace tessel::sparse::bench {

// One prepared dense product Y = W X of an out x K int8 weight matrix and K x T activations.
class DenseGemm {
 public:
  virtual ~DenseGemm() = default;
  virtual void run() = 0;
  // Sampled outputs against an int64 dot product of the operands it was given (catches a
  // wrong layout or transposition in the set-up); empty when correct.
  virtual std::string check() = 0;
};

namespace {

// 64 sampled outputs of a row-major rows x cols result; `mismatch(r, c)` checks one.
template <typename F>
std::string sample_check(int64_t rows, int64_t cols, F&& mismatch) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 64; ++i) {
    const int64_t r = static_cast<int64_t>(rng() % static_cast<uint64_t>(rows));
    const int64_t c = static_cast<int64_t>(rng() % static_cast<uint64_t>(cols));
    if (mismatch(r, c))
      return "output (" + std::to_string(r) + "," + std::to_string(c) +
             ") differs from the "
             "dot product of its operands";
  }
  return "";
}

#ifdef TESSEL_HAVE_DNNL
using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

// Y^T (T x out) = X^T (T x K) * W^T (K x out): tokens as rows, the layout an inference
// framework feeds oneDNN and the one its brgemm int8 kernel is fastest with here (a probe
// with X^T strided as K x T took the slower gemm:jit path). X^T is transposed once in the
// set-up, outside the timing. Weights use format_tag::any and are reordered once.
class OneDnnMatmul : public DenseGemm {
 public:
  OneDnnMatmul(dt src_dt, dt w_dt, dt dst_dt, const int8_t* w, const int8_t* x, int64_t out,
               int64_t k, int64_t t)
      : eng_(dnnl::engine::kind::cpu, 0), strm_(eng_), out_(out), k_(k), t_(t) {
    memory::desc src_md({t, k}, src_dt, tag::ab), dst_md({t, out}, dst_dt, tag::ab);
    memory::desc w_any({k, out}, w_dt, tag::any), w_user({k, out}, w_dt, tag::ba);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, w_any, dst_md), eng_);
    impl_ = pd.impl_info_str();
    src_ = memory(src_md, eng_);
    dst_ = memory(dst_md, eng_);
    memory wu(w_user, eng_);
    wmem_ = memory(pd.weights_desc(), eng_);
    // Keep plain copies of the operands as handed over, for check().
    src_copy_.resize(static_cast<size_t>(t * k));
    w_copy_.resize(static_cast<size_t>(out * k));
    // u8 activations are x + 128 (what a framework feeding a u8 src would hold).
    const int shift = src_dt == dt::u8 ? 128 : 0;
    for (int64_t tt = 0; tt < t; ++tt)
      for (int64_t kk = 0; kk < k; ++kk)
        src_copy_[static_cast<size_t>(tt * k + kk)] = x[kk * t + tt] + shift;
    for (int64_t i = 0; i < out * k; ++i) w_copy_[static_cast<size_t>(i)] = w[i];
    fill(src_, src_dt, src_copy_);
    fill(wu, w_dt, w_copy_);  // "ba" of K x out is W's own out x K row-major layout
    dnnl::reorder(wu, wmem_).execute(strm_, wu, wmem_);
    strm_.wait();
    prim_ = dnnl::matmul(pd);
    args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, wmem_}, {DNNL_ARG_DST, dst_}};
    dst_dt_ = dst_dt;
  }
  void run() override {
    prim_.execute(strm_, args_);
    strm_.wait();
  }
  std::string check() override {
    run();
    return sample_check(t_, out_, [&](int64_t tt, int64_t o) {
      int64_t dot = 0;
      for (int64_t kk = 0; kk < k_; ++kk)
        dot += int64_t{src_copy_[static_cast<size_t>(tt * k_ + kk)]} *
               w_copy_[static_cast<size_t>(o * k_ + kk)];
      const size_t i = static_cast<size_t>(tt * out_ + o);
      if (dst_dt_ == dt::s32) return static_cast<const int32_t*>(dst_.get_data_handle())[i] != dot;
      // fp32: integer operands, |dot| < 2^24 for these shapes, so the sum is exact.
      return static_cast<const float*>(dst_.get_data_handle())[i] != static_cast<float>(dot);
    });
  }
  const std::string& impl() const { return impl_; }

 private:
  static void fill(memory& m, dt type, const std::vector<int32_t>& v) {
    void* p = m.get_data_handle();
    for (size_t i = 0; i < v.size(); ++i) {
      if (type == dt::f32)
        static_cast<float*>(p)[i] = static_cast<float>(v[i]);
      else if (type == dt::u8)
        static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v[i]);
      else
        static_cast<int8_t*>(p)[i] = static_cast<int8_t>(v[i]);
    }
  }
  dnnl::engine eng_;
  dnnl::stream strm_;
  int64_t out_, k_, t_;
  memory src_, wmem_, dst_;
  dnnl::matmul prim_;
  std::unordered_map<int, memory> args_;
  std::vector<int32_t> src_copy_, w_copy_;
  std::string impl_;
  dt dst_dt_ = dt::s32;
};
#endif

#ifdef TESSEL_HAVE_OPENBLAS
// Row-major Y (out x T) = W (out x K) X (K x T): the sparse kernel's own layout.
class OpenBlasSgemm : public DenseGemm {
 public:
  OpenBlasSgemm(const int8_t* w, const int8_t* x, int64_t out, int64_t k, int64_t t)
      : out_(out),
        k_(k),
        t_(t),
        w_(w, w + out * k),
        x_(x, x + k * t),
        y_(static_cast<size_t>(out * t)) {}
  void run() override {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(out_),
                static_cast<int>(t_), static_cast<int>(k_), 1.0f, w_.data(), static_cast<int>(k_),
                x_.data(), static_cast<int>(t_), 0.0f, y_.data(), static_cast<int>(t_));
  }
  std::string check() override {
    run();
    return sample_check(out_, t_, [&](int64_t o, int64_t tt) {
      double dot = 0;
      for (int64_t kk = 0; kk < k_; ++kk)
        dot += double{w_[static_cast<size_t>(o * k_ + kk)]} * x_[static_cast<size_t>(kk * t_ + tt)];
      return y_[static_cast<size_t>(o * t_ + tt)] != static_cast<float>(dot);
    });
  }

 private:
  int64_t out_, k_, t_;
  std::vector<float> w_, x_, y_;
};
#endif

}  // namespace

// Names of the baselines this build has, strongest int8 first.
std::vector<std::string> dense_baselines() {
  std::vector<std::string> names;
#ifdef TESSEL_HAVE_DNNL
  names.insert(names.end(), {"onednn_u8s8s32", "onednn_s8s8s32", "onednn_f32"});
#endif
#ifdef TESSEL_HAVE_OPENBLAS
  names.push_back("openblas_sgemm");
#endif
  return names;
}

// The prepared baseline `name` for w (out x K) and x (K x T); `impl` gets the library's
// own name of the kernel it picked.
std::unique_ptr<DenseGemm> make_dense(const std::string& name, const int8_t* w, const int8_t* x,
                                      int64_t out, int64_t k, int64_t t, std::string& impl) {
#ifdef TESSEL_HAVE_DNNL
  auto make = [&](dt s, dt wt, dt d) {
    auto g = std::make_unique<OneDnnMatmul>(s, wt, d, w, x, out, k, t);
    impl = g->impl();
    return g;
  };
  if (name == "onednn_u8s8s32") return make(dt::u8, dt::s8, dt::s32);
  if (name == "onednn_s8s8s32") return make(dt::s8, dt::s8, dt::s32);
  if (name == "onednn_f32") return make(dt::f32, dt::f32, dt::f32);
#endif
#ifdef TESSEL_HAVE_OPENBLAS
  if (name == "openblas_sgemm") {
    impl = std::string("OpenBLAS ") + openblas_get_corename();
    return std::make_unique<OpenBlasSgemm>(w, x, out, k, t);
  }
#endif
  (void)name, (void)w, (void)x, (void)out, (void)k, (void)t, (void)impl;
  return nullptr;
}

void dense_single_thread() {
#ifdef TESSEL_HAVE_DNNL
  omp_set_num_threads(1);
#endif
#ifdef TESSEL_HAVE_OPENBLAS
  openblas_set_num_threads(1);
#endif
}

// Key/value lines for the benchmark context (library versions, threading, what is absent).
std::vector<std::pair<std::string, std::string>> dense_context() {
  std::vector<std::pair<std::string, std::string>> kv;
#ifdef TESSEL_HAVE_DNNL
  const dnnl_version_t* v = dnnl_version();
  kv.push_back({"onednn", std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                              std::to_string(v->patch) + " cpu_runtime=" +
                              (v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other") +
                              " omp_max_threads=" + std::to_string(omp_get_max_threads())});
#else
  kv.push_back({"onednn", "absent from this build (find_package(dnnl) failed): no oneDNN lines"});
#endif
#ifdef TESSEL_HAVE_OPENBLAS
  kv.push_back({"openblas", std::string(openblas_get_config()) +
                                " core=" + openblas_get_corename() +
                                " threads=" + std::to_string(openblas_get_num_threads())});
#else
  kv.push_back({"openblas", "absent from this build (find_package(OpenBLAS) failed)"});
#endif
  return kv;
}

}  // namespace tessel::sparse::bench
