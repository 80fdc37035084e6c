// hnswlib's HNSW over FGD's transformed vocabulary (built only when hnswlib was found).
#include <chrono>
#include <memory>

#include <hnswlib/hnswlib.h>

#include "models/fgd/fgd.h"
#include "runtime/core/error.h"

namespace tessel::fgd {

bool hnswlib_available() {
  return true;
}

struct HnswlibTopK::Impl {
  std::unique_ptr<hnswlib::L2Space> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index;
};

HnswlibTopK::HnswlibTopK(const TransformedVocab& t, int M, int ef_construction, uint64_t seed)
    : impl_(std::make_unique<Impl>()) {
  const auto t0 = std::chrono::steady_clock::now();
  impl_->space = std::make_unique<hnswlib::L2Space>(static_cast<std::size_t>(t.base.dim));
  impl_->index = std::make_unique<hnswlib::HierarchicalNSW<float>>(
      impl_->space.get(), static_cast<std::size_t>(t.base.n), static_cast<std::size_t>(M),
      static_cast<std::size_t>(ef_construction), static_cast<std::size_t>(seed));
  // Sequential inserts in id order: deterministic for a seed.
  for (int64_t i = 0; i < t.base.n; ++i)
    impl_->index->addPoint(t.base.row(i), static_cast<hnswlib::labeltype>(i));
  build_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

HnswlibTopK::~HnswlibTopK() = default;

void HnswlibTopK::topk(const float* qt, int K, int ef, int32_t* ids) {
  check_k(K, static_cast<int64_t>(impl_->index->cur_element_count), "hnswlib");
  if (ef < K)
    throw Error("hnswlib: ef " + std::to_string(ef) + " is smaller than K = " + std::to_string(K),
                kExitFailure);
  impl_->index->setEf(static_cast<std::size_t>(ef));
  auto result = impl_->index->searchKnn(qt, static_cast<std::size_t>(K));
  for (int j = static_cast<int>(result.size()) - 1; j >= 0; --j) {
    ids[j] = static_cast<int32_t>(result.top().second);
    result.pop();
  }
}

}  // namespace tessel::fgd
