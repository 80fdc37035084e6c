// GEMM with N:M compressed weights: Y = W * X, W sparse (out x K, N:M along K), X dense (K x T).
//
// W plays the role of NVIDIA's sparse A operand (rows = output features, groups along the
// reduction dimension K); X holds one activation column per token. int8 accumulates
// exactly in int32 (so every backend must equal the dense product bit for bit); fp32 and
// fp16 accumulate in fp32.
#pragma once

#include <memory>
#include <string>

#include "models/sparse/compressed.h"

namespace tessel::sparse {

// Which implementation nm_gemm(..., Backend) runs.
enum class Backend { kCpu, kCuda };
Backend parse_backend(const std::string& name);  // "cpu" | "cuda"; ConfigError otherwise
const char* backend_name(Backend b);

// Plain loops over the compressed form, in the order the hardware walks it: the
// reference every faster path (CPU SIMD, CUDA, SystemC) is checked against.
MatrixI32 nm_gemm_reference(const CompressedMatrix<int8_t>& w, const MatrixI8& x);
MatrixF nm_gemm_reference(const CompressedMatrix<float>& w, const MatrixF& x);

// Fast paths. kCpu: single-threaded SIMD chosen at run time (int8: the best CpuIsa level
// the CPU has, see below; fp32/fp16: AVX2+FMA when present; portable loops otherwise). kCuda:
// models/sparse/nm_gemm_cuda.h; throws tessel::Error when the build has no CUDA or no GPU is
// present. Shapes are checked (ConfigError).
MatrixI32 nm_gemm(const CompressedMatrix<int8_t>& w, const MatrixI8& x,
                  Backend backend = Backend::kCpu);
MatrixF nm_gemm(const CompressedMatrix<float>& w, const MatrixF& x,
                Backend backend = Backend::kCpu);
// fp16 operands, fp32 accumulation and result (what a sparse tensor core computes). kCuda
// uses the sparse tensor cores for 2:4 and the generic N:M kernel otherwise.
MatrixF nm_gemm(const CompressedMatrix<Eigen::half>& w, const MatrixH& x,
                Backend backend = Backend::kCpu);

// Whether the running CPU takes the AVX2 path of nm_gemm(kCpu) for fp32 / fp16.
bool cpu_has_avx2();

// Instruction-set levels of the int8 CPU kernel (models/sparse/nm_gemm_int8.h describes the
// kernel). The library is built for baseline x86-64; each level's functions carry their own
// target attribute and are only called when the CPU reports the extension at run time.
//   kAvx512Vnni: vpdpbusd on zmm (u8 activations x s8 weights, 4 products per int32 lane)
//   kAvxVnni:    vpdpbusd on ymm (the VEX form: Alder Lake and later, Zen 5)
//   kAvx2:       vpmaddwd on ymm (int16 pairs)
//   kPortable:   plain loops (any CPU)
enum class CpuIsa { kPortable, kAvx2, kAvxVnni, kAvx512Vnni };
inline constexpr CpuIsa kAllCpuIsas[] = {CpuIsa::kPortable, CpuIsa::kAvx2, CpuIsa::kAvxVnni,
                                         CpuIsa::kAvx512Vnni};
const char* cpu_isa_name(CpuIsa isa);  // "portable", "avx2", "avx_vnni", "avx512_vnni"
bool cpu_supports(CpuIsa isa);         // this build and the running CPU (and OS) can run it
CpuIsa cpu_best_isa();                 // the highest supported level: what nm_gemm(kCpu) uses

// int8 weights laid out once for the CPU kernel at one level, for repeated products with
// new activations (what a dense library's weight reorder is to its GEMM). nm_gemm(kCpu) builds
// one per call. Throws Error when !cpu_supports(isa).
class NmGemmInt8Cpu {
 public:
  explicit NmGemmInt8Cpu(const CompressedMatrix<int8_t>& w, CpuIsa isa = cpu_best_isa());
  ~NmGemmInt8Cpu();
  NmGemmInt8Cpu(NmGemmInt8Cpu&&) noexcept;
  NmGemmInt8Cpu& operator=(NmGemmInt8Cpu&&) noexcept;
  // Y = W X, exact int32; ConfigError when X does not have K rows.
  MatrixI32 operator()(const MatrixI8& x) const;
  CpuIsa isa() const;
  // How the kernel covers the pattern, for logs and the bench ("u8 quads: 2 groups ...").
  std::string describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// nm_gemm(w, x, kCpu) at a forced level (tests check every level the CPU has; the bench
// times each). Throws Error when !cpu_supports(isa).
MatrixI32 nm_gemm_cpu(const CompressedMatrix<int8_t>& w, const MatrixI8& x, CpuIsa isa);

}  // namespace tessel::sparse
