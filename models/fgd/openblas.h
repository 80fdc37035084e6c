// OpenBLAS's single-precision GEMV, loaded on first use rather than linked.
//
// Why: a linked OpenBLAS (Debian's pthread build) starts its worker pool when the library
// loads, in every `tessel` process, and the idle workers spin for about 2^28 cycles before
// they sleep: ~0.1 s of CPU on another core for each process that runs that long (measured
// with perf stat on a Sentinel run: 219 ms task-clock against 103 ms with
// OPENBLAS_NUM_THREADS=1). FGD's baselines run on one thread, so the library is loaded only
// when FGD needs it, after OPENBLAS_NUM_THREADS=1 is set for its initialisation to read.
#pragma once

#if TESSEL_FGD_HAVE_OPENBLAS
#include <cblas.h>

namespace tessel::fgd {

using SgemvFn = void (*)(CBLAS_ORDER, CBLAS_TRANSPOSE, blasint, blasint, float, const float*,
                         blasint, const float*, blasint, float, float*, blasint);

// cblas_sgemv of the OpenBLAS found at build time; throws tessel::IoError naming the library
// when it cannot be loaded.
SgemvFn openblas_sgemv();

}  // namespace tessel::fgd
#endif
