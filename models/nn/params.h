// Named parameters in one flat buffer, with gradients, optional masks, and typed views.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/nn/tensor.h"

namespace tessel::nn {

// Where one parameter lives inside the flat buffers.
struct ParamInfo {
  std::string name;    // "h0.attn.w_qkv", "wte", ...
  int64_t offset = 0;  // element offset into values/grads/mask
  int rows = 0;
  int cols = 1;
  int layer = -1;      // Transformer block index, -1 outside the blocks
  bool decay = false;  // AdamW weight decay applies (weight matrices, not biases or LN)
  int64_t size() const { return static_cast<int64_t>(rows) * cols; }
};

// Every parameter of a model in one contiguous buffer (and one for its gradient), so that
// the optimizer, clipping, checkpoints, device upload and offload each see one array, and
// each layer sees a matrix view.
//
// Masks (the N:M seam): a parameter with a mask is used as value ⊙ mask in the forward
// pass, and its gradient is multiplied by the mask after backward, which is the exact
// gradient of the masked forward. Dense values are kept, so ADMM-style methods can keep
// updating the dense copy while the forward sees the projection.
template <typename T>
class ParamStore {
 public:
  // Declares a parameter; only before finalize(). Returns its index.
  int add(const std::string& name, int rows, int cols, int layer, bool decay);
  // Allocates the buffers (values zero).
  void finalize();

  int count() const { return static_cast<int>(infos_.size()); }
  int64_t size() const { return static_cast<int64_t>(values_.size()); }
  const std::vector<ParamInfo>& infos() const { return infos_; }
  const ParamInfo& info(int i) const { return infos_[static_cast<std::size_t>(i)]; }
  // Index of `name`; throws tessel::Error when absent.
  int index(const std::string& name) const;

  std::vector<T>& values() { return values_; }
  const std::vector<T>& values() const { return values_; }
  std::vector<T>& grads() { return grads_; }
  const std::vector<T>& grads() const { return grads_; }

  MatMap<T> value(int i) { return view(values_, i); }
  MatMap<T> grad(int i) { return view(grads_, i); }
  ConstMatMap<T> value(int i) const;
  ConstMatMap<T> grad(int i) const;
  // The value the forward pass uses: masked copy when any mask is set.
  ConstMatMap<T> forward_value(int i) const;

  // Sets the 0/1 mask of parameter i (size must match; throws tessel::Error otherwise).
  void set_mask(int i, const std::vector<T>& mask);
  void clear_masks();
  bool has_masks() const { return !mask_.empty(); }
  // 1 where no mask was set for that parameter.
  const std::vector<T>& mask() const { return mask_; }
  // Recomputes the masked forward copy; models call it at the start of every forward.
  void prepare_forward();
  // grads *= mask (models call it at the end of backward).
  void mask_gradients();
  void zero_grad();

  // The same parameters converted to another scalar type (masks included).
  template <typename U>
  ParamStore<U> cast() const {
    ParamStore<U> out;
    for (const auto& p : infos_) out.add(p.name, p.rows, p.cols, p.layer, p.decay);
    out.finalize();
    for (std::size_t k = 0; k < values_.size(); ++k) out.values()[k] = static_cast<U>(values_[k]);
    for (int i = 0; i < count(); ++i) {
      if (mask_.empty()) break;
      const auto& p = info(i);
      std::vector<U> m(static_cast<std::size_t>(p.size()));
      for (int64_t k = 0; k < p.size(); ++k) m[k] = static_cast<U>(mask_[p.offset + k]);
      out.set_mask(i, m);
    }
    return out;
  }

 private:
  MatMap<T> view(std::vector<T>& buf, int i) {
    const auto& p = info(i);
    return MatMap<T>(buf.data() + p.offset, p.rows, p.cols);
  }
  std::vector<ParamInfo> infos_;
  std::vector<T> values_, grads_;
  std::vector<T> mask_;    // empty when no parameter is masked
  std::vector<T> masked_;  // values ⊙ mask, refreshed by prepare_forward()
};

extern template class ParamStore<float>;
extern template class ParamStore<double>;

}  // namespace tessel::nn
