// cuDNN RNN forward (the library PyTorch's nn.LSTM runs on) as the GPU baseline.
#include <vector>

#include "models/lstm/cuda_util.cuh"

#ifdef TESSEL_HAVE_CUDNN
#include <cudnn.h>
#endif

namespace tessel::lstm {

#ifdef TESSEL_HAVE_CUDNN

namespace {

using cuda::check;
using cuda::DeviceBuffer;

void check_dnn(cudnnStatus_t s, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS)
    throw Error(std::string("cudnn: ") + what + ": " + cudnnGetErrorString(s), kExitFailure);
}

// Number of elements a tensor descriptor describes.
std::size_t elements(cudnnTensorDescriptor_t d) {
  cudnnDataType_t type;
  int nd = 0, dims[8], strides[8];
  check_dnn(cudnnGetTensorNdDescriptor(d, 8, &type, &nd, dims, strides), "tensor descriptor");
  std::size_t n = 1;
  for (int k = 0; k < nd; ++k) n *= static_cast<std::size_t>(dims[k]);
  return n;
}

class CudnnRnn final : public CudnnLstm::Impl {
 public:
  ~CudnnRnn() override;
  // Sets up the handles and uploads the weights; a separate step so that a throw from it still
  // runs the destructor, which releases what was created.
  void init(const LstmWeights& w, int batch, int steps, CudaPrecision precision);
  void upload(const Sequence& x, const LstmState* initial) override;
  void run() override;
  LstmOutput download() const override;

 private:
  LstmShape shape;
  int batch = 0, steps = 0;
  CudaPrecision precision;
  cudnnDataType_t dtype = CUDNN_DATA_FLOAT;
  std::size_t elem = 4;
  cudnnHandle_t handle = nullptr;
  cudnnRNNDescriptor_t rnn = nullptr;
  cudnnDropoutDescriptor_t dropout = nullptr;
  cudnnRNNDataDescriptor_t x_desc = nullptr, y_desc = nullptr;
  cudnnTensorDescriptor_t h_desc = nullptr, c_desc = nullptr;
  DeviceBuffer<char> weights, work, reserve, dropout_states;
  DeviceBuffer<int32_t> dev_seq;
  DeviceBuffer<char> x, y, hx, cx, hy, cy;  // in dtype
  mutable DeviceBuffer<float> staging;      // fp32 staging for conversions
  std::size_t weight_bytes = 0, work_bytes = 0, reserve_bytes = 0;

  std::size_t state_elems() const {
    return std::size_t(shape.num_layers) * shape.directions() * batch * shape.hidden_size;
  }

  // Host floats -> device buffer in dtype.
  void put(DeviceBuffer<char>& dst, const float* host, std::size_t n) {
    if (precision == CudaPrecision::kFp32) {
      check(cudaMemcpy(dst.get(), host, n * 4, cudaMemcpyHostToDevice), "upload");
      return;
    }
    if (staging.size() < n) staging.resize(n);
    staging.upload(host, n);
    cuda::to_half(staging.get(), reinterpret_cast<__half*>(dst.get()), n);
  }
  // Device buffer in dtype -> host floats.
  void get(const DeviceBuffer<char>& src, float* host, std::size_t n) const {
    if (precision == CudaPrecision::kFp32) {
      check(cudaMemcpy(host, src.get(), n * 4, cudaMemcpyDeviceToHost), "download");
      return;
    }
    if (staging.size() < n) staging.resize(n);
    cuda::to_float(reinterpret_cast<const __half*>(src.get()), staging.get(), n);
    staging.download(host, n);
  }
};

void CudnnRnn::init(const LstmWeights& w, int batch, int steps, CudaPrecision precision) {
  if (batch < 1 || steps < 1) throw ConfigError("cudnn lstm: batch and steps must be >= 1");
  if (cuda::device_count() == 0) throw Error("cudnn lstm: no CUDA device", kExitFailure);
  CudnnRnn& m = *this;
  m.shape = w.shape;
  m.batch = batch;
  m.steps = steps;
  m.precision = precision;
  const bool half = precision == CudaPrecision::kFp16;
  m.dtype = half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
  m.elem = half ? 2 : 4;
  const int hid = w.shape.hidden_size, ndir = w.shape.directions();

  check_dnn(cudnnCreate(&m.handle), "cudnnCreate");
  check_dnn(cudnnCreateDropoutDescriptor(&m.dropout), "dropout descriptor");
  std::size_t state_bytes = 0;
  check_dnn(cudnnDropoutGetStatesSize(m.handle, &state_bytes), "dropout state size");
  m.dropout_states.resize(state_bytes);
  check_dnn(
      cudnnSetDropoutDescriptor(m.dropout, m.handle, 0.0f, m.dropout_states.get(), state_bytes, 0),
      "dropout descriptor");
  check_dnn(cudnnCreateRNNDescriptor(&m.rnn), "RNN descriptor");
  // fp32: FMA math (no TF32) so that the comparison with the CPU is tight; fp16: tensor
  // cores with fp32 accumulation, as PyTorch runs half-precision LSTMs. Padded I/O is
  // enabled because the data descriptors use the unpacked layout, which cuDNN permits only
  // with it (PyTorch pairs them the same way).
  check_dnn(cudnnSetRNNDescriptor_v8(
                m.rnn, CUDNN_RNN_ALGO_STANDARD, CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS,
                ndir == 2 ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, m.dtype,
                CUDNN_DATA_FLOAT, half ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH, w.shape.input_size,
                hid, hid, w.shape.num_layers, m.dropout, CUDNN_RNN_PADDED_IO_ENABLED),
            "cudnnSetRNNDescriptor_v8");

  std::vector<int32_t> seq(static_cast<std::size_t>(batch), steps);
  m.dev_seq.resize(seq.size());
  m.dev_seq.upload(seq.data(), seq.size());
  check_dnn(cudnnCreateRNNDataDescriptor(&m.x_desc), "x descriptor");
  check_dnn(cudnnCreateRNNDataDescriptor(&m.y_desc), "y descriptor");
  check_dnn(cudnnSetRNNDataDescriptor(m.x_desc, m.dtype, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED,
                                      steps, batch, w.shape.input_size, seq.data(), nullptr),
            "x descriptor");
  check_dnn(cudnnSetRNNDataDescriptor(m.y_desc, m.dtype, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED,
                                      steps, batch, ndir * hid, seq.data(), nullptr),
            "y descriptor");
  const int dims[3] = {w.shape.num_layers * ndir, batch, hid};
  const int strides[3] = {batch * hid, hid, 1};
  check_dnn(cudnnCreateTensorDescriptor(&m.h_desc), "h descriptor");
  check_dnn(cudnnCreateTensorDescriptor(&m.c_desc), "c descriptor");
  check_dnn(cudnnSetTensorNdDescriptor(m.h_desc, m.dtype, 3, dims, strides), "h descriptor");
  check_dnn(cudnnSetTensorNdDescriptor(m.c_desc, m.dtype, 3, dims, strides), "c descriptor");

  check_dnn(cudnnGetRNNWeightSpaceSize(m.handle, m.rnn, &m.weight_bytes), "weight space size");
  check_dnn(cudnnGetRNNTempSpaceSizes(m.handle, m.rnn, CUDNN_FWD_MODE_INFERENCE, m.x_desc,
                                      &m.work_bytes, &m.reserve_bytes),
            "temp space sizes");
  m.weights.resize(m.weight_bytes);
  m.work.resize(m.work_bytes);
  m.reserve.resize(m.reserve_bytes);

  // Lay the PyTorch matrices out in cuDNN's weight space: linear layers 0-3 are W_ih of
  // gates i, f, g, o (cuDNN's order too), 4-7 W_hh; each bias likewise.
  std::vector<float> host(m.weight_bytes / m.elem, 0.0f);
  cudnnTensorDescriptor_t m_desc, b_desc;
  check_dnn(cudnnCreateTensorDescriptor(&m_desc), "matrix descriptor");
  check_dnn(cudnnCreateTensorDescriptor(&b_desc), "bias descriptor");
  for (int l = 0; l < w.shape.num_layers; ++l) {
    for (int d = 0; d < ndir; ++d) {
      const LayerParams& p = w.at(l, d);
      for (int id = 0; id < 8; ++id) {
        void* m_addr = nullptr;
        void* b_addr = nullptr;
        check_dnn(cudnnGetRNNWeightParams(m.handle, m.rnn, l * ndir + d, m.weight_bytes,
                                          m.weights.get(), id, m_desc, &m_addr, b_desc, &b_addr),
                  "cudnnGetRNNWeightParams");
        const Eigen::MatrixXf& mat = id < 4 ? p.w_ih : p.w_hh;
        const Eigen::VectorXf& bias = id < 4 ? p.b_ih : p.b_hh;
        const int gate = id % 4;
        const std::size_t cols = static_cast<std::size_t>(mat.cols());
        if (elements(m_desc) != std::size_t(hid) * cols || elements(b_desc) != std::size_t(hid))
          throw Error("cudnn lstm: unexpected weight layout for linear layer " + std::to_string(id),
                      kExitFailure);
        const std::size_t m_off = (static_cast<char*>(m_addr) - m.weights.get()) / m.elem;
        const std::size_t b_off = (static_cast<char*>(b_addr) - m.weights.get()) / m.elem;
        for (int r = 0; r < hid; ++r) {
          for (std::size_t c = 0; c < cols; ++c)
            host[m_off + std::size_t(r) * cols + c] =
                mat(gate * hid + r, static_cast<Eigen::Index>(c));
          host[b_off + r] = bias(gate * hid + r);
        }
      }
    }
  }
  cudnnDestroyTensorDescriptor(m_desc);
  cudnnDestroyTensorDescriptor(b_desc);
  m.put(m.weights, host.data(), host.size());

  const std::size_t tb = std::size_t(steps) * batch;
  m.x.resize(tb * w.shape.input_size * m.elem);
  m.y.resize(tb * ndir * hid * m.elem);
  for (auto* b : {&m.hx, &m.cx, &m.hy, &m.cy}) b->resize(m.state_elems() * m.elem);
  check(cudaDeviceSynchronize(), "cudnn weight upload");
}

CudnnRnn::~CudnnRnn() {
  if (x_desc) cudnnDestroyRNNDataDescriptor(x_desc);
  if (y_desc) cudnnDestroyRNNDataDescriptor(y_desc);
  if (h_desc) cudnnDestroyTensorDescriptor(h_desc);
  if (c_desc) cudnnDestroyTensorDescriptor(c_desc);
  if (rnn) cudnnDestroyRNNDescriptor(rnn);
  if (dropout) cudnnDestroyDropoutDescriptor(dropout);
  if (handle) cudnnDestroy(handle);
}

void CudnnRnn::upload(const Sequence& x, const LstmState* initial) {
  CudnnRnn& m = *this;
  if (static_cast<int>(x.size()) != m.steps)
    throw ConfigError("cudnn lstm: expected " + std::to_string(m.steps) + " steps, got " +
                      std::to_string(x.size()));
  std::vector<float> host;
  host.reserve(std::size_t(m.steps) * m.batch * m.shape.input_size);
  for (int t = 0; t < m.steps; ++t) {
    if (x[t].rows() != m.shape.input_size || x[t].cols() != m.batch)
      throw ConfigError("cudnn lstm: input at step " + std::to_string(t) + " has wrong shape");
    host.insert(host.end(), x[t].data(), x[t].data() + x[t].size());
  }
  m.put(m.x, host.data(), host.size());
  std::vector<float> h(m.state_elems(), 0.0f), c(m.state_elems(), 0.0f);
  if (initial) {
    const std::size_t n = std::size_t(m.batch) * m.shape.hidden_size;
    const std::size_t states = std::size_t(m.shape.num_layers) * m.shape.directions();
    if (initial->h.size() != states || initial->c.size() != states)
      throw ConfigError("cudnn lstm: initial state needs " + std::to_string(states) + " h and c");
    for (std::size_t k = 0; k < states; ++k) {
      // [hidden, batch] each, as the CPU reference takes them (a wrong shape would read
      // past the matrix).
      for (const auto* m_k : {&initial->h[k], &initial->c[k]})
        if (m_k->rows() != m.shape.hidden_size || m_k->cols() != m.batch)
          throw ConfigError("cudnn lstm: initial state " + std::to_string(k) + " is not [" +
                            std::to_string(m.shape.hidden_size) + ", " + std::to_string(m.batch) +
                            "]");
      std::copy(initial->h[k].data(), initial->h[k].data() + n, h.begin() + k * n);
      std::copy(initial->c[k].data(), initial->c[k].data() + n, c.begin() + k * n);
    }
  }
  m.put(m.hx, h.data(), h.size());
  m.put(m.cx, c.data(), c.size());
}

void CudnnRnn::run() {
  CudnnRnn& m = *this;
  check_dnn(cudnnRNNForward(m.handle, m.rnn, CUDNN_FWD_MODE_INFERENCE, m.dev_seq.get(), m.x_desc,
                            m.x.get(), m.y_desc, m.y.get(), m.h_desc, m.hx.get(), m.hy.get(),
                            m.c_desc, m.cx.get(), m.cy.get(), m.weight_bytes, m.weights.get(),
                            m.work_bytes, m.work.get(), m.reserve_bytes, m.reserve.get()),
            "cudnnRNNForward");
  check(cudaDeviceSynchronize(), "cudnn run");
}

LstmOutput CudnnRnn::download() const {
  const CudnnRnn& m = *this;
  const int width = m.shape.directions() * m.shape.hidden_size;
  std::vector<float> y(std::size_t(m.steps) * m.batch * width);
  m.get(m.y, y.data(), y.size());
  LstmOutput o;
  for (int t = 0; t < m.steps; ++t)
    o.y.push_back(Eigen::Map<const Eigen::MatrixXf>(y.data() + std::size_t(t) * m.batch * width,
                                                    width, m.batch));
  std::vector<float> h(m.state_elems()), c(m.state_elems());
  m.get(m.hy, h.data(), h.size());
  m.get(m.cy, c.data(), c.size());
  const std::size_t n = std::size_t(m.batch) * m.shape.hidden_size;
  for (std::size_t k = 0; k < h.size() / n; ++k) {
    o.final.h.push_back(
        Eigen::Map<const Eigen::MatrixXf>(h.data() + k * n, m.shape.hidden_size, m.batch));
    o.final.c.push_back(
        Eigen::Map<const Eigen::MatrixXf>(c.data() + k * n, m.shape.hidden_size, m.batch));
  }
  return o;
}

}  // namespace

namespace cuda {
bool cudnn_compiled() {
  return true;
}
std::unique_ptr<CudnnLstm::Impl> make_cudnn(const LstmWeights& w, int batch, int steps,
                                            CudaPrecision precision) {
  auto rnn = std::make_unique<CudnnRnn>();
  rnn->init(w, batch, steps, precision);
  return rnn;
}
}  // namespace cuda

#else  // !TESSEL_HAVE_CUDNN

namespace cuda {
bool cudnn_compiled() {
  return false;
}
std::unique_ptr<CudnnLstm::Impl> make_cudnn(const LstmWeights&, int, int, CudaPrecision) {
  throw Error("cudnn lstm: this build has no cuDNN (cudnn.h was not found at configure time)",
              kExitFailure);
}
}  // namespace cuda

#endif

}  // namespace tessel::lstm
