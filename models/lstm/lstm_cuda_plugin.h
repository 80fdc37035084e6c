// The LSTM table the CUDA plugin exports (lstm_cuda.cu, lstm_cudnn.cu) and lstm_cuda_client.cpp
// calls through: the GPU objects behind CudaLstm and CudnnLstm live in the plugin.
#pragma once

#include <memory>

#include "models/lstm/lstm_cuda.h"

namespace tessel::lstm {

// Symbol of `const LstmCudaApi* tessel_cuda_lstm_api()` in libtessel_cuda.so.
inline constexpr const char* kLstmCudaApiSymbol = "tessel_cuda_lstm_api";

// What CudaLstm forwards to; implemented in the plugin.
struct CudaLstm::Impl {
  virtual ~Impl() = default;
  virtual void upload(const Sequence& x, const LstmState* initial) = 0;
  virtual void run() = 0;
  virtual LstmOutput download() const = 0;
  virtual bool weights_on_chip() const = 0;
};

// What CudnnLstm forwards to; implemented in the plugin.
struct CudnnLstm::Impl {
  virtual ~Impl() = default;
  virtual void upload(const Sequence& x, const LstmState* initial) = 0;
  virtual void run() = 0;
  virtual LstmOutput download() const = 0;
};

// The weights reach make_* already validated (LstmWeights::validate runs in the caller).
struct LstmCudaApi {
  int (*device_count)();
  bool (*cudnn_compiled)();
  std::unique_ptr<CudaLstm::Impl> (*make_cuda)(const LstmWeights& w, int batch, int steps,
                                               CudaPrecision precision);
  std::unique_ptr<CudnnLstm::Impl> (*make_cudnn)(const LstmWeights& w, int batch, int steps,
                                                 CudaPrecision precision);
};

}  // namespace tessel::lstm
