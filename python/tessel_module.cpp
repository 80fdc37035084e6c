// Python bindings (pybind11) of Tessel's runtime and reference kernels: the `_tessel`
// extension behind the pure-Python package python/tessel/.
//
// Everything here calls the same C++ the `tessel` tool calls; nothing is implemented twice.
// Configs and results cross the boundary as JSON text (the format SimResult and points.jsonl
// already use), arrays as NumPy buffers.
#include <pybind11/eigen.h>
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/ann/knn.h"
#include "models/ann/nsg.h"
#include "models/ann/search.h"
#include "models/lstm/lstm.h"
#include "models/lstm/lstm_fixed.h"
#include "models/sparse/compressed.h"
#include "models/sparse/nm_pattern.h"
#include "runtime/core/atomic_file.h"
#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "runtime/core/keys.h"
#include "runtime/core/point_record.h"
#include "runtime/core/registry.h"
#include "runtime/core/runner.h"
#include "runtime/report/report.h"
#include "runtime/sweep/child_process.h"
#include "runtime/sweep/sweep.h"
#include "runtime/sweep/sweep_plan.h"

#ifndef TESSEL_VERSION
#define TESSEL_VERSION "unknown"
#endif

namespace py = pybind11;
namespace fs = std::filesystem;
using namespace tessel;

namespace {

// ---------------------------------------------------------------- errors
// The Python classes (tessel.Error, ConfigError, IoError, SimError) are defined in
// tessel/_errors.py, which parses file, line and key out of the message; __init__.py hands
// them over with _set_error_classes before anything can throw.
py::object g_error, g_config_error, g_io_error, g_sim_error;

void raise_as(const py::object& cls, const std::string& message) {
  if (!cls) throw std::runtime_error(message);  // the package was not initialised
  py::object exc = cls(message);
  PyErr_SetObject(cls.ptr(), exc.ptr());
}

// The class a tessel::Error of this exit code maps to (used for errors that crossed a
// process boundary as text).
py::object class_for(const std::string& kind) {
  if (kind == "ConfigError") return g_config_error;
  if (kind == "IoError") return g_io_error;
  if (kind == "SimError") return g_sim_error;
  return g_error;
}

std::string kind_of(const Error& e) {
  if (dynamic_cast<const ConfigError*>(&e)) return "ConfigError";
  if (dynamic_cast<const IoError*>(&e)) return "IoError";
  if (dynamic_cast<const SimError*>(&e)) return "SimError";
  return "Error";
}

// ---------------------------------------------------------------- config tree
std::string json_quote(const std::string& s) {
  return nlohmann::json(s).dump();
}

bool plain_key(const std::string& k) {
  if (k.empty()) return false;
  for (char c : k)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return false;
  return true;
}

// A relative path that exists beside the file the value came from is written absolute, so
// the YAML still names the same files wherever it is saved. A string counts as a path only
// when it has a '/' or a '.', and only when the file or folder exists: other strings
// ("sharp", "2:4") are left alone.
std::string portable_scalar(const ConfigNode& n) {
  const std::string& s = n.scalar;
  if (s.empty() || s[0] == '/' || n.location.line == 0) return s;
  if (s.find('/') == std::string::npos && s.find('.') == std::string::npos) return s;
  fs::path base = fs::path(n.location.file).parent_path();
  std::error_code ec;
  fs::path p = base / s;
  if (!fs::exists(p, ec)) return s;
  return fs::absolute(p, ec).lexically_normal().string();
}

// Block-style YAML of a config tree. Plain scalars are written as they were read (Config
// types a scalar by its text, so the reloaded tree types it the same), quoted ones as JSON
// strings (valid YAML double-quoted scalars), so to_json() is the same after a round trip.
void emit_yaml(const ConfigNode& n, int indent, std::string& out);

void emit_scalar_line(const ConfigNode& n, std::string& out) {
  if (n.kind == ConfigNode::Kind::kNull) {
    out += "null\n";
    return;
  }
  std::string s = portable_scalar(n);
  // A folded multi-line plain scalar, or one with edge spaces, is never a number or a
  // boolean, so quoting it keeps its type while keeping the YAML one value per line.
  const bool awkward =
      s.empty() || s.find('\n') != std::string::npos || s.front() == ' ' || s.back() == ' ';
  if (n.quoted || s != n.scalar || awkward) {
    out += json_quote(s) + "\n";
  } else {
    out += s + "\n";
  }
}

bool is_empty_collection(const ConfigNode& n) {
  return (n.kind == ConfigNode::Kind::kMap && n.map.empty()) ||
         (n.kind == ConfigNode::Kind::kSequence && n.sequence.empty());
}

void emit_value_after(const ConfigNode& n, int indent, std::string& out) {
  // After "key:" or "-": scalars on the same line, collections below.
  if (n.kind == ConfigNode::Kind::kMap && !n.map.empty()) {
    out += "\n";
    emit_yaml(n, indent, out);
  } else if (n.kind == ConfigNode::Kind::kSequence && !n.sequence.empty()) {
    out += "\n";
    emit_yaml(n, indent, out);
  } else if (is_empty_collection(n)) {
    out += n.kind == ConfigNode::Kind::kMap ? " {}\n" : " []\n";
  } else {
    out += " ";
    emit_scalar_line(n, out);
  }
}

void emit_yaml(const ConfigNode& n, int indent, std::string& out) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  if (n.kind == ConfigNode::Kind::kMap) {
    for (const auto& [key, value] : n.map) {
      out += pad + (plain_key(key) ? key : json_quote(key)) + ":";
      emit_value_after(*value, indent + 2, out);
    }
  } else if (n.kind == ConfigNode::Kind::kSequence) {
    for (const auto& item : n.sequence) {
      out += pad + "-";
      emit_value_after(*item, indent + 2, out);
    }
  } else {
    out += pad;
    emit_scalar_line(n, out);
  }
}

// A loaded experiment: the tree the runner reads, with the file and overrides it came from.
struct ConfigHandle {
  std::string path;
  std::vector<std::pair<std::string, std::string>> overrides;  // key path, YAML text
  Config tree;
};

ConfigHandle load_config(const std::string& path,
                         const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<Override> parsed;
  // Exactly what `tessel run --set key=value` does, so messages name "--set key".
  for (const auto& [key, text] : overrides) parsed.push_back(parse_override(key + "=" + text));
  ConfigHandle c{path, overrides, load_experiment(path, parsed)};
  // Checked now, as `tessel run` checks before running: a bad key fails here.
  prepare_experiment(c.tree);
  return c;
}

std::string config_yaml(const ConfigHandle& c) {
  std::string out;
  emit_yaml(*c.tree.node(), 0, out);
  return out;
}

// ---------------------------------------------------------------- runs
// A private folder for one child's files, removed when done.
struct TempDir {
  std::string path;
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/tessel-run-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw IoError(tmpl + ": cannot create a temporary folder");
    path = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `fn` on a new thread and waits for it, rethrowing what it threw. Children are
// forked from there: GNU OpenMP keeps its thread pool in the thread that first ran a
// parallel region, and a fork of that thread hangs in its next parallel region (the pool's
// threads are not in the child). The interpreter's thread may have run kernels; a new
// thread has no pool, so its forks start their own. The thread lives until the child ends,
// as PR_SET_PDEATHSIG (children die with their parent) watches the forking thread.
void in_fresh_thread(const std::function<void()>& fn) {
  std::exception_ptr error;
  std::thread t([&]() {
    try {
      fn();
    } catch (...) {
      error = std::current_exception();
    }
  });
  t.join();
  if (error) std::rethrow_exception(error);
}

struct RunOutcome {
  std::string result_json;  // SimResult JSON when the run finished
  std::string error_kind, error_message;
  std::string log;  // what the run printed on stderr
};

// Runs the experiment in a fork of this process (SystemC elaborates once per process; the
// fork also keeps a crash from taking the interpreter down). The configuration is checked
// here first, so its errors need no trip through the child.
RunOutcome run_in_child(const ConfigHandle& c, const std::string& out_dir,
                        const std::string& trace_path, double timeout_s) {
  PreparedRun prepared = prepare_experiment(c.tree);
  TempDir tmp;
  const std::string result_path = tmp.path + "/result.json";
  const std::string error_path = tmp.path + "/error.json";
  const std::string stderr_path = tmp.path + "/stderr";
  RunOutcome out;
  sweep::ChildOutcome outcome;
  {
    py::gil_scoped_release release;
    auto body = [&]() -> int {
      try {
        std::unique_ptr<TraceWriter> trace;
        if (!trace_path.empty()) trace = std::make_unique<TraceWriter>(trace_path);
        SimResult r = execute(prepared, trace.get(), RunOutputs{out_dir, "", &std::cerr});
        if (trace) trace->close();
        if (!out_dir.empty())
          write_file_atomic((fs::path(out_dir) / "result.json").string(),
                            r.to_json().dump(2) + "\n", false);
        write_file_atomic(result_path, r.to_json().dump(), false);
        return kExitOk;
      } catch (const std::exception& e) {
        nlohmann::json err;
        const auto* te = dynamic_cast<const Error*>(&e);
        err["kind"] = te ? kind_of(*te) : "internal";
        err["message"] = te ? std::string(e.what()) : std::string("internal error: ") + e.what();
        try {
          write_file_atomic(error_path, err.dump(), false);
        } catch (...) {
        }
        return report_current_exception(std::cerr);
      }
    };
    in_fresh_thread([&]() {
      sweep::Child child(body, stderr_path);
      auto start = std::chrono::steady_clock::now();
      auto sleep = std::chrono::microseconds(50);
      while (!child.poll(outcome)) {
        if (timeout_s > 0 &&
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >
                timeout_s)
          child.kill_now();
        std::this_thread::sleep_for(sleep);
        sleep = std::min(sleep * 2, std::chrono::microseconds(1000));
      }
    });
  }
  out.log = read_text(stderr_path);
  if (outcome.exited && outcome.exit_code == kExitOk && fs::exists(result_path)) {
    out.result_json = read_text(result_path);
  } else if (fs::exists(error_path)) {
    auto err = nlohmann::json::parse(read_text(error_path));
    out.error_kind = err.value("kind", "internal");
    out.error_message = err.value("message", "");
  } else {
    out.error_kind = "SimError";
    out.error_message = "the run ended with " + outcome.describe(timeout_s) +
                        (out.log.empty() ? "" : ": " + sweep::file_tail(stderr_path, 1024));
  }
  return out;
}

// ---------------------------------------------------------------- numpy helpers
// A NumPy array that owns a moved-in C++ container: the data is not copied.
template <typename Container>
py::array_t<typename Container::value_type> adopt(Container&& v,
                                                  const std::vector<py::ssize_t>& shape) {
  auto* heap = new Container(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<Container*>(p); });
  return py::array_t<typename Container::value_type>(shape, heap->data(), owner);
}

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using Int8Array = py::array_t<int8_t, py::array::c_style | py::array::forcecast>;

// Kernel inputs the binding copied: each conversion of an argument to a C-contiguous array of
// the kernel's type, and each argument the C++ side must own (AnnIndex's base, an LSTM's
// initial state, nm_decompress's values and indices). tessel._conversions() reads it, so
// the tests can hold the no-copy path to its word.
std::atomic<int64_t> g_conversions{0};

// The kernel's view of an argument: the array itself when it already is a C-contiguous,
// aligned, native-order array of T (no copy: the kernel reads NumPy's buffer), else one
// conversion by NumPy (counted), which also raises NumPy's own error for what cannot be
// converted.
template <typename T>
py::array_t<T, py::array::c_style | py::array::forcecast> c_array(const py::handle& a) {
  using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;
  constexpr int kAligned = 0x0100;  // NPY_ARRAY_ALIGNED
  if (py::array_t<T, py::array::c_style>::check_(a) &&
      (py::reinterpret_borrow<py::array>(a).flags() & kAligned))
    return py::reinterpret_borrow<Array>(a);
  ++g_conversions;
  py::object converted =
      py::module_::import("numpy").attr("ascontiguousarray")(a, py::dtype::of<T>());
  return py::reinterpret_borrow<Array>(converted);
}

// Whether an argument is an int8 array (which the N:M kernels take as it is).
bool is_int8(const py::handle& a) {
  if (!py::isinstance<py::array>(a)) return false;
  const py::dtype d = py::reinterpret_borrow<py::array>(a).dtype();
  return d.kind() == 'i' && d.itemsize() == 1;
}

ann::VectorView vector_view(const FloatArray& a, const char* what) {
  if (a.ndim() != 2) throw ConfigError(std::string(what) + ": expected a 2-D array (n, dim)");
  return ann::VectorView(a.data(), a.shape(0), static_cast<int>(a.shape(1)));
}

sparse::Pattern pattern_of(const std::string& text) {
  return sparse::Pattern::parse(text);
}

// ---------------------------------------------------------------- LSTM
// x (steps, batch, features) C-contiguous is, read in place, the reference's stacked
// sequence: x[t] is (batch, features) row-major = (features, batch) column-major, and the
// steps follow each other (lstm::SequenceRef).
Eigen::Map<const Eigen::MatrixXf> stacked_sequence(const FloatArray& x, int features) {
  if (x.ndim() != 3)
    throw ConfigError("x: expected a 3-D array (steps, batch, features), got " +
                      std::to_string(x.ndim()) + "-D");
  if (x.shape(2) != features)
    throw ConfigError("x: " + std::to_string(x.shape(2)) + " features, the LSTM takes " +
                      std::to_string(features));
  return Eigen::Map<const Eigen::MatrixXf>(x.data(), features, x.shape(0) * x.shape(1));
}

template <typename T, typename Seq>
py::array_t<T> sequence_array(const Seq& y) {
  const py::ssize_t steps = static_cast<py::ssize_t>(y.size());
  const py::ssize_t rows = steps ? y[0].rows() : 0, batch = steps ? y[0].cols() : 0;
  py::array_t<T> out({steps, batch, rows});
  for (py::ssize_t t = 0; t < steps; ++t)
    std::copy(y[t].data(), y[t].data() + rows * batch, out.mutable_data() + t * rows * batch);
  return out;
}

std::string gate_name(const char* base, int layer, int direction) {
  return std::string(base) + "_l" + std::to_string(layer) + (direction ? "_reverse" : "");
}

lstm::LstmWeights weights_from_state_dict(const py::dict& d, int num_layers, bool bidirectional) {
  lstm::LstmWeights w;
  auto get = [&](const std::string& key) {
    if (!d.contains(key)) throw ConfigError("state dict: missing '" + key + "'");
    return py::cast<py::array_t<float, py::array::c_style | py::array::forcecast>>(d[key.c_str()]);
  };
  auto w0 = get("weight_ih_l0");
  if (w0.ndim() != 2 || w0.shape(0) % 4 != 0)
    throw ConfigError("state dict: weight_ih_l0 must be (4*hidden, input)");
  w.shape.hidden_size = static_cast<int>(w0.shape(0) / 4);
  w.shape.input_size = static_cast<int>(w0.shape(1));
  w.shape.num_layers = num_layers;
  w.shape.bidirectional = bidirectional;
  for (int l = 0; l < num_layers; ++l)
    for (int dir = 0; dir < w.shape.directions(); ++dir) {
      lstm::LayerParams p;
      auto matrix = [&](const char* base) {
        auto a = get(gate_name(base, l, dir));
        if (a.ndim() != 2)
          throw ConfigError("state dict: " + gate_name(base, l, dir) + " must be 2-D");
        // PyTorch's (4H, in) row-major into the reference's column-major matrix.
        return Eigen::MatrixXf(
            Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                a.data(), a.shape(0), a.shape(1)));
      };
      auto vector = [&](const char* base) {
        auto a = get(gate_name(base, l, dir));
        return Eigen::VectorXf(Eigen::Map<const Eigen::VectorXf>(a.data(), a.size()));
      };
      p.w_ih = matrix("weight_ih");
      p.w_hh = matrix("weight_hh");
      p.b_ih = vector("bias_ih");
      p.b_hh = vector("bias_hh");
      w.params.push_back(std::move(p));
    }
  w.validate();
  return w;
}

// PyTorch-named views of the weights: no copy, the arrays keep `self` alive.
py::dict state_dict(py::object self) {
  const auto& w = self.cast<const lstm::LstmWeights&>();
  py::dict d;
  for (int l = 0; l < w.shape.num_layers; ++l)
    for (int dir = 0; dir < w.shape.directions(); ++dir) {
      const auto& p = w.at(l, dir);
      auto view = [&](const Eigen::MatrixXf& m) {
        // Column-major (4H, in): Fortran-ordered, strides (4, 4 * rows).
        return py::array_t<float>({m.rows(), m.cols()},
                                  {static_cast<py::ssize_t>(sizeof(float)),
                                   static_cast<py::ssize_t>(sizeof(float) * m.rows())},
                                  m.data(), self);
      };
      auto vec = [&](const Eigen::VectorXf& v) {
        return py::array_t<float>({v.size()}, {static_cast<py::ssize_t>(sizeof(float))}, v.data(),
                                  self);
      };
      d[py::str(gate_name("weight_ih", l, dir))] = view(p.w_ih);
      d[py::str(gate_name("weight_hh", l, dir))] = view(p.w_hh);
      d[py::str(gate_name("bias_ih", l, dir))] = vec(p.b_ih);
      d[py::str(gate_name("bias_hh", l, dir))] = vec(p.b_hh);
    }
  return d;
}

// Optional initial state: h0 and c0 (layers * directions, batch, hidden), PyTorch's layout;
// both absent means zeros.
std::optional<lstm::LstmState> initial_state(const lstm::LstmWeights& w, int64_t batch,
                                             const py::object& h0, const py::object& c0) {
  if (h0.is_none() && c0.is_none()) return std::nullopt;
  const int64_t units = int64_t{w.shape.num_layers} * w.shape.directions();
  const int64_t hidden = w.shape.hidden_size;
  lstm::LstmState s;
  for (const auto* a : {&h0, &c0}) {
    const char* name = a == &h0 ? "h0" : "c0";
    if (a->is_none()) throw ConfigError(std::string(name) + ": give h0 and c0 together");
    const FloatArray v = c_array<float>(*a);
    ++g_conversions;  // copied into the reference's state below
    if (v.ndim() != 3 || v.shape(0) != units || v.shape(1) != batch || v.shape(2) != hidden)
      throw ConfigError(std::string(name) + ": expected shape (" + std::to_string(units) + ", " +
                        std::to_string(batch) + ", " + std::to_string(hidden) + ")");
    auto& out = a == &h0 ? s.h : s.c;
    for (int64_t i = 0; i < units; ++i)
      out.emplace_back(
          Eigen::Map<const Eigen::MatrixXf>(v.data() + i * batch * hidden, hidden, batch));
  }
  return s;
}

py::tuple lstm_forward(const lstm::LstmWeights& w, const py::object& x_in, const py::object& h0,
                       const py::object& c0) {
  const FloatArray x = c_array<float>(x_in);
  const auto seq = stacked_sequence(x, w.shape.input_size);
  auto init = initial_state(w, x.shape(1), h0, c0);
  lstm::LstmOutput out;
  {
    py::gil_scoped_release release;
    out = lstm::lstm_forward(w, seq, x.shape(0), init ? &*init : nullptr);
  }
  return py::make_tuple(sequence_array<float>(out.y), sequence_array<float>(out.final.h),
                        sequence_array<float>(out.final.c));
}

py::tuple lstm_forward_fixed(const lstm::LstmWeights& w, const py::object& x_in,
                             const py::object& h0, const py::object& c0) {
  const FloatArray x = c_array<float>(x_in);
  const auto seq = stacked_sequence(x, w.shape.input_size);
  auto init = initial_state(w, x.shape(1), h0, c0);
  lstm::FixedLstmOutput out;
  {
    py::gil_scoped_release release;
    lstm::FixedLstmWeights fw = lstm::quantize_weights(w);
    std::optional<lstm::FixedLstmState> finit;
    if (init) finit = lstm::quantize_state(*init);
    out = lstm::fixed_lstm_forward(fw, lstm::quantize_sequence(seq, x.shape(0)),
                                   finit ? &*finit : nullptr);
  }
  return py::make_tuple(sequence_array<int16_t>(out.y), sequence_array<int16_t>(out.final.h),
                        sequence_array<int16_t>(out.final.c));
}

// ---------------------------------------------------------------- N:M
// The references take Eigen::Ref views (sparse::RefF / RefI8): a C-contiguous array is
// row-major with unit inner stride, so a Map of its buffer binds without a copy. Results are
// moved into NumPy without a copy.
template <typename M>
py::array_t<typename M::Scalar> owned(M&& m) {
  const py::ssize_t rows = m.rows(), cols = m.cols();
  auto* heap = new M(std::move(m));
  py::capsule owner(heap, [](void* p) { delete static_cast<M*>(p); });
  return py::array_t<typename M::Scalar>({rows, cols}, heap->data(), owner);
}

template <typename T>
Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> matrix_view(
    const py::array_t<T, py::array::c_style | py::array::forcecast>& a, const char* what) {
  if (a.ndim() != 2) throw ConfigError(std::string(what) + ": expected a 2-D array");
  return {a.data(), a.shape(0), a.shape(1)};
}

// Runs fn on a row-major view of w: an int8 array goes to the int8 kernel as it is,
// anything else to the float kernel as float32.
template <typename Fn>
auto with_matrix(const py::object& w, Fn fn) {
  if (is_int8(w)) {
    const Int8Array a = c_array<int8_t>(w);
    return fn(sparse::RefI8(matrix_view(a, "w")));
  }
  const FloatArray a = c_array<float>(w);
  return fn(sparse::RefF(matrix_view(a, "w")));
}

// ---------------------------------------------------------------- ANN
// An NSG index over a copy of the base vectors (the index must own what it points into).
struct AnnIndex {
  ann::VectorSet base;
  ann::Graph graph;
  ann::NsgStats stats;
};

}  // namespace

// One declared key as a dict (the Python Key tuple is built from it in tessel/__init__.py).
py::list key_list(const KeySet& set) {
  static const char* const kTypes[] = {"bool", "integer", "number", "string",  "choice",
                                       "path", "mapping", "list",   "mapping", "any"};
  py::list out;
  for (const Key& k : set.keys()) {
    py::dict d;
    d["name"] = k.path;
    d["type"] = kTypes[static_cast<int>(k.type)];
    d["type_text"] = k.type_text();
    const bool bounded = (k.type == Key::Type::kInteger || k.type == Key::Type::kNumber) &&
                         k.bound == Key::Bound::kRange;
    d["range"] = bounded ? py::object(py::make_tuple(k.lo, k.hi)) : py::object(py::none());
    d["choices"] = k.choices;
    d["default"] = k.fallback ? py::object(py::str(*k.fallback)) : py::object(py::none());
    d["required"] = !k.fallback && !k.optional && k.type != Key::Type::kSection &&
                    k.type != Key::Type::kOpen && k.type != Key::Type::kList;
    d["unit"] = k.unit;
    d["help"] = k.help;
    out.append(d);
  }
  return out;
}

PYBIND11_MODULE(_tessel, m) {
  m.doc() = "Tessel's C++ core: registry, configs, runs, sweeps and reference kernels";
  m.attr("__version__") = TESSEL_VERSION;

  m.def("_set_error_classes",
        [](py::object base, py::object config, py::object io, py::object sim) {
          g_error = base, g_config_error = config, g_io_error = io, g_sim_error = sim;
        });
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ConfigError& e) {
      raise_as(g_config_error, e.what());
    } catch (const IoError& e) {
      raise_as(g_io_error, e.what());
    } catch (const SimError& e) {
      raise_as(g_sim_error, e.what());
    } catch (const Error& e) {
      raise_as(g_error, e.what());
    }
  });
  // Drop the references before the interpreter tears down.
  auto atexit = py::module_::import("atexit");
  atexit.attr("register")(py::cpp_function(
      []() { g_error = g_config_error = g_io_error = g_sim_error = py::object(); }));

  m.def(
      "models",
      []() {
        py::list out;
        for (const auto& e : Registry::instance().entries()) {
          const std::unique_ptr<Experiment> model = e.factory();
          // A declaration is a static: it outlives the object that handed it out.
          const ModelKeys& keys = model->keys();
          out.append(
              py::make_tuple(e.name, e.description, key_list(keys.hw), key_list(keys.workload)));
        }
        return out;
      },
      "Registered models as (name, description, hw keys, workload keys), sorted by name");

  py::class_<ConfigHandle>(m, "_Config")
      .def_readonly("path", &ConfigHandle::path)
      .def_readonly("overrides", &ConfigHandle::overrides)
      .def("to_json", [](const ConfigHandle& c) { return c.tree.to_json().dump(); })
      .def("to_yaml", &config_yaml);
  m.def("load_config", &load_config, py::arg("path"), py::arg("overrides"));

  m.def(
      "run",
      [](const ConfigHandle& c, const std::string& out_dir, const std::string& trace,
         double timeout_s) {
        RunOutcome r = run_in_child(c, out_dir, trace, timeout_s);
        if (!r.error_kind.empty()) {
          raise_as(class_for(r.error_kind), r.error_message);
          throw py::error_already_set();
        }
        return py::make_tuple(r.result_json, r.log);
      },
      py::arg("config"), py::arg("out") = "", py::arg("trace") = "", py::arg("timeout") = 0.0);

  m.def(
      "sweep_info",
      [](const std::string& file) {
        sweep::SweepPlan plan = sweep::load_sweep(file, /*expand=*/false);
        return py::make_tuple(plan.name, plan.point_count, plan.swept_keys);
      },
      py::arg("file"));
  m.def(
      "sweep",
      [](const std::string& file, const std::string& out, int jobs, double point_timeout,
         bool resume, bool overwrite, bool report, const std::string& command) {
        sweep::SweepOptions opt;
        opt.sweep_file = file;
        opt.out_dir = out;
        opt.jobs = jobs;
        opt.point_timeout_s = point_timeout;
        opt.resume = resume;
        opt.overwrite = overwrite;
        opt.command_line = command;
        sweep::SweepSummary s;
        std::vector<std::string> notes;
        {
          py::gil_scoped_release release;
          // The sweep forks its points from the thread that runs it (see in_fresh_thread).
          in_fresh_thread([&]() { s = sweep::run_sweep(opt); });
          if (report) notes = report::write_report(s.out_dir).notes;
        }
        return py::make_tuple(s.out_dir, s.points, s.failed, notes);
      },
      py::arg("file"), py::arg("out"), py::arg("jobs"), py::arg("point_timeout"), py::arg("resume"),
      py::arg("overwrite"), py::arg("report"), py::arg("command"));
  m.def(
      "read_points",
      [](const std::string& path) {
        nlohmann::json all = nlohmann::json::array();
        for (const auto& r : read_points(path)) all.push_back(r.to_json());
        return all.dump();
      },
      py::arg("path"));

  // ---- LSTM
  py::class_<lstm::LstmWeights>(m, "LstmWeights")
      .def_static(
          "random",
          [](int input_size, int hidden_size, int num_layers, bool bidirectional, uint64_t seed) {
            lstm::LstmShape s{input_size, hidden_size, num_layers, bidirectional};
            if (input_size < 1 || hidden_size < 1 || num_layers < 1)
              throw ConfigError("LstmWeights.random: sizes must be positive");
            return lstm::LstmWeights::random(s, seed);
          },
          py::arg("input_size"), py::arg("hidden_size"), py::arg("num_layers") = 1,
          py::arg("bidirectional") = false, py::arg("seed") = 1)
      .def_static("from_state_dict", &weights_from_state_dict, py::arg("state_dict"),
                  py::arg("num_layers") = 1, py::arg("bidirectional") = false)
      .def("state_dict", &state_dict)
      .def_property_readonly("input_size",
                             [](const lstm::LstmWeights& w) { return w.shape.input_size; })
      .def_property_readonly("hidden_size",
                             [](const lstm::LstmWeights& w) { return w.shape.hidden_size; })
      .def_property_readonly("num_layers",
                             [](const lstm::LstmWeights& w) { return w.shape.num_layers; })
      .def_property_readonly("bidirectional",
                             [](const lstm::LstmWeights& w) { return w.shape.bidirectional; });
  m.def(
      "_conversions", []() { return g_conversions.load(); },
      "Kernel inputs copied so far (converted to C-contiguous float32/int8, or owned by C++)");

  m.def("lstm_forward", &lstm_forward, py::arg("weights"), py::arg("x"), py::arg("h0") = py::none(),
        py::arg("c0") = py::none());
  m.def("lstm_forward_fixed", &lstm_forward_fixed, py::arg("weights"), py::arg("x"),
        py::arg("h0") = py::none(), py::arg("c0") = py::none());

  // ---- N:M
  m.def(
      "nm_mask",
      [](const py::object& w, const std::string& pattern) {
        sparse::Mask mask = with_matrix(
            w, [&](const auto& v) { return sparse::project_mask(v, pattern_of(pattern)); });
        const py::ssize_t rows = mask.rows, cols = mask.cols;
        return adopt(std::move(mask.keep), {rows, cols});
      },
      py::arg("w"), py::arg("pattern"));
  m.def(
      "nm_project",
      [](const py::object& w, const std::string& pattern) -> py::array {
        return with_matrix(w, [&](const auto& v) -> py::array {
          return owned(sparse::project(v, pattern_of(pattern)));
        });
      },
      py::arg("w"), py::arg("pattern"));
  m.def(
      "nm_check",
      [](const py::object& w, const std::string& pattern) -> py::object {
        sparse::Pattern p = pattern_of(pattern);
        sparse::Violation v = with_matrix(w, [&](const auto& m) { return sparse::check(m, p); });
        if (v.ok) return py::none();
        return py::str(v.str(p));
      },
      py::arg("w"), py::arg("pattern"));
  m.def(
      "nm_compress",
      [](const py::object& w, const std::string& pattern) {
        return with_matrix(w, [&](const auto& v) {
          using T = typename std::decay_t<decltype(v)>::Scalar;
          auto c = sparse::compress<T>(v, pattern_of(pattern));
          const py::ssize_t rows = c.rows, kept = c.kept_per_row();
          auto indices = c.unpacked_indices();
          const py::ssize_t packed = static_cast<py::ssize_t>(c.packed_indices.size());
          return py::make_tuple(owned(std::move(c.values)), adopt(std::move(indices), {rows, kept}),
                                adopt(std::move(c.packed_indices), {packed}));
        });
      },
      py::arg("w"), py::arg("pattern"));
  m.def(
      "nm_decompress",
      [](const py::object& values_in, const py::array_t<uint8_t, py::array::c_style>& indices,
         const std::string& pattern, int64_t cols) {
        const FloatArray values = c_array<float>(values_in);
        sparse::CompressedMatrix<float> c;
        c.pattern = pattern_of(pattern);
        c.rows = values.ndim() == 2 ? values.shape(0) : 0;
        c.cols = cols;
        if (values.ndim() != 2 || cols % c.pattern.m != 0 ||
            values.shape(1) != cols / c.pattern.m * c.pattern.n || indices.size() != values.size())
          throw ConfigError("nm_decompress: values must be (rows, cols/M*N) with one index each");
        for (py::ssize_t i = 0; i < indices.size(); ++i)
          if (indices.data()[i] >= c.pattern.m)
            throw ConfigError("nm_decompress: index " + std::to_string(indices.data()[i]) +
                              " is not below M=" + std::to_string(c.pattern.m));
        // CompressedMatrix owns its values and packed indices: both are copied.
        g_conversions += 2;
        c.values = matrix_view(values, "values");
        std::vector<uint8_t> idx(indices.data(), indices.data() + indices.size());
        sparse::pack_indices(idx, c.pattern.index_bits(), c.packed_indices);
        return owned(sparse::decompress(c));
      },
      py::arg("values"), py::arg("indices"), py::arg("pattern"), py::arg("cols"));

  // ---- nearest neighbours
  m.def(
      "knn",
      [](const py::object& base_in, const py::object& queries_in, int k, bool exclude_self,
         int threads) {
        // Views of the arrays: exact_knn reads both in place.
        const FloatArray base = c_array<float>(base_in), queries = c_array<float>(queries_in);
        const ann::VectorView b = vector_view(base, "base"), q = vector_view(queries, "queries");
        ann::KnnOptions opt;
        opt.exclude_self = exclude_self;
        opt.threads = threads;
        ann::KnnResult r;
        {
          py::gil_scoped_release release;
          r = ann::exact_knn(b, q, k, ann::Backend::kCpu, opt);
        }
        const py::ssize_t nq = r.nq, kk = r.k;
        return py::make_tuple(adopt(std::move(r.ids), {nq, kk}),
                              adopt(std::move(r.dist), {nq, kk}));
      },
      py::arg("base"), py::arg("queries"), py::arg("k"), py::arg("exclude_self") = false,
      py::arg("threads") = 0);

  py::class_<AnnIndex>(m, "AnnIndex")
      .def(py::init([](const py::object& base_in, int R, int L, int C, int knn_k, uint64_t seed,
                       int threads) {
             auto idx = std::make_unique<AnnIndex>();
             const FloatArray base = c_array<float>(base_in);
             const ann::VectorView v = vector_view(base, "base");
             ++g_conversions;  // the index owns a copy of its base
             idx->base = ann::VectorSet(v.n, v.dim);
             std::copy(v.data, v.data + v.n * v.dim, idx->base.data.begin());
             ann::NsgParams p;
             p.R = R, p.L = L, p.C = C, p.threads = threads;
             p.knn.k = knn_k, p.knn.seed = seed, p.knn.threads = threads;
             py::gil_scoped_release release;
             idx->graph = ann::build_nsg(idx->base, p, &idx->stats);
             return idx;
           }),
           py::arg("base"), py::arg("R") = 32, py::arg("L") = 40, py::arg("C") = 300,
           py::arg("knn_k") = 20, py::arg("seed") = 7, py::arg("threads") = 0)
      .def_property_readonly("size", [](const AnnIndex& a) { return a.base.n; })
      .def_property_readonly("dim", [](const AnnIndex& a) { return a.base.dim; })
      .def_property_readonly("mean_degree", [](const AnnIndex& a) { return a.graph.mean_degree(); })
      .def_property_readonly("max_degree", [](const AnnIndex& a) { return a.graph.max_degree(); })
      .def(
          "search",
          // Queries are read in place and results written straight into the returned
          // arrays: no copy on either side for C-contiguous float32 queries.
          [](AnnIndex& a, const py::object& queries_in, int k, int L, int width) {
            const FloatArray queries = c_array<float>(queries_in);
            if (queries.ndim() != 2 || queries.shape(1) != a.base.dim)
              throw ConfigError("queries: expected (n, " + std::to_string(a.base.dim) + ")");
            if (k < 1 || L < k)
              throw ConfigError("search: need 1 <= k <= L, got k=" + std::to_string(k) +
                                " L=" + std::to_string(L));
            const py::ssize_t nq = queries.shape(0);
            py::array_t<int32_t> ids({nq, static_cast<py::ssize_t>(k)});
            py::array_t<float> dist({nq, static_cast<py::ssize_t>(k)});
            ann::SearchParams sp;
            sp.k = k, sp.L = L, sp.width = width;
            int64_t distances = 0;
            {
              int32_t* ip = ids.mutable_data();
              float* dp = dist.mutable_data();
              const float* qp = queries.data();
              py::gil_scoped_release release;
              ann::Searcher s(a.graph, a.base);
              for (py::ssize_t q = 0; q < nq; ++q)
                distances += s.search(qp + q * a.base.dim, sp, ip + q * k, dp + q * k).distances;
            }
            return py::make_tuple(ids, dist, distances);
          },
          py::arg("queries"), py::arg("k") = 10, py::arg("L") = 64, py::arg("width") = 1);
}
