// Transformer tensor trace from shapes: mirrors models/nn/transformer.cpp and trainer.cpp.
#include "sim/sentinel/trace_gen.h"

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/core/error.h"

namespace tessel::sentinel {

TraceFile generate_transformer_trace(const TransformerShape& s) {
  auto need = [](int64_t v, const char* what) {
    if (v <= 0)
      throw ConfigError(std::string("sentinel: transformer shape: ") + what + " must be positive");
  };
  need(s.vocab, "vocab");
  need(s.max_seq, "max_seq");
  need(s.layers, "layers");
  need(s.width, "width");
  need(s.heads, "heads");
  need(s.mlp_ratio, "mlp_ratio");
  need(s.batch, "batch");
  need(s.seq, "seq");
  if (s.width % s.heads)
    throw ConfigError("sentinel: transformer shape: width is not divisible by heads");
  if (s.seq > s.max_seq) throw ConfigError("sentinel: transformer shape: seq exceeds max_seq");
  TraceFile t;
  t.name = "generated transformer";
  std::unordered_map<std::string, uint32_t> index;
  auto ev = [&](int layer, char op, const std::string& name, int64_t bytes) {
    auto [it, fresh] = index.emplace(name, static_cast<uint32_t>(t.tensors.size()));
    if (fresh) t.tensors.push_back(name);
    t.events.push_back(TraceEvent{s.step, layer, op, it->second, bytes, 0});
  };
  const int64_t c = s.width, f = s.mlp_ratio * s.width, n = s.batch * s.seq, B = 4;  // fp32
  // Parameters in ParamStore order (name, elements, layer).
  struct P {
    std::string name;
    int64_t elems;
    int layer;
  };
  std::vector<P> params = {{"wte", s.vocab * c, -1}, {"wpe", s.max_seq * c, -1}};
  for (int l = 0; l < s.layers; ++l) {
    const std::string h = "h" + std::to_string(l) + ".";
    for (const P& p : std::vector<P>{{h + "ln1_g", c, l},
                                     {h + "ln1_b", c, l},
                                     {h + "w_qkv", c * 3 * c, l},
                                     {h + "b_qkv", 3 * c, l},
                                     {h + "w_proj", c * c, l},
                                     {h + "b_proj", c, l},
                                     {h + "ln2_g", c, l},
                                     {h + "ln2_b", c, l},
                                     {h + "w_fc", c * f, l},
                                     {h + "b_fc", f, l},
                                     {h + "w_fc2", f * c, l},
                                     {h + "b_fc2", c, l}})
      params.push_back(p);
  }
  params.push_back({"lnf_g", c, -1});
  params.push_back({"lnf_b", c, -1});
  int64_t total = 0;
  for (const P& p : params) total += p.elems * B;
  // Parameters of each layer (index layer + 1), in store order.
  std::vector<std::vector<size_t>> by_layer(static_cast<size_t>(s.layers) + 1);
  for (size_t i = 0; i < params.size(); ++i)
    by_layer[static_cast<size_t>(params[i].layer + 1)].push_back(i);
  auto trace_params = [&](int layer, char op, const char* prefix) {
    for (size_t i : by_layer[static_cast<size_t>(layer + 1)])
      ev(layer, op, prefix + params[i].name, params[i].elems * B);
  };
  const std::vector<std::pair<const char*, int64_t>> acts = {
      {"ln1", n * c},  {"qkv", n * 3 * c}, {"att", s.batch * s.heads * s.seq * s.seq},
      {"atty", n * c}, {"x_mid", n * c},   {"ln2", n * c},
      {"fc", n * f},   {"act", n * f}};
  // Forward.
  trace_params(-1, 'R', "param:");
  ev(-1, 'A', "x0", n * c * B);
  ev(-1, 'W', "x0", n * c * B);
  for (int l = 0; l < s.layers; ++l) {
    trace_params(l, 'R', "param:");
    const std::string h = "h" + std::to_string(l) + ".";
    for (const auto& [name, elems] : acts) {
      ev(l, 'A', h + name, elems * B);
      ev(l, 'W', h + name, elems * B);
    }
  }
  for (const auto& [name, elems] :
       std::vector<std::pair<const char*, int64_t>>{{"lnf", n * c}, {"logits", n * s.vocab}}) {
    ev(-1, 'A', name, elems * B);
    ev(-1, 'W', name, elems * B);
  }
  // Backward.
  ev(-1, 'R', "logits", n * s.vocab * B);
  ev(-1, 'R', "lnf", n * c * B);
  ev(-1, 'F', "logits", n * s.vocab * B);
  ev(-1, 'F', "lnf", n * c * B);
  for (int64_t l = s.layers - 1; l >= 0; --l) {
    const int li = static_cast<int>(l);
    trace_params(li, 'R', "param:");
    trace_params(li, 'W', "grad:");
    const std::string h = "h" + std::to_string(l) + ".";
    for (auto it = acts.rbegin(); it != acts.rend(); ++it) {
      ev(li, 'R', h + it->first, it->second * B);
      ev(li, 'F', h + it->first, it->second * B);
    }
  }
  ev(-1, 'F', "x0", n * c * B);
  trace_params(-1, 'W', "grad:");
  // Trainer: AdamW over the whole parameter store.
  for (const char* name : {"params", "grads", "adam_m", "adam_v"}) ev(-1, 'R', name, total);
  for (const char* name : {"params", "adam_m", "adam_v"}) ev(-1, 'W', name, total);
  return t;
}

}  // namespace tessel::sentinel
