// cublas_api.h — the few cuBLAS entry points the GPU driver calls, resolved at run time from
// libcublas.so.13 (cublas_loader.cpp), so neither cuBLAS's headers nor its library are needed to
// build, and importing fastrnn never needs them. The declarations follow cuBLAS's stable C ABI
// (cublas_api.h of the toolkit): a handle is an opaque pointer, operations and statuses are ints.
#pragma once

#include <string>

namespace fastrnn {
namespace gpu {

struct CublasApi {
  using Handle = void*;                     // cublasHandle_t
  static constexpr int kSuccess = 0;        // CUBLAS_STATUS_SUCCESS
  static constexpr int kOpN = 0, kOpT = 1;  // CUBLAS_OP_N, CUBLAS_OP_T

  int (*create)(Handle* handle);                   // cublasCreate_v2
  int (*set_stream)(Handle handle, void* stream);  // cublasSetStream_v2
  int (*sgemm)(Handle, int transa, int transb, int m, int n, int k, const float* alpha,
               const float* A, int lda, const float* B, int ldb, const float* beta, float* C,
               int ldc);  // cublasSgemm_v2 (column-major)
  int (*dgemm)(Handle, int transa, int transb, int m, int n, int k, const double* alpha,
               const double* A, int lda, const double* B, int ldb, const double* beta, double* C,
               int ldc);  // cublasDgemm_v2
};

// A cuBLAS status for an error message: its CUBLAS_STATUS_* name and number (cublasStatus_t's
// values), and what to do where there is something to do; a status this list lacks by number.
inline std::string cublas_status_text(int status) {
  const char* name = nullptr;
  const char* hint = "";
  switch (status) {
    case 1:
      name = "CUBLAS_STATUS_NOT_INITIALIZED";
      break;
    case 3:
      name = "CUBLAS_STATUS_ALLOC_FAILED";
      hint =
          ": out of device memory for cuBLAS's own buffers (torch.cuda.empty_cache() returns "
          "what torch's allocator keeps cached)";
      break;
    case 7:
      name = "CUBLAS_STATUS_INVALID_VALUE";
      break;
    case 8:
      name = "CUBLAS_STATUS_ARCH_MISMATCH";
      break;
    case 11:
      name = "CUBLAS_STATUS_MAPPING_ERROR";
      break;
    case 13:
      name = "CUBLAS_STATUS_EXECUTION_FAILED";
      hint = ": a GPU kernel failed to launch or run";
      break;
    case 14:
      name = "CUBLAS_STATUS_INTERNAL_ERROR";
      break;
    case 15:
      name = "CUBLAS_STATUS_NOT_SUPPORTED";
      break;
    case 16:
      name = "CUBLAS_STATUS_LICENSE_ERROR";
      break;
    default:
      return "cuBLAS status " + std::to_string(status);
  }
  return std::string(name) + " (" + std::to_string(status) + ")" + hint;
}

// The loaded entry points; throws Error when load_cublas (rnn_gpu.h) has not succeeded.
const CublasApi& cublas_api();

}  // namespace gpu
}  // namespace fastrnn
