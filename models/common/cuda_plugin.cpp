// Finds and dlopen()s libtessel_cuda.so once, and looks up the tables it exports.
#include "models/common/cuda_plugin.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string>

#include "runtime/core/error.h"

namespace tessel {
namespace {

std::string executable_dir() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  const std::string exe(buf, static_cast<std::size_t>(n));
  return exe.substr(0, exe.rfind('/'));
}

// The plugin handle, or the reason it could not be opened (then handle is null).
struct Plugin {
  void* handle = nullptr;
  std::string error;
};

Plugin open_plugin() {
  Plugin p;
  std::string tried;
  for (const std::string& path : cuda_plugin_paths()) {
    // RTLD_NOW: a missing CUDA library or symbol fails here, not in the middle of a run.
    p.handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (p.handle) return p;
    const char* why = dlerror();
    tried += "\n  " + path + ": " + (why ? why : "unknown error");
  }
  p.error = std::string("cannot load the CUDA plugin ") + kCudaPluginFile + "; tried:" + tried +
            "\n(build it with CUDA enabled, or set " + kCudaPluginEnv + " to its path)";
  return p;
}

}  // namespace

std::vector<std::string> cuda_plugin_paths() {
  if (const char* env = std::getenv(kCudaPluginEnv); env && *env) return {env};
  std::vector<std::string> paths;
  const std::string dir = executable_dir();
  if (!dir.empty()) paths.push_back(dir + "/" + kCudaPluginFile);
#ifdef TESSEL_CUDA_PLUGIN_BUILD_PATH
  // Test and benchmark programs live in subfolders of the build tree, away from the plugin.
  if (paths.empty() || paths.front() != TESSEL_CUDA_PLUGIN_BUILD_PATH)
    paths.push_back(TESSEL_CUDA_PLUGIN_BUILD_PATH);
#endif
  return paths;
}

void* cuda_plugin_symbol(const char* symbol) {
  static const Plugin plugin = open_plugin();
  if (!plugin.handle) throw Error(plugin.error, kExitFailure);
  void* address = dlsym(plugin.handle, symbol);
  if (!address)
    throw Error(std::string("the CUDA plugin has no symbol ") + symbol +
                    " (is it from another build of tessel?)",
                kExitFailure);
  return address;
}

}  // namespace tessel
