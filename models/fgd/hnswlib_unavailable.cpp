// The hnswlib baseline in a build without hnswlib (libhnswlib-dev not found at configure time).
#include "models/fgd/fgd.h"
#include "runtime/core/error.h"

namespace tessel::fgd {

bool hnswlib_available() {
  return false;
}

struct HnswlibTopK::Impl {};

HnswlibTopK::HnswlibTopK(const TransformedVocab&, int, int, uint64_t) {
  throw Error("hnswlib: this build has no hnswlib (install libhnswlib-dev and reconfigure)",
              kExitFailure);
}
HnswlibTopK::~HnswlibTopK() = default;
void HnswlibTopK::topk(const float*, int, int, int32_t*) {}

}  // namespace tessel::fgd
