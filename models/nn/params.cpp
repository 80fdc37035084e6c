// Flat parameter buffers with masks: allocation, lookup, masked forward copy.
#include "models/nn/params.h"

#include <algorithm>

#include "runtime/core/error.h"

namespace tessel::nn {

template <typename T>
int ParamStore<T>::add(const std::string& name, int rows, int cols, int layer, bool decay) {
  if (!values_.empty())
    throw Error("nn: parameter '" + name + "' added after finalize()", kExitFailure);
  ParamInfo p;
  p.name = name;
  p.rows = rows;
  p.cols = cols;
  p.layer = layer;
  p.decay = decay;
  p.offset = infos_.empty() ? 0 : infos_.back().offset + infos_.back().size();
  infos_.push_back(p);
  return count() - 1;
}

template <typename T>
void ParamStore<T>::finalize() {
  const int64_t n = infos_.empty() ? 0 : infos_.back().offset + infos_.back().size();
  values_.assign(static_cast<std::size_t>(n), T(0));
  grads_.assign(static_cast<std::size_t>(n), T(0));
}

template <typename T>
int ParamStore<T>::index(const std::string& name) const {
  for (int i = 0; i < count(); ++i)
    if (infos_[static_cast<std::size_t>(i)].name == name) return i;
  throw Error("nn: no parameter named '" + name + "'", kExitFailure);
}

template <typename T>
ConstMatMap<T> ParamStore<T>::value(int i) const {
  const auto& p = info(i);
  return ConstMatMap<T>(values_.data() + p.offset, p.rows, p.cols);
}

template <typename T>
ConstMatMap<T> ParamStore<T>::grad(int i) const {
  const auto& p = info(i);
  return ConstMatMap<T>(grads_.data() + p.offset, p.rows, p.cols);
}

template <typename T>
ConstMatMap<T> ParamStore<T>::forward_value(int i) const {
  const auto& p = info(i);
  const T* base = mask_.empty() ? values_.data() : masked_.data();
  return ConstMatMap<T>(base + p.offset, p.rows, p.cols);
}

template <typename T>
void ParamStore<T>::set_mask(int i, const std::vector<T>& mask) {
  const auto& p = info(i);
  if (static_cast<int64_t>(mask.size()) != p.size())
    throw Error("nn: mask for '" + p.name + "' has " + std::to_string(mask.size()) +
                    " entries, the parameter has " + std::to_string(p.size()),
                kExitFailure);
  if (mask_.empty()) mask_.assign(values_.size(), T(1));
  std::copy(mask.begin(), mask.end(), mask_.begin() + p.offset);
  prepare_forward();
}

template <typename T>
void ParamStore<T>::clear_masks() {
  mask_.clear();
  masked_.clear();
}

template <typename T>
void ParamStore<T>::prepare_forward() {
  if (mask_.empty()) return;
  masked_.resize(values_.size());
  for (std::size_t k = 0; k < values_.size(); ++k) masked_[k] = values_[k] * mask_[k];
}

template <typename T>
void ParamStore<T>::mask_gradients() {
  if (mask_.empty()) return;
  for (std::size_t k = 0; k < grads_.size(); ++k) grads_[k] *= mask_[k];
}

template <typename T>
void ParamStore<T>::zero_grad() {
  std::fill(grads_.begin(), grads_.end(), T(0));
}

template class ParamStore<float>;
template class ParamStore<double>;

}  // namespace tessel::nn
