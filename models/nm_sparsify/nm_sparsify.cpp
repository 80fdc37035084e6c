// ADMM and ASP N:M sparsification over the training engine's hooks, and distillation.
#include "models/nm_sparsify/nm_sparsify.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>

#include "models/nm_sparsify/nm_sparsify_cuda.h"
#include "models/nn/checkpoint.h"
#include "runtime/core/atomic_file.h"
#include "runtime/core/error.h"

namespace tessel::nm_sparsify {

namespace {

// "file:line:col: sparsify.<key>" for a key that is present.
std::string source_of(const Config& cfg, const std::string& key) {
  const Config k = cfg.at(key);
  return k.location().str() + ": " + k.key_path();
}

}  // namespace

const KeySet& sparsify_keys() {
  static const KeySet keys = [] {
    KeySet k("sparsify");
    // Step counts ≥ 0: declared as integers and read with the plain range getter (a KeySet
    // range keeps its bounds as doubles, which cannot hold INT64_MAX).
    k.choice("method", {"admm", "asp"},
             "outside a registered experiment only (there the model name chooses, and the key "
             "is an error)")
        .opt("admm");
    k.text("pattern", "N:M, 1 ≤ N < M ≤ 16, M dividing every chosen layer's reduction dimension")
        .def("2:4");
    k.list("params",
           "parameter name patterns to sparsify, `*` matching any run of characters; only "
           "linear weights (biases, LayerNorm gains, the position embedding stay dense)")
        .opt("every block's linear weight, `h*.w_*`");
    k.text("params[]", "a name pattern");
    k.file("init", "dense checkpoint (`checkpoint.bin` of `tessel train`) to start from")
        .opt("the seeded initialisation");
    k.any_integer("dense_steps",
                  "dense training steps (≥ 0) before sparsifying, in the same run (one "
                  "learning-rate schedule over train.steps); with distill it needs "
                  "distill.teacher")
        .def("0");
    k.section("admm", "ADMM settings: required for method admm, an error for asp");
    k.any_integer("admm.steps",
                  "ADMM steps (≥ 0) after dense_steps, then the hard projection; the rest of "
                  "train.steps is masked fine-tuning");
    k.positive_integer("admm.interval", "steps between Z/U updates").def("10");
    k.positive_number("admm.rho", "ρ0, the penalty's first weight").def("0.001");
    k.any_number("admm.rho_growth",
                 "ρ_k = min(rho · rho_growth^k, rho_max) after k updates; ≥ 1 (1: constant ρ)")
        .def("1");
    k.any_number("admm.rho_max", "cap of ρ, at least rho").opt("unbounded");
    k.section("distill",
              "knowledge distillation from a dense teacher, on when present: loss = (1 − alpha)·"
              "CE + alpha·T²·KL(softmax(teacher / T) ‖ softmax(student / T))");
    k.positive_number("distill.temperature", "T").def("2");
    k.number("distill.alpha", 0, 1, "weight of the distillation term").def("0.5");
    k.file("distill.teacher", "the teacher's checkpoint").opt("the starting weights");
    return k;
  }();
  return keys;
}

SparsifyConfig SparsifyConfig::from_config(const Config& config, Method default_method,
                                           bool method_fixed) {
  sparsify_keys().check(config);
  const Keyed cfg(sparsify_keys(), config);
  SparsifyConfig c;
  c.method = default_method;
  if (method_fixed && cfg.has("method"))
    cfg.fail("method", "the model name (nm_sparsify.admm or nm_sparsify.asp) chooses the method");
  if (cfg.has("method")) c.method = cfg.choice("method") == "asp" ? Method::kAsp : Method::kAdmm;
  if (cfg.has("init")) {
    c.init = cfg.path("init");
    c.init_source = source_of(config, "init");
  }
  if (cfg.has("pattern")) {
    c.pattern_source = source_of(config, "pattern");
    try {
      c.pattern = sparse::Pattern::parse(cfg.text("pattern"));
    } catch (const ConfigError& e) {
      cfg.fail("pattern", e.what());
    }
  }
  if (cfg.has("params")) {
    c.params_source = source_of(config, "params");
    c.params.clear();
    for (const Keyed& item : cfg.items("params")) c.params.push_back(item.as_text());
    if (c.params.empty()) cfg.fail("params", "names no parameter (omit it for every block weight)");
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (cfg.has("dense_steps")) {
    c.dense_steps = config.get_int_range("dense_steps", 0, kMax);
    c.dense_steps_source = source_of(config, "dense_steps");
  }
  if (cfg.has("admm")) {
    if (c.method != Method::kAdmm) cfg.fail("admm", "is read by method admm only");
    const Keyed a = cfg.child("admm");
    c.admm_steps = a.config().get_int_range("steps", 0, kMax);
    c.admm_steps_source = source_of(a.config(), "steps");
    c.interval = a.integer("interval");
    c.rho = a.number("rho");
    c.rho_growth = a.number("rho_growth");
    if (!(c.rho_growth >= 1)) a.fail("rho_growth", "must be >= 1 (1: constant rho)");
    if (a.has("rho_max")) c.rho_max = a.number("rho_max");
    if (!(c.rho_max >= c.rho)) a.fail("rho_max", "must be >= admm.rho");
  } else if (c.method == Method::kAdmm) {
    cfg.fail("admm", "method admm needs admm.steps (the ADMM phase before masked fine-tuning)");
  }
  if (cfg.has("distill")) {
    const Keyed d = cfg.child("distill");
    c.distill = true;
    c.temperature = d.number("temperature");
    c.alpha = d.number("alpha");
    if (d.has("teacher")) {
      c.teacher = d.path("teacher");
      c.teacher_source = source_of(d.config(), "teacher");
    } else if (c.dense_steps > 0) {
      // The weights after the dense phase are in no file a resumed run could reload.
      cfg.fail("dense_steps",
               "with distill needs distill.teacher (a dense checkpoint): the weights after the "
               "dense phase are not kept for a resumed run");
    }
  }
  return c;
}

std::vector<float> read_weights(const nn::ParamStore<float>& layout, nn::Norm norm,
                                const std::string& path, const std::string& source) {
  const nn::Checkpoint c = nn::read_checkpoint(path);
  const std::string where = source + ": " + path + ": ";
  if (c.params.size() != static_cast<std::size_t>(layout.count()))
    throw ConfigError(where + "checkpoint has " + std::to_string(c.params.size()) +
                      " parameters, the configured model has " + std::to_string(layout.count()));
  for (int i = 0; i < layout.count(); ++i) {
    const nn::ParamInfo& want = layout.info(i);
    const nlohmann::json& got = c.params[static_cast<std::size_t>(i)];
    if (got.value("name", "") != want.name || got.value("rows", -1) != want.rows ||
        got.value("cols", -1) != want.cols)
      throw ConfigError(where + "parameter " + std::to_string(i) + " is " + got.value("name", "?") +
                        " [" + std::to_string(got.value("rows", -1)) + ", " +
                        std::to_string(got.value("cols", -1)) + "], the configured model has " +
                        want.name + " [" + std::to_string(want.rows) + ", " +
                        std::to_string(want.cols) + "]");
  }
  const std::string why = nn::layout_mismatch(c, nn::layout_name(norm));
  if (!why.empty()) throw ConfigError(where + why);
  return c.values;
}

bool glob_match(const std::string& pattern, const std::string& name) {
  // Iterative matcher with one backtrack point: the last '*' seen.
  std::size_t p = 0, n = 0, star = std::string::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<Target> select_targets(const nn::ParamStore<float>& params,
                                   const SparsifyConfig& config) {
  try {
    sparse::validate(config.pattern);
  } catch (const ConfigError& e) {
    throw ConfigError(config.pattern_source + ": " + e.what());
  }
  // The first pattern that selects each parameter, to name it in errors.
  std::vector<int> by(static_cast<std::size_t>(params.count()), -1);
  for (std::size_t k = 0; k < config.params.size(); ++k) {
    bool any = false;
    for (int i = 0; i < params.count(); ++i) {
      if (!glob_match(config.params[k], params.info(i).name)) continue;
      any = true;
      if (by[static_cast<std::size_t>(i)] < 0)
        by[static_cast<std::size_t>(i)] = static_cast<int>(k);
    }
    if (!any)
      throw ConfigError(config.params_source + ": \"" + config.params[k] +
                        "\" matches no parameter of the model");
  }
  std::vector<Target> out;
  const int m = config.pattern.m;
  for (int i = 0; i < params.count(); ++i) {
    if (by[static_cast<std::size_t>(i)] < 0) continue;
    const nn::ParamInfo& info = params.info(i);
    const std::string tail = info.name.substr(info.name.rfind('.') + 1);
    Target t;
    t.param = i;
    t.name = info.name;
    t.offset = info.offset;
    if (tail.rfind("w_", 0) == 0 && info.rows > 1) {
      t.k = info.rows;  // y = x W, W [in, out]
      t.out = info.cols;
    } else if (info.name == "wte") {
      t.k = info.cols;  // the tied LM head: logits = x wteᵀ reduces over the width
      t.out = info.rows;
      t.k_is_rows = false;
    } else {
      throw ConfigError(config.params_source + ": \"" +
                        config.params[static_cast<std::size_t>(by[static_cast<std::size_t>(i)])] +
                        "\" selects " + info.name +
                        ", which is not a linear weight (biases, LayerNorm gains and the "
                        "position embedding stay dense)");
    }
    if (t.k % m != 0)
      throw ConfigError(config.pattern_source + ": " + config.pattern.str() +
                        " does not divide layer " + info.name + ": its reduction dimension is " +
                        std::to_string(t.k) + ", not a multiple of M = " + std::to_string(m));
    out.push_back(t);
  }
  return out;
}

sparse::MatrixF to_sparse_layout(const float* w, const Target& t) {
  if (t.k_is_rows) return Eigen::Map<const sparse::MatrixF>(w, t.k, t.out).transpose();
  return Eigen::Map<const sparse::MatrixF>(w, t.out, t.k);
}

std::vector<uint8_t> project_mask(const float* w, const Target& t, const sparse::Pattern& p) {
  const sparse::Mask m = sparse::project_mask(to_sparse_layout(w, t), p);
  if (!t.k_is_rows) return m.keep;
  std::vector<uint8_t> keep(static_cast<std::size_t>(t.k * t.out));
  for (int64_t r = 0; r < t.k; ++r)
    for (int64_t c = 0; c < t.out; ++c) keep[static_cast<std::size_t>(r * t.out + c)] = m(c, r);
  return keep;
}

sparse::Violation check(const nn::ParamStore<float>& params, const Target& t,
                        const sparse::Pattern& p) {
  return sparse::check(to_sparse_layout(params.value(t.param).data(), t), p);
}

nlohmann::json AdmmRecord::to_json() const {
  return {{"update", update}, {"step", step}, {"rho", rho},
          {"primal", primal}, {"dual", dual}, {"weight_norm", weight_norm}};
}

std::string records_jsonl(const std::vector<AdmmRecord>& records) {
  std::string s;
  for (const AdmmRecord& r : records) s += r.to_json().dump() + "\n";
  return s;
}

NmSparsifier::NmSparsifier(const SparsifyConfig& config, const nn::ParamStore<float>& params)
    : config_(config), targets_(select_targets(params, config)), rho_(config.rho) {}
// Out of line: cuda::AdmmDevice is complete only here.
NmSparsifier::~NmSparsifier() = default;
NmSparsifier::NmSparsifier(NmSparsifier&&) noexcept = default;
NmSparsifier& NmSparsifier::operator=(NmSparsifier&&) noexcept = default;

void NmSparsifier::start_admm(const nn::ParamStore<float>& params) {
  z_.clear();
  u_.clear();
  records_.clear();
  rho_ = std::min(config_.rho, config_.rho_max);
  for (const Target& t : targets_) {
    const float* w = params.value(t.param).data();
    const std::vector<uint8_t> keep = project_mask(w, t, config_.pattern);
    std::vector<float> z(keep.size());
    for (std::size_t e = 0; e < z.size(); ++e) z[e] = keep[e] ? w[e] : 0.0f;
    z_.push_back(std::move(z));
    u_.emplace_back(keep.size(), 0.0f);
  }
  admm_ = true;
}

void NmSparsifier::add_penalty_gradient(nn::ParamStore<float>& params) const {
  const auto rho = static_cast<float>(rho_);
  for (std::size_t j = 0; j < targets_.size(); ++j) {
    const nn::ParamInfo& info = params.info(targets_[j].param);
    const float* w = params.values().data() + info.offset;
    float* g = params.grads().data() + info.offset;
    const float* z = z_[j].data();
    const float* u = u_[j].data();
    for (std::size_t e = 0; e < z_[j].size(); ++e) g[e] += rho * (w[e] - z[e] + u[e]);
  }
}

const AdmmRecord& NmSparsifier::update(int64_t step, const nn::ParamStore<float>& params) {
  double primal2 = 0, dual2 = 0, w2 = 0;
  std::vector<float> wu;
  for (std::size_t j = 0; j < targets_.size(); ++j) {
    const float* w = params.value(targets_[j].param).data();
    std::vector<float>& z = z_[j];
    std::vector<float>& u = u_[j];
    wu.resize(z.size());
    for (std::size_t e = 0; e < z.size(); ++e) wu[e] = w[e] + u[e];
    const std::vector<uint8_t> keep = project_mask(wu.data(), targets_[j], config_.pattern);
    for (std::size_t e = 0; e < z.size(); ++e) {
      const float z_new = keep[e] ? wu[e] : 0.0f;
      dual2 += static_cast<double>(z_new - z[e]) * (z_new - z[e]);
      z[e] = z_new;
      const float r = w[e] - z_new;
      u[e] += r;
      primal2 += static_cast<double>(r) * r;
      w2 += static_cast<double>(w[e]) * w[e];
    }
  }
  return record_update(step, primal2, dual2, w2);
}

const AdmmRecord& NmSparsifier::record_update(int64_t step, double primal2, double dual2,
                                              double w2) {
  AdmmRecord rec;
  rec.update = static_cast<int64_t>(records_.size()) + 1;
  rec.step = step;
  rec.rho = rho_;
  rec.primal = std::sqrt(primal2);
  rec.dual = rho_ * std::sqrt(dual2);
  rec.weight_norm = std::sqrt(w2);
  records_.push_back(rec);
  // ρ_k after k updates; the scaled dual U = Y/ρ is rescaled so Y carries over (Boyd et
  // al. 2011, §3.4.1).
  const double next = std::min(
      config_.rho * std::pow(config_.rho_growth, static_cast<double>(rec.update)), config_.rho_max);
  if (next != rho_) {
    const auto scale = static_cast<float>(rho_ / next);
    if (device_) {
      device_->scale_u(scale);
    } else {
      for (auto& u : u_)
        for (float& v : u) v *= scale;
    }
    rho_ = next;
  }
  return records_.back();
}

void NmSparsifier::prune(nn::ParamStore<float>& params) {
  masks_.clear();
  for (const Target& t : targets_) {
    float* w = params.value(t.param).data();
    std::vector<uint8_t> keep = project_mask(w, t, config_.pattern);
    std::vector<float> mask(keep.size());
    for (std::size_t e = 0; e < keep.size(); ++e) {
      mask[e] = keep[e] ? 1.0f : 0.0f;
      if (!keep[e]) w[e] = 0.0f;
    }
    params.set_mask(t.param, mask);
    masks_.push_back(std::move(keep));
  }
  pruned_ = true;
  admm_ = false;
  z_.clear();
  u_.clear();
}

void NmSparsifier::enforce_masks(nn::ParamStore<float>& params) const {
  for (std::size_t j = 0; j < masks_.size(); ++j) {
    const nn::ParamInfo& info = params.info(targets_[j].param);
    float* w = params.values().data() + info.offset;
    float* g = params.grads().data() + info.offset;
    const std::vector<uint8_t>& keep = masks_[j];
    for (std::size_t e = 0; e < keep.size(); ++e)
      if (!keep[e]) w[e] = g[e] = 0.0f;
  }
}

// ---------------------------------------------------------------- CUDA backend

std::vector<uint8_t> project_mask_cuda(const float* w, const Target& t, const sparse::Pattern& p) {
  cuda::DeviceTarget d;
  d.k = t.k;
  d.out = t.out;
  d.k_is_rows = t.k_is_rows;
  std::vector<uint8_t> keep(static_cast<std::size_t>(t.k * t.out));
  cuda::api().project_host(w, d, p.n, p.m, keep.data());
  return keep;
}

cuda::AdmmDevice& NmSparsifier::device() {
  if (!device_) {
    std::vector<cuda::DeviceTarget> ts;
    for (const Target& t : targets_) {
      cuda::DeviceTarget d;
      d.offset = t.offset;
      d.k = t.k;
      d.out = t.out;
      d.k_is_rows = t.k_is_rows;
      ts.push_back(d);
    }
    device_ = cuda::api().make_admm(ts, config_.pattern.n, config_.pattern.m);
  }
  return *device_;
}

void NmSparsifier::start_admm(nn::CudaTransformer& model) {
  records_.clear();
  rho_ = std::min(config_.rho, config_.rho_max);
  device().start(model.device_params().values);
  z_.clear();
  u_.clear();
  admm_ = true;
}

void NmSparsifier::add_penalty_gradient(nn::CudaTransformer& model) const {
  if (!device_ || !admm_)
    throw Error("nm_sparsify: add_penalty_gradient on the device before start_admm", kExitFailure);
  const nn::CudaTransformer::DeviceParams d = model.device_params();
  device_->add_penalty(d.values, d.grads, static_cast<float>(rho_));
}

const AdmmRecord& NmSparsifier::update(int64_t step, nn::CudaTransformer& model) {
  if (!device_ || !admm_)
    throw Error("nm_sparsify: update on the device before start_admm", kExitFailure);
  const cuda::Residuals r = device_->update(model.device_params().values);
  return record_update(step, r.primal2, r.dual2, r.w2);
}

void NmSparsifier::prune(nn::CudaTransformer& model, nn::ParamStore<float>* host) {
  float* mask = model.device_mask();
  device().prune(model.device_params().values, mask);
  model.values_changed();
  // The masks come to the host once: mask files, the state file and masks() read them.
  masks_.clear();
  for (std::size_t j = 0; j < targets_.size(); ++j) {
    std::vector<uint8_t> keep(static_cast<std::size_t>(targets_[j].k * targets_[j].out));
    device_->download_keep(static_cast<int>(j), keep.data());
    masks_.push_back(std::move(keep));
  }
  pruned_ = true;
  admm_ = false;
  z_.clear();
  u_.clear();
  if (host) set_masks(*host);
}

void NmSparsifier::enforce_masks(nn::CudaTransformer& model) const {
  if (!device_ || !pruned_)
    throw Error("nm_sparsify: enforce_masks on the device before prune", kExitFailure);
  const nn::CudaTransformer::DeviceParams d = model.device_params();
  device_->enforce(d.values, d.grads);
  model.values_changed();
}

std::vector<float> NmSparsifier::admm_z(std::size_t target) const {
  if (!admm_) throw Error("nm_sparsify: Z exists while ADMM runs only", kExitFailure);
  if (!device_) return z_.at(target);
  const Target& t = targets_.at(target);
  std::vector<float> z(static_cast<std::size_t>(t.k * t.out)), u(z.size());
  device_->download_zu(static_cast<int>(target), z.data(), u.data());
  return z;
}

std::vector<float> NmSparsifier::admm_u(std::size_t target) const {
  if (!admm_) throw Error("nm_sparsify: U exists while ADMM runs only", kExitFailure);
  if (!device_) return u_.at(target);
  const Target& t = targets_.at(target);
  std::vector<float> z(static_cast<std::size_t>(t.k * t.out)), u(z.size());
  device_->download_zu(static_cast<int>(target), z.data(), u.data());
  return u;
}

void NmSparsifier::set_masks(nn::ParamStore<float>& params) const {
  for (std::size_t j = 0; j < targets_.size(); ++j)
    params.set_mask(targets_[j].param, std::vector<float>(masks_[j].begin(), masks_[j].end()));
}

sparse::Mask NmSparsifier::sparse_mask(std::size_t target) const {
  const Target& t = targets_.at(target);
  const std::vector<uint8_t>& keep = masks_.at(target);
  sparse::Mask m(t.out, t.k);
  if (!t.k_is_rows) {
    m.keep = keep;
    return m;
  }
  for (int64_t r = 0; r < t.k; ++r)
    for (int64_t c = 0; c < t.out; ++c) m(c, r) = keep[static_cast<std::size_t>(r * t.out + c)];
  return m;
}

void NmSparsifier::attach(nn::Trainer& trainer) {
  const nn::TrainConfig& tc = trainer.config();
  if (tc.backend == "cuda" && tc.optimizer_on_host)
    throw ConfigError(
        "train.optimizer_placement: nm_sparsify on backend cuda keeps its state on the device "
        "and needs the optimizer there too (device, not host)");
  if (!tc.offload.precision.empty())
    throw ConfigError(
        "train.offload: nm_sparsify's ADMM and re-masking run between clipping and AdamW, which "
        "the offload engine fuses on the host; train without offload");
  nn::Transformer<float>* student = trainer.transformer();
  if (!student) throw ConfigError("task: nm_sparsify needs a Transformer task (lm or classify)");
  if (config_.dense_steps > tc.steps)
    throw ConfigError(config_.dense_steps_source + ": " + std::to_string(config_.dense_steps) +
                      " dense steps exceed train.steps " + std::to_string(tc.steps));
  if (config_.method == Method::kAdmm && config_.dense_steps + config_.admm_steps > tc.steps)
    throw ConfigError(
        config_.admm_steps_source + ": " + std::to_string(config_.admm_steps) + " ADMM steps" +
        (config_.dense_steps ? " after " + std::to_string(config_.dense_steps) + " dense steps"
                             : std::string()) +
        " exceed train.steps " + std::to_string(tc.steps));
  if (config_.distill && !teacher_values_.empty() &&
      static_cast<int64_t>(teacher_values_.size()) != trainer.params().size())
    throw ConfigError("sparsify.distill: the teacher has " +
                      std::to_string(teacher_values_.size()) + " values, the student model " +
                      std::to_string(trainer.params().size()));
  nn::ParamStore<float>& params = trainer.params();
  if (!restored_) start_ = trainer.step();
  // Absolute steps: the sparsification begins after `begin` steps, ADMM prunes after `end`.
  const int64_t begin = std::max(start_, config_.dense_steps);
  const int64_t end = config_.dense_steps + config_.admm_steps;
  if (nn::CudaTransformer* gpu = trainer.cuda_transformer()) {
    attach_cuda(trainer, *gpu, begin, end);
    return;
  }

  const bool lm = student->config().head == nn::Head::kLanguageModel;
  // The teacher (dense: the set weights, else the current ones) joins the loss.
  auto start_distill = [this, student, lm](const nn::ParamStore<float>& p) {
    teacher_ = std::make_unique<nn::Transformer<float>>(student->config());
    teacher_->params().values() = teacher_values_.empty() ? p.values() : teacher_values_;
    const double temperature = config_.temperature, alpha = config_.alpha;
    // Teacher logits of the very batch the student sees, computed in the same step.
    student->logit_loss = [this, lm, temperature, alpha](const data::TokenBatch& b,
                                                         const nn::Matrix<float>& logits, float ce,
                                                         nn::Matrix<float>& dlogits) {
      teacher_->loss(b);
      return distill_loss<float>(logits, teacher_->logits(), lm ? b.targets : b.labels, temperature,
                                 alpha, ce, dlogits);
    };
  };
  // Where the sparsification begins: the teacher is copied before any pruning (it stays
  // dense), then ASP prunes or ADMM starts.
  auto begin_sparsify = [this, end, start_distill](nn::ParamStore<float>& p, int64_t now) {
    if (config_.distill) start_distill(p);
    if (config_.method == Method::kAsp || end <= now)
      prune(p);
    else
      start_admm(p);
  };
  if (restored_) {
    // Continue where the saved state left off: the checkpoint restored W and AdamW.
    if (config_.distill && trainer.step() >= begin) {
      if (teacher_values_.empty())
        throw ConfigError("sparsify.distill: a resumed run needs the teacher's weights set");
      start_distill(params);
    }
    if (pruned_)
      for (std::size_t j = 0; j < targets_.size(); ++j)
        params.set_mask(targets_[j].param, std::vector<float>(masks_[j].begin(), masks_[j].end()));
  } else if (trainer.step() >= begin) {
    begin_sparsify(params, trainer.step());
  }
  const int64_t total = tc.steps, every = tc.checkpoint_every;
  trainer.on_gradients = [this](int64_t, nn::ParamStore<float>& p) {
    if (pruned_)
      enforce_masks(p);
    else if (admm_running())
      add_penalty_gradient(p);
  };
  trainer.on_step_end = [this, begin, end, total, every, begin_sparsify](int64_t step,
                                                                         nn::ParamStore<float>& p) {
    const int64_t done = step + 1;
    if (pruned_) {
      enforce_masks(p);  // AdamW's momentum would otherwise move pruned weights
    } else if (admm_running()) {
      if ((done - begin) % config_.interval == 0) update(step, p);
      if (done >= end) prune(p);
    } else if (done == begin) {
      begin_sparsify(p, done);  // the end of the dense phase
    }
    // The trainer checkpoints after this step: the state goes beside it.
    if (!state_file_.empty() && (done == total || (every > 0 && done % every == 0)))
      save_state(state_file_, done);
  };
}

// The CPU attach above step for step, on the device: the same phases at the same steps.
void NmSparsifier::attach_cuda(nn::Trainer& trainer, nn::CudaTransformer& gpu, int64_t begin,
                               int64_t end) {
  const nn::TrainConfig& tc = trainer.config();
  nn::ParamStore<float>& params = trainer.params();
  const int64_t max_tokens = static_cast<int64_t>(tc.batch_size) * tc.seq_len;
  // The teacher is a second, dense model on the device; its logits of the very batch the
  // student sees, computed in the same step, feed distill_loss_cuda in the student's seam.
  auto start_distill = [this, &gpu, &params, max_tokens] {
    nn::ParamStore<float> w = params;  // the layout; the values follow
    w.clear_masks();
    if (teacher_values_.empty())
      gpu.download_params(w);  // the current weights live on the device (once, here)
    else
      w.values() = teacher_values_;
    cuda_teacher_ =
        std::make_unique<nn::CudaTransformer>(gpu.config(), max_tokens, gpu.precision());
    cuda_teacher_->upload_params(w);
    const double temperature = config_.temperature, alpha = config_.alpha;
    gpu.set_logit_loss([this, temperature, alpha](const data::TokenBatch& b,
                                                  const nn::CudaTransformer::DeviceLogits& s,
                                                  float ce) {
      cuda_teacher_->loss(b);
      return distill_loss_cuda(s, cuda_teacher_->device_logits().logits, temperature, alpha, ce);
    });
  };
  auto begin_sparsify = [this, end, start_distill, &params](nn::CudaTransformer& m, int64_t now) {
    if (config_.distill) start_distill();
    if (config_.method == Method::kAsp || end <= now)
      prune(m, &params);
    else
      start_admm(m);
  };
  // The host store holds the starting weights (the caller's, or the checkpoint a resume
  // loaded, with the restored masks): the device takes them once, here.
  if (restored_ && pruned_) set_masks(params);
  gpu.upload_params(params);
  if (restored_) {
    device_.reset();
    for (std::size_t j = 0; j < targets_.size(); ++j) {
      if (admm_) device().upload_zu(static_cast<int>(j), z_[j].data(), u_[j].data());
      if (pruned_) device().upload_keep(static_cast<int>(j), masks_[j].data());
    }
    z_.clear();  // the device holds them from here on
    u_.clear();
    if (config_.distill && trainer.step() >= begin) {
      if (teacher_values_.empty())
        throw ConfigError("sparsify.distill: a resumed run needs the teacher's weights set");
      start_distill();
    }
  } else if (trainer.step() >= begin) {
    begin_sparsify(gpu, trainer.step());
  }
  const int64_t total = tc.steps, every = tc.checkpoint_every;
  trainer.on_device_gradients = [this](int64_t, nn::CudaTransformer& m) {
    if (pruned_)
      enforce_masks(m);
    else if (admm_running())
      add_penalty_gradient(m);
  };
  trainer.on_device_step_end = [this, begin, end, total, every, begin_sparsify, &params](
                                   int64_t step, nn::CudaTransformer& m) {
    const int64_t done = step + 1;
    if (pruned_) {
      enforce_masks(m);  // AdamW's momentum would otherwise move pruned weights
    } else if (admm_running()) {
      if ((done - begin) % config_.interval == 0) update(step, m);
      if (done >= end) prune(m, &params);
    } else if (done == begin) {
      begin_sparsify(m, done);  // the end of the dense phase
    }
    if (!state_file_.empty() && (done == total || (every > 0 && done % every == 0)))
      save_state(state_file_, done);
  };
}

namespace {

constexpr char kStateMagic[8] = {'T', 'S', 'L', 'A', 'D', 'M', 'M', '1'};

uint64_t state_hash(const char* p, std::size_t n) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (std::size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 1099511628211ull;
  return h;
}

template <typename V>
void put(std::string& s, const V& v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof(V));
}

}  // namespace

std::string NmSparsifier::state_bytes(int64_t step) const {
  const char* phase = pruned_ ? "masked" : admm_running() ? "admm" : "dense";
  nlohmann::json h = {{"step", step}, {"start", start_}, {"rho", rho_}, {"phase", phase}};
  h["records"] = nlohmann::json::array();
  for (const AdmmRecord& r : records_) h["records"].push_back(r.to_json());
  h["targets"] = nlohmann::json::array();
  for (const Target& t : targets_)
    h["targets"].push_back({{"name", t.name}, {"size", t.k * t.out}});
  const std::string header = h.dump();
  std::string s(kStateMagic, sizeof(kStateMagic));
  put<uint64_t>(s, header.size());
  s += header;
  for (std::size_t j = 0; j < targets_.size(); ++j) {
    if (pruned_) {
      s.append(reinterpret_cast<const char*>(masks_[j].data()), masks_[j].size());
    } else if (admm_running() && device_) {
      std::vector<float> z(static_cast<std::size_t>(targets_[j].k * targets_[j].out)), u(z.size());
      device_->download_zu(static_cast<int>(j), z.data(), u.data());
      s.append(reinterpret_cast<const char*>(z.data()), z.size() * sizeof(float));
      s.append(reinterpret_cast<const char*>(u.data()), u.size() * sizeof(float));
    } else if (admm_running()) {
      s.append(reinterpret_cast<const char*>(z_[j].data()), z_[j].size() * sizeof(float));
      s.append(reinterpret_cast<const char*>(u_[j].data()), u_[j].size() * sizeof(float));
    }
  }
  put<uint64_t>(s, state_hash(s.data(), s.size()));
  return s;
}

void NmSparsifier::save_state(const std::string& path, int64_t step) const {
  const std::string bytes = state_bytes(step);
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) std::filesystem::rename(path, path + ".prev", ec);
  if (ec) throw IoError(path + ": cannot keep the previous ADMM state: " + ec.message());
  write_file_atomic(path, bytes, false);
}

bool NmSparsifier::load_state(const std::string& path, int64_t step) {
  for (const std::string& file : {path, path + ".prev"}) {
    std::ifstream in(file, std::ios::binary);
    if (!in) continue;
    const std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto bad = [&](const std::string& why) { throw IoError(file + ": ADMM state: " + why); };
    if (s.size() < 24 || s.compare(0, 8, kStateMagic, 8) != 0) bad("not an ADMM state file");
    uint64_t stored = 0, len = 0;
    std::memcpy(&stored, s.data() + s.size() - 8, 8);
    if (state_hash(s.data(), s.size() - 8) != stored) bad("hash mismatch (truncated or corrupted)");
    std::memcpy(&len, s.data() + 8, 8);
    if (len > s.size() - 24) bad("header runs past the end");
    nlohmann::json h;
    try {
      h = nlohmann::json::parse(s.substr(16, len));
    } catch (const nlohmann::json::exception& e) {
      bad(std::string("bad header: ") + e.what());
    }
    if (h.at("step").get<int64_t>() != step) continue;
    const std::string phase = h.at("phase").get<std::string>();
    if (phase != "dense" && phase != "admm" && phase != "masked") bad("unknown phase " + phase);
    const bool pruned = phase == "masked", admm = phase == "admm";
    const nlohmann::json& ts = h.at("targets");
    if (ts.size() != targets_.size()) bad("written for other sparsified parameters");
    std::size_t need = 0;
    for (std::size_t j = 0; j < targets_.size(); ++j) {
      const int64_t n = targets_[j].k * targets_[j].out;
      if (ts[j].at("name") != targets_[j].name || ts[j].at("size").get<int64_t>() != n)
        bad("written for " + ts[j].dump() + ", this run sparsifies " + targets_[j].name);
      need += static_cast<std::size_t>(n) * (pruned ? 1 : admm ? 2 * sizeof(float) : 0);
    }
    if (16 + len + need + 8 != s.size()) bad("size does not match its header");
    const char* p = s.data() + 16 + len;
    z_.clear();
    u_.clear();
    masks_.clear();
    for (const Target& t : targets_) {
      const auto n = static_cast<std::size_t>(t.k * t.out);
      if (pruned) {
        masks_.emplace_back(p, p + n);
        p += n;
      } else if (admm) {
        std::vector<float> z(n), u(n);
        std::memcpy(z.data(), p, n * sizeof(float));
        std::memcpy(u.data(), p + n * sizeof(float), n * sizeof(float));
        p += 2 * n * sizeof(float);
        z_.push_back(std::move(z));
        u_.push_back(std::move(u));
      }
    }
    records_.clear();
    for (const nlohmann::json& r : h.at("records")) {
      AdmmRecord rec;
      rec.update = r.at("update");
      rec.step = r.at("step");
      rec.rho = r.at("rho");
      rec.primal = r.at("primal");
      rec.dual = r.at("dual");
      rec.weight_norm = r.at("weight_norm");
      records_.push_back(rec);
    }
    start_ = h.at("start");
    rho_ = h.at("rho");
    pruned_ = pruned;
    admm_ = admm;
    device_.reset();  // attach moves the restored state to the device (CUDA backend)
    restored_ = true;
    return true;
  }
  return false;
}

template <typename T>
T distill_loss(const nn::Matrix<T>& student, const nn::Matrix<T>& teacher,
               const std::vector<int32_t>& targets, double temperature, double alpha, T ce_loss,
               nn::Matrix<T>& dlogits) {
  if (teacher.rows() != student.rows() || teacher.cols() != student.cols() ||
      dlogits.rows() != student.rows() || dlogits.cols() != student.cols() ||
      static_cast<Eigen::Index>(targets.size()) != student.rows())
    throw Error("nm_sparsify: distill_loss: student " + std::to_string(student.rows()) + "x" +
                    std::to_string(student.cols()) + ", teacher " + std::to_string(teacher.rows()) +
                    "x" + std::to_string(teacher.cols()) + ", " + std::to_string(targets.size()) +
                    " targets",
                kExitFailure);
  const int64_t count =
      std::count_if(targets.begin(), targets.end(), [](int32_t t) { return t >= 0; });
  dlogits *= static_cast<T>(1 - alpha);
  if (count == 0) return static_cast<T>((1 - alpha) * ce_loss);
  const double tau = temperature;
  const Eigen::Index v = student.cols();
  std::vector<double> log_q(static_cast<std::size_t>(v)), log_p(static_cast<std::size_t>(v));
  // Log-softmax of x/τ, shifted by the row maximum.
  auto log_softmax = [&](const auto& row, std::vector<double>& out) {
    double mx = -std::numeric_limits<double>::infinity();
    for (Eigen::Index i = 0; i < v; ++i) mx = std::max(mx, static_cast<double>(row(i)) / tau);
    double sum = 0;
    for (Eigen::Index i = 0; i < v; ++i) sum += std::exp(static_cast<double>(row(i)) / tau - mx);
    const double lse = mx + std::log(sum);
    for (Eigen::Index i = 0; i < v; ++i)
      out[static_cast<std::size_t>(i)] = static_cast<double>(row(i)) / tau - lse;
  };
  double kl_sum = 0;
  const double g = alpha * tau / static_cast<double>(count);
  for (Eigen::Index r = 0; r < student.rows(); ++r) {
    if (targets[static_cast<std::size_t>(r)] < 0) continue;
    log_softmax(student.row(r), log_q);
    log_softmax(teacher.row(r), log_p);
    for (Eigen::Index i = 0; i < v; ++i) {
      const auto k = static_cast<std::size_t>(i);
      const double p = std::exp(log_p[k]), q = std::exp(log_q[k]);
      kl_sum += p * (log_p[k] - log_q[k]);
      // d/ds_i of τ² KL = τ (q_i − p_i).
      dlogits(r, i) += static_cast<T>(g * (q - p));
    }
  }
  return static_cast<T>((1 - alpha) * static_cast<double>(ce_loss) +
                        alpha * tau * tau * kl_sum / static_cast<double>(count));
}

template float distill_loss<float>(const nn::Matrix<float>&, const nn::Matrix<float>&,
                                   const std::vector<int32_t>&, double, double, float,
                                   nn::Matrix<float>&);

namespace {

// distill_loss's two factors for the kernel: (1 − α) on the cross-entropy gradient (as the
// CPU's float multiply) and α τ / n on (q − p), times the loss scale the dlogits carry.
cuda::DistillArgs distill_args(int64_t rows, int vocab, int64_t counted, float loss_scale,
                               double temperature, double alpha) {
  cuda::DistillArgs a;
  a.rows = rows;
  a.vocab = vocab;
  a.temperature = temperature;
  a.ce_factor = static_cast<float>(1 - alpha);
  a.kd_factor = counted ? alpha * temperature / static_cast<double>(counted) * loss_scale : 0.0;
  return a;
}

// distill_loss's return value from the kernel's KL sum.
float distill_total(double kl_sum, int64_t counted, double temperature, double alpha,
                    float ce_loss) {
  if (counted == 0) return static_cast<float>((1 - alpha) * ce_loss);
  return static_cast<float>((1 - alpha) * static_cast<double>(ce_loss) +
                            alpha * temperature * temperature * kl_sum /
                                static_cast<double>(counted));
}

}  // namespace

float distill_loss_cuda(const nn::CudaTransformer::DeviceLogits& student,
                        const float* teacher_logits, double temperature, double alpha,
                        float ce_loss) {
  cuda::DistillArgs a = distill_args(student.rows, student.vocab, student.counted,
                                     student.loss_scale, temperature, alpha);
  a.student = student.logits;
  a.teacher = teacher_logits;
  a.targets = student.targets;
  a.dlogits = student.dlogits;
  const double kl = cuda::api().distill(a);
  return distill_total(kl, student.counted, temperature, alpha, ce_loss);
}

float distill_loss_cuda(const nn::Matrix<float>& student, const nn::Matrix<float>& teacher,
                        const std::vector<int32_t>& targets, double temperature, double alpha,
                        float ce_loss, nn::Matrix<float>& dlogits) {
  if (teacher.rows() != student.rows() || teacher.cols() != student.cols() ||
      dlogits.rows() != student.rows() || dlogits.cols() != student.cols() ||
      static_cast<Eigen::Index>(targets.size()) != student.rows())
    throw Error("nm_sparsify: distill_loss_cuda: student " + std::to_string(student.rows()) + "x" +
                    std::to_string(student.cols()) + ", teacher " + std::to_string(teacher.rows()) +
                    "x" + std::to_string(teacher.cols()) + ", " + std::to_string(targets.size()) +
                    " targets",
                kExitFailure);
  const int64_t counted =
      std::count_if(targets.begin(), targets.end(), [](int32_t t) { return t >= 0; });
  cuda::DistillArgs a = distill_args(student.rows(), static_cast<int>(student.cols()), counted,
                                     1.0f, temperature, alpha);
  a.student = student.data();
  a.teacher = teacher.data();
  a.targets = targets.data();
  a.dlogits = dlogits.data();
  const double kl = cuda::api().distill_host(a);
  return distill_total(kl, counted, temperature, alpha, ce_loss);
}
template double distill_loss<double>(const nn::Matrix<double>&, const nn::Matrix<double>&,
                                     const std::vector<int32_t>&, double, double, double,
                                     nn::Matrix<double>&);

}  // namespace tessel::nm_sparsify
