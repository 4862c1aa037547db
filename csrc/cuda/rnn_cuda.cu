// rnn_cuda.cu — the GPU layer driver (rnn_gpu_driver.h) on a device: each kernel body of
// rnn_kernels.cuh becomes a __global__ kernel launched on the caller's stream, GEMMs go to cuBLAS
// on the same stream, copies and fills are asynchronous. Nothing here synchronises: a call queues
// its work and returns, and errors found at launch are raised as std::runtime_error.
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <string>

#include "cuda/column_major_gemm.h"
#include "cuda/cublas_api.h"
#include "cuda/cuda_check.h"
#include "cuda/handle_pool.h"
#include "cuda/rnn_gpu_driver.h"
#include "fastrnn/rnn_gpu.h"

namespace fastrnn {
namespace gpu {
namespace {

int checked_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX) {
    throw Error(std::string("size too large for cuBLAS's 32-bit indices: ") + what + " = " +
                std::to_string(v));
  }
  return static_cast<int>(v);
}

template <class Body>
__global__ void run_kernel(Body body) {
  run_elements(body, KernelIndex{blockIdx.x, threadIdx.x, blockDim.x, gridDim.x});
}

// Makes `device` current for the call and restores the caller's device afterwards.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    check_cuda(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != device) check_cuda(cudaSetDevice(device), "cudaSetDevice");
    device_ = device;
  }
  ~DeviceGuard() {
    if (previous_ != device_) ignore_cuda_error(cudaSetDevice(previous_));
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0, device_ = 0;
};

// The calling thread's cuBLAS handle for `device` (handle_pool.h: kept for the thread's life, then
// left for the next thread; never destroyed).
CublasApi::Handle handle_for(const CublasApi& api, int device) {
  return HandlePool<CublasApi::Handle>::instance().get(device, [&](CublasApi::Handle* handle) {
    const int status = api.create(handle);
    if (status != CublasApi::kSuccess) {
      throw std::runtime_error("cuBLAS error in cublasCreate: " + cublas_status_text(status));
    }
  });
}

struct CudaBackend {
  const CublasApi& api;
  CublasApi::Handle handle;
  cudaStream_t stream;

  static constexpr int kBlock = 256;
  static constexpr int64_t kMaxBlocks = 4096;  // larger problems loop (grid-stride)

  template <class Body>
  void launch(const Body& body) const {
    if (body.count <= 0) return;
    const int64_t blocks = std::min(kMaxBlocks, (body.count + kBlock - 1) / kBlock);
    run_kernel<<<static_cast<unsigned>(blocks), kBlock, 0, stream>>>(body);
    check_cuda(cudaGetLastError(), "kernel launch");
  }

  template <class T>
  void gemm(bool trans_a, bool trans_b, int64_t M, int64_t Nc, int64_t K, T alpha, const T* A,
            int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) const {
    if (M == 0 || Nc == 0) return;
    const ColumnMajorGemm<T> g =
        as_column_major(trans_a, trans_b, M, Nc, K, A, lda, B, ldb, C, ldc);
    const int op_first = g.trans_first ? CublasApi::kOpT : CublasApi::kOpN;
    const int op_second = g.trans_second ? CublasApi::kOpT : CublasApi::kOpN;
    const int m = checked_int(g.m, "m"), n = checked_int(g.n, "n"), k = checked_int(g.k, "k");
    const int ld_first = checked_int(g.ld_first, "lda"),
              ld_second = checked_int(g.ld_second, "ldb");
    const int ldc_int = checked_int(g.ldc, "ldc");
    int status;
    if constexpr (sizeof(T) == sizeof(float)) {
      status = api.sgemm(handle, op_first, op_second, m, n, k, &alpha, g.first, ld_first, g.second,
                         ld_second, &beta, g.c, ldc_int);
    } else {
      status = api.dgemm(handle, op_first, op_second, m, n, k, &alpha, g.first, ld_first, g.second,
                         ld_second, &beta, g.c, ldc_int);
    }
    if (status != CublasApi::kSuccess) {
      throw std::runtime_error(std::string("cuBLAS error in ") +
                               (sizeof(T) == sizeof(float) ? "cublasSgemm" : "cublasDgemm") + ": " +
                               cublas_status_text(status));
    }
  }

  template <class T>
  void zero(T* p, int64_t count) const {
    if (count > 0) check_cuda(cudaMemsetAsync(p, 0, sizeof(T) * count, stream), "memset");
  }

  template <class T>
  void copy(T* dst, const T* src, int64_t count) const {
    if (count > 0) {
      check_cuda(cudaMemcpyAsync(dst, src, sizeof(T) * count, cudaMemcpyDeviceToDevice, stream),
                 "memcpy");
    }
  }
};

CudaBackend backend_for(int device, void* stream) {
  const CublasApi& api = cublas_api();
  CublasApi::Handle handle = handle_for(api, device);
  const int status = api.set_stream(handle, stream);
  if (status != CublasApi::kSuccess) {
    throw std::runtime_error("cuBLAS error in cublasSetStream: " + cublas_status_text(status));
  }
  return CudaBackend{api, handle, static_cast<cudaStream_t>(stream)};
}

}  // namespace

template <class T>
void cuda_rnn_forward(int device, void* stream, T* y, T* h_n, T* c_n, T* reserve, T* workspace,
                      const RnnDesc& desc, int64_t steps, int64_t batch, const T* x,
                      const int64_t* lengths, const T* h0, const T* c0, const RnnWeights<T>& w,
                      bool reverse) {
  DeviceGuard guard(device);
  CudaBackend be = backend_for(device, stream);
  rnn_forward(be, y, h_n, c_n, reserve, workspace, desc, steps, batch, x, lengths, h0, c0, w,
              reverse);
}

template <class T>
void cuda_rnn_backward(int device, void* stream, T* dx, T* dh0, T* dc0, const RnnWeightGrads<T>& dw,
                       T* workspace, const RnnDesc& desc, int64_t steps, int64_t batch, const T* dy,
                       const T* dh_n, const T* dc_n, const T* x, const int64_t* lengths,
                       const RnnWeights<T>& w, const T* reserve, bool reverse) {
  DeviceGuard guard(device);
  CudaBackend be = backend_for(device, stream);
  rnn_backward(be, dx, dh0, dc0, dw, workspace, desc, steps, batch, dy, dh_n, dc_n, x, lengths, w,
               reserve, reverse);
}

#define FASTRNN_INSTANTIATE(T)                                                                 \
  template void cuda_rnn_forward<T>(int, void*, T*, T*, T*, T*, T*, const RnnDesc&, int64_t,   \
                                    int64_t, const T*, const int64_t*, const T*, const T*,     \
                                    const RnnWeights<T>&, bool);                               \
  template void cuda_rnn_backward<T>(int, void*, T*, T*, T*, const RnnWeightGrads<T>&, T*,     \
                                     const RnnDesc&, int64_t, int64_t, const T*, const T*,     \
                                     const T*, const T*, const int64_t*, const RnnWeights<T>&, \
                                     const T*, bool);
FASTRNN_INSTANTIATE(float)
FASTRNN_INSTANTIATE(double)
#undef FASTRNN_INSTANTIATE

}  // namespace gpu
}  // namespace fastrnn
