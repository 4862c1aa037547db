// cublas_loader.cpp — opens libcublas.so.13 with dlopen at the GPU path's first use and resolves
// the entry points of cublas_api.h. Python (fastrnn/_cuda.py) chooses the file: the nvidia-cublas
// wheel's nvidia/cu13/lib first, then the system's loader path.
#include <dlfcn.h>

#include <mutex>
#include <string>

#include "cuda/cublas_api.h"
#include "fastrnn/common.h"
#include "fastrnn/rnn_gpu.h"

namespace fastrnn {
namespace gpu {
namespace {

std::mutex load_mutex;
CublasApi api;
std::string loaded_path;  // "" until a load succeeded; guarded by load_mutex

template <class F>
void resolve(void* lib, const char* name, F*& slot) {
  void* sym = dlsym(lib, name);
  if (sym == nullptr) throw Error(std::string("cuBLAS library lacks ") + name);
  slot = reinterpret_cast<F*>(sym);
}

}  // namespace

void load_cublas(const std::string& path) {
  std::lock_guard<std::mutex> lock(load_mutex);
  if (!loaded_path.empty()) return;
  // The library stays open for the life of the process (handles made from it are never freed).
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    throw Error("cannot load cuBLAS from '" + path + "': " + (why ? why : "unknown error"));
  }
  CublasApi a{};
  resolve(lib, "cublasCreate_v2", a.create);
  resolve(lib, "cublasSetStream_v2", a.set_stream);
  resolve(lib, "cublasSgemm_v2", a.sgemm);
  resolve(lib, "cublasDgemm_v2", a.dgemm);
  api = a;
  loaded_path = path;
}

std::string cublas_path() {
  std::lock_guard<std::mutex> lock(load_mutex);
  return loaded_path;
}

const CublasApi& cublas_api() {
  std::lock_guard<std::mutex> lock(load_mutex);
  if (loaded_path.empty()) {
    throw Error("cuBLAS is not loaded: call fastrnn's GPU path through Python, which loads it");
  }
  return api;
}

}  // namespace gpu
}  // namespace fastrnn
