// The GPU classes in a build without CUDA: no device, and constructing one is an error.
#include "models/lstm/lstm_cuda.h"

#include "runtime/core/error.h"

namespace tessel::lstm {
namespace {
[[noreturn]] void no_cuda() {
  throw Error("lstm: this build has no CUDA support (nvcc was not found at configure time)",
              kExitFailure);
}
}  // namespace

int cuda_device_count() {
  return 0;
}
bool cudnn_compiled() {
  return false;
}

struct CudaLstm::Impl {};
CudaLstm::CudaLstm(const LstmWeights&, int, int, CudaPrecision) {
  no_cuda();
}
CudaLstm::~CudaLstm() = default;
LstmOutput CudaLstm::forward(const Sequence&, const LstmState*) {
  no_cuda();
}
void CudaLstm::upload(const Sequence&, const LstmState*) {
  no_cuda();
}
void CudaLstm::run() {
  no_cuda();
}
LstmOutput CudaLstm::download() const {
  no_cuda();
}
bool CudaLstm::weights_on_chip() const {
  return false;
}

struct CudnnLstm::Impl {};
CudnnLstm::CudnnLstm(const LstmWeights&, int, int, CudaPrecision) {
  no_cuda();
}
CudnnLstm::~CudnnLstm() = default;
LstmOutput CudnnLstm::forward(const Sequence&, const LstmState*) {
  no_cuda();
}
void CudnnLstm::upload(const Sequence&, const LstmState*) {
  no_cuda();
}
void CudnnLstm::run() {
  no_cuda();
}
LstmOutput CudnnLstm::download() const {
  no_cuda();
}

}  // namespace tessel::lstm
