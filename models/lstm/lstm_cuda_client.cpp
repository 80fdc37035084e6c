// CudaLstm and CudnnLstm forward to their GPU objects in the CUDA plugin (loaded on first use).
#include "models/common/cuda_plugin.h"
#include "models/lstm/lstm_cuda.h"
#include "models/lstm/lstm_cuda_plugin.h"

namespace tessel::lstm {
namespace {
const LstmCudaApi& gpu() {
  static const LstmCudaApi& api = cuda_plugin_api<LstmCudaApi>(kLstmCudaApiSymbol);
  return api;
}
}  // namespace

int cuda_device_count() {
  return gpu().device_count();
}
bool cudnn_compiled() {
  return gpu().cudnn_compiled();
}

CudaLstm::CudaLstm(const LstmWeights& w, int batch, int steps, CudaPrecision precision) {
  w.validate();
  impl_ = gpu().make_cuda(w, batch, steps, precision);
}
CudaLstm::~CudaLstm() = default;
LstmOutput CudaLstm::forward(const Sequence& x, const LstmState* initial) {
  upload(x, initial);
  run();
  return download();
}
void CudaLstm::upload(const Sequence& x, const LstmState* initial) {
  impl_->upload(x, initial);
}
void CudaLstm::run() {
  impl_->run();
}
LstmOutput CudaLstm::download() const {
  return impl_->download();
}
bool CudaLstm::weights_on_chip() const {
  return impl_->weights_on_chip();
}

CudnnLstm::CudnnLstm(const LstmWeights& w, int batch, int steps, CudaPrecision precision) {
  w.validate();
  impl_ = gpu().make_cudnn(w, batch, steps, precision);
}
CudnnLstm::~CudnnLstm() = default;
LstmOutput CudnnLstm::forward(const Sequence& x, const LstmState* initial) {
  upload(x, initial);
  run();
  return download();
}
void CudnnLstm::upload(const Sequence& x, const LstmState* initial) {
  impl_->upload(x, initial);
}
void CudnnLstm::run() {
  impl_->run();
}
LstmOutput CudnnLstm::download() const {
  return impl_->download();
}

}  // namespace tessel::lstm
