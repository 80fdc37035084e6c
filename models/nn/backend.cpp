// Names of the training backends and GPU precisions (for configs, logs and errors).
#include "models/nn/transformer_cuda.h"

namespace tessel::nn {

const char* backend_name(Backend b) {
  return b == Backend::kCuda ? "cuda" : "cpu";
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::kFp32:
      return "fp32";
    case Precision::kBf16:
      return "bf16";
    case Precision::kFp16:
      return "fp16";
  }
  return "unknown";
}

}  // namespace tessel::nn
