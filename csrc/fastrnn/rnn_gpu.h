// rnn_gpu.h — the GPU layer driver's entry points (csrc/cuda/rnn_gpu_driver.h): the same
// arguments and results as rnn.h's rnn_forward / rnn_backward, with the GPU driver's own
// workspace sizes (the training reserve has rnn_reserve_size elements, in the CPU path's layout).
//
// emulated_*: the driver on the CPU (host memory, kernel bodies under the serial grid emulator,
// GEMMs as the cuBLAS calls done by a reference loop), compiled into every build so tests check
// the kernels without a GPU.
// cuda_*: the driver on a device (CUDA builds only): every pointer is device memory of `device`,
// the work is queued on `stream` (a cudaStream_t; null is the legacy default stream) and the call
// returns without waiting for it. cuBLAS must have been loaded with load_cublas first.
#pragma once

#include <cstdint>
#include <string>

#include "fastrnn/rnn.h"

namespace fastrnn {
namespace gpu {

int64_t rnn_forward_workspace_size(const RnnDesc& desc, int64_t T, int64_t N, bool training);
int64_t rnn_backward_workspace_size(const RnnDesc& desc, int64_t T, int64_t N, bool with_lengths);

template <class T>
void emulated_rnn_forward(T* y, T* h_n, T* c_n, T* reserve, T* workspace, const RnnDesc& desc,
                          int64_t steps, int64_t batch, const T* x, const int64_t* lengths,
                          const T* h0, const T* c0, const RnnWeights<T>& w, bool reverse);

template <class T>
void emulated_rnn_backward(T* dx, T* dh0, T* dc0, const RnnWeightGrads<T>& dw, T* workspace,
                           const RnnDesc& desc, int64_t steps, int64_t batch, const T* dy,
                           const T* dh_n, const T* dc_n, const T* x, const int64_t* lengths,
                           const RnnWeights<T>& w, const T* reserve, bool reverse);

#if defined(FASTRNN_WITH_CUDA)
template <class T>
void cuda_rnn_forward(int device, void* stream, T* y, T* h_n, T* c_n, T* reserve, T* workspace,
                      const RnnDesc& desc, int64_t steps, int64_t batch, const T* x,
                      const int64_t* lengths, const T* h0, const T* c0, const RnnWeights<T>& w,
                      bool reverse);

template <class T>
void cuda_rnn_backward(int device, void* stream, T* dx, T* dh0, T* dc0, const RnnWeightGrads<T>& dw,
                       T* workspace, const RnnDesc& desc, int64_t steps, int64_t batch, const T* dy,
                       const T* dh_n, const T* dc_n, const T* x, const int64_t* lengths,
                       const RnnWeights<T>& w, const T* reserve, bool reverse);

// Opens cuBLAS (libcublas.so.13) from `path` (a file, or a name the dynamic loader searches) and
// resolves the entry points the driver uses; throws Error with the loader's message on failure.
// Loading again is a no-op; cublas_path() is what was loaded ("" before).
void load_cublas(const std::string& path);
std::string cublas_path();
#endif

}  // namespace gpu
}  // namespace fastrnn
