// Run-time choice between the CPU, CUDA and cuDNN LSTM implementations.
#include "models/lstm/lstm_cuda.h"

#include "runtime/core/error.h"

namespace tessel::lstm {

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::kCpu:
      return "cpu";
    case Backend::kCuda:
      return "cuda";
    case Backend::kCudnn:
      return "cudnn";
  }
  return "unknown";
}

LstmOutput lstm_forward(const LstmWeights& w, const Sequence& x, const LstmState* initial,
                        Backend backend) {
  if (backend == Backend::kCpu) return lstm_forward(w, x, initial);
  if (cuda_device_count() == 0)
    throw Error(std::string("lstm: backend '") + backend_name(backend) +
                    "' needs a CUDA device and none is available",
                kExitFailure);
  const int batch = x.empty() ? 1 : static_cast<int>(x[0].cols());
  const int steps = static_cast<int>(x.size());
  if (backend == Backend::kCuda)
    return CudaLstm(w, batch, steps, CudaPrecision::kFp32).forward(x, initial);
  if (!cudnn_compiled())
    throw Error("lstm: backend 'cudnn' was not compiled in (cudnn.h not found)", kExitFailure);
  return CudnnLstm(w, batch, steps, CudaPrecision::kFp32).forward(x, initial);
}

}  // namespace tessel::lstm
