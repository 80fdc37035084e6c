// Loads OpenBLAS with one thread (openblas.h says why).
#include "models/fgd/openblas.h"

#if TESSEL_FGD_HAVE_OPENBLAS
#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include "runtime/core/error.h"

namespace tessel::fgd {

SgemvFn openblas_sgemv() {
  static const SgemvFn sgemv = [] {
    // Read by the library's initialisation, which runs inside dlopen.
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    void* lib = dlopen(TESSEL_OPENBLAS_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
      throw IoError(std::string("cannot load OpenBLAS (") + TESSEL_OPENBLAS_LIBRARY +
                    "): " + dlerror());
    void* symbol = dlsym(lib, "cblas_sgemv");
    if (!symbol)
      throw IoError(std::string("OpenBLAS (") + TESSEL_OPENBLAS_LIBRARY + ") has no cblas_sgemv");
    return reinterpret_cast<SgemvFn>(symbol);
  }();
  return sgemv;
}

}  // namespace tessel::fgd
#endif
