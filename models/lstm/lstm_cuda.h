// GPU LSTM inference: a persistent batch-1-oriented CUDA kernel and a cuDNN baseline.
#pragma once

#include <memory>

#include "models/lstm/lstm.h"

namespace tessel::lstm {

// Which implementation lstm_forward(..., Backend) runs.
enum class Backend { kCpu, kCuda, kCudnn };

// Storage precision of weights and activations on the GPU (accumulation is always fp32).
enum class CudaPrecision { kFp32, kFp16 };

const char* backend_name(Backend b);

// Number of usable CUDA devices; 0 when built without CUDA or when no GPU is present.
int cuda_device_count();
// Whether the cuDNN path was compiled in (cudnn.h and libcudnn found at configure time).
bool cudnn_compiled();

// The persistent kernel. Per layer and direction: the input projections W_ih x + b for
// all steps are one cuBLAS GEMM; then one cooperative kernel runs every time step, each
// block owning a slice of hidden units (all four gate rows of each), keeping its W_hh rows
// in shared memory when they fit across the SMs (else they stream from L2), with one
// grid-wide barrier per step to publish h_t. Weights are uploaded once in the constructor.
class CudaLstm {
 public:
  CudaLstm(const LstmWeights& w, int batch, int steps, CudaPrecision precision);
  ~CudaLstm();
  CudaLstm(const CudaLstm&) = delete;
  CudaLstm& operator=(const CudaLstm&) = delete;

  // Upload x (and h0/c0), run, download: the whole forward pass.
  LstmOutput forward(const Sequence& x, const LstmState* initial = nullptr);
  // The three parts separately, so a benchmark can time run() alone.
  void upload(const Sequence& x, const LstmState* initial);
  void run();  // returns after the GPU finished
  LstmOutput download() const;
  // True when every layer's recurrent weights live in shared memory during run().
  bool weights_on_chip() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// cuDNN's RNN forward (CUDNN_RNN_ALGO_STANDARD, inference mode) on the same weights, as
// PyTorch's nn.LSTM runs on the GPU. fp32 uses FMA math (no TF32), fp16 tensor-op math.
class CudnnLstm {
 public:
  CudnnLstm(const LstmWeights& w, int batch, int steps, CudaPrecision precision);
  ~CudnnLstm();
  CudnnLstm(const CudnnLstm&) = delete;
  CudnnLstm& operator=(const CudnnLstm&) = delete;

  LstmOutput forward(const Sequence& x, const LstmState* initial = nullptr);
  void upload(const Sequence& x, const LstmState* initial);
  void run();
  LstmOutput download() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Runs the forward pass on the chosen backend (fp32 on the GPU backends). Throws
// tessel::Error when the backend was not compiled in or no GPU is present.
LstmOutput lstm_forward(const LstmWeights& w, const Sequence& x, const LstmState* initial,
                        Backend backend);

}  // namespace tessel::lstm
