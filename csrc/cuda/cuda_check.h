// cuda_check.h — turns a CUDA runtime error into std::runtime_error naming the call (nvcc only).
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace fastrnn {
namespace gpu {

inline void check_cuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(err));
  }
}

}  // namespace gpu
}  // namespace fastrnn
