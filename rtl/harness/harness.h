// Drives a Verilated model cycle by cycle: clock and reset, FST trace, coverage, port bit fields.
#pragma once

#include <verilated.h>
#include <verilated_cov.h>
#include <verilated_fst_c.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace tessel::rtl {

// Verilator stores a port of up to 64 bits in an integer and a wider one in VlWide words;
// these read and write `width` bits at bit `lsb` of either.
template <typename T>
void put_bits(T& port, int lsb, int width, uint64_t value) {
  const uint64_t mask = width >= 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
  uint64_t v = static_cast<uint64_t>(port);
  v = (v & ~(mask << lsb)) | ((value & mask) << lsb);
  port = static_cast<T>(v);
}
template <std::size_t W>
void put_bits(VlWide<W>& port, int lsb, int width, uint64_t value) {
  for (int b = 0; b < width; ++b) {
    const int bit = lsb + b;
    const uint32_t m = uint32_t{1} << (bit % 32);
    if ((value >> b) & 1)
      port[bit / 32] |= m;
    else
      port[bit / 32] &= ~m;
  }
}
template <typename T>
uint64_t get_bits(const T& port, int lsb, int width) {
  const uint64_t mask = width >= 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
  return (static_cast<uint64_t>(port) >> lsb) & mask;
}
template <std::size_t W>
uint64_t get_bits(const VlWide<W>& port, int lsb, int width) {
  uint64_t v = 0;
  for (int b = 0; b < width; ++b) {
    const int bit = lsb + b;
    v |= static_cast<uint64_t>((port[bit / 32] >> (bit % 32)) & 1) << b;
  }
  return v;
}
// Two's-complement value of the low `width` bits.
inline int64_t sign_extend(uint64_t v, int width) {
  const uint64_t sign = uint64_t{1} << (width - 1);
  return static_cast<int64_t>((v ^ sign) - sign);
}

// One model in its own VerilatedContext (so coverage databases and time never mix between
// checks). Inputs set before tick() are sampled at its rising edge; after tick() the
// outputs are those of cycle cycle(): an output that appears L ticks after the inputs of
// cycle t were set has latency L.
template <class V>
class Harness {
 public:
  explicit Harness(const std::string& trace_path) {
    ctx_ = std::make_unique<VerilatedContext>();
    ctx_->traceEverOn(!trace_path.empty());
    model_ = std::make_unique<V>(ctx_.get(), "dut");
    if (!trace_path.empty()) {
      fst_ = std::make_unique<VerilatedFstC>();
      model_->trace(fst_.get(), 99);
      fst_->open(trace_path.c_str());
    }
    model_->clk = 0;
    model_->rst_n = 0;
    model_->in_valid = 0;
    model_->eval();
    tick();
    tick();
    model_->rst_n = 1;
    cycle_ = 0;
  }
  ~Harness() {
    model_->final();
    if (fst_) fst_->close();
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  V& io() { return *model_; }
  int64_t cycle() const { return cycle_; }
  void tick() {
    model_->clk = 1;
    model_->eval();
    dump();
    model_->clk = 0;
    model_->eval();
    dump();
    ++cycle_;
  }
  void write_coverage(const std::string& path) { ctx_->coveragep()->write(path.c_str()); }

 private:
  void dump() {
    if (fst_) fst_->dump(ctx_->time());
    ctx_->timeInc(1);
  }
  std::unique_ptr<VerilatedContext> ctx_;
  std::unique_ptr<V> model_;
  std::unique_ptr<VerilatedFstC> fst_;
  int64_t cycle_ = 0;
};

}  // namespace tessel::rtl
