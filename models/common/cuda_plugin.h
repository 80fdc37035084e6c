// Loads the CUDA plugin (libtessel_cuda.so) on the first CUDA call, so only runs that use a GPU
// map cudart, cuBLAS and cuDNN (about 0.5 GB of libraries the dynamic loader would otherwise map
// at every start of the tool and of every sweep point).
#pragma once

#include <string>
#include <vector>

// Marks the functions the plugin exports (it is built with hidden visibility).
#define TESSEL_CUDA_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

namespace tessel {

// File name of the plugin; the build puts it next to the `tessel` binary.
inline constexpr const char* kCudaPluginFile = "libtessel_cuda.so";
// Environment variable naming the plugin file; when set, it is the only path tried.
inline constexpr const char* kCudaPluginEnv = "TESSEL_CUDA_PLUGIN";

// Paths the loader tries, in order: $TESSEL_CUDA_PLUGIN alone when set; else the plugin next to
// the running executable, then the one in the build tree this program was built in.
std::vector<std::string> cuda_plugin_paths();

// Address of `symbol` in the plugin, loading the plugin on the first call (thread-safe; a failed
// load is not retried). Throws tessel::Error (kExitFailure) naming each path tried with its
// dlerror() when the plugin cannot be loaded, or the symbol when the plugin lacks it.
void* cuda_plugin_symbol(const char* symbol);

// The function table a plugin family exports as `const Api* symbol()`.
template <typename Api>
const Api& cuda_plugin_api(const char* symbol) {
  using Get = const Api* (*)();
  return *reinterpret_cast<Get>(cuda_plugin_symbol(symbol))();
}

}  // namespace tessel
