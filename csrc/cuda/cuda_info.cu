// cuda_info.cu — what the CUDA runtime reports. Never fails: without a driver or a device the
// runtime's error becomes "0 devices" and its message, so a CUDA build runs as a CPU build.
#include <cuda_runtime.h>

#include <string>

#include "fastrnn/common.h"

namespace fastrnn {

bool cuda_compiled() { return true; }

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error
    return 0;
  }
  return count;
}

std::string cuda_runtime_info() {
  int runtime = 0;
  cudaRuntimeGetVersion(&runtime);
  std::string info = "runtime " + std::to_string(runtime / 1000) + "." +
                     std::to_string((runtime % 1000) / 10) +
                     ", architectures " FASTRNN_CUDA_ARCHITECTURES;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    info += ", no device (" + std::string(cudaGetErrorString(err)) + ")";
  }
  return info;
}

}  // namespace fastrnn
