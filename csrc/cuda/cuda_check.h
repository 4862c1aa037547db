// cuda_check.h — turns a CUDA runtime error into std::runtime_error naming the call (nvcc only).
//
// A runtime call that fails also records its error as the calling thread's "last error" (of
// fastrnn's own, statically linked runtime), which the next cudaGetLastError() in that thread
// returns: the check after each of our kernel launches. An error we report by throwing (or
// deliberately ignore) is therefore cleared first; otherwise a later, correct launch in the thread
// fails with it (Word2Vec(device="cuda") out of memory, caught, and a smaller model trained next
// would report "CUDA error in kernel launch: out of memory"). Sticky errors (a faulted context)
// cannot be cleared and keep failing every call, as they should.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace fastrnn {
namespace gpu {

inline void check_cuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // reported here: not again by the thread's next launch check
    throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(err));
  }
}

// For calls whose failure cannot be reported (destructors, clean-up on an error path): the error
// is dropped, and with it the thread's record of it.
inline void ignore_cuda_error(cudaError_t err) {
  if (err != cudaSuccess) (void)cudaGetLastError();
}

}  // namespace gpu
}  // namespace fastrnn
