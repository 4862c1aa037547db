// blas.h — the one door to the BLAS (scipy-openblas32): row-major GEMM for float and double with
// the size checks its 32-bit indices need, and its thread count.
#pragma once

#include <cstdint>

namespace fastrnn {
namespace cpu {

// C[M,Nc] = alpha * op(A) op(B) + beta * C, row-major. op(A) is [M,K] (A stored [K,M] when
// trans_a); op(B) is [K,Nc] (B stored [Nc,K] when trans_b). lda/ldb/ldc: row strides.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t Nc, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

void blas_set_num_threads(int n);
const char* blas_config();

}  // namespace cpu
}  // namespace fastrnn
