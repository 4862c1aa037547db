// column_major_gemm.h — the GPU driver's row-major GEMMs as cuBLAS's column-major calls, and a
// plain reference of that column-major call for the grid emulator. Both backends go through
// as_column_major, so the tests without a GPU check the operand swap the cuBLAS path relies on.
//
// A row-major [R,C] array with row stride ld is, read column-major, its transpose [C,R] with
// leading dimension ld; so row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: the
// same buffers, B first, the sizes (Nc, M, K) and the transposition flags kept.
#pragma once

#include <cstdint>

#include "fastrnn/common.h"

namespace fastrnn {
namespace gpu {

// The arguments of a column-major GEMM C[m,n] = alpha op(first)·op(second) + beta C (cuBLAS's
// gemm: op transposes when the flag is set; lds are column strides).
template <class T>
struct ColumnMajorGemm {
  bool trans_first, trans_second;
  int64_t m, n, k;
  const T* first;
  int64_t ld_first;
  const T* second;
  int64_t ld_second;
  T* c;
  int64_t ldc;
};

// Row-major C[M,Nc] = op(A)·op(B) (A stored [K,M] when trans_a, B stored [Nc,K] when trans_b;
// lda/ldb/ldc are row strides) as a column-major call.
template <class T>
ColumnMajorGemm<T> as_column_major(bool trans_a, bool trans_b, int64_t M, int64_t Nc, int64_t K,
                                   const T* A, int64_t lda, const T* B, int64_t ldb, T* C,
                                   int64_t ldc) {
  return ColumnMajorGemm<T>{trans_b, trans_a, Nc, M, K, B, ldb, A, lda, C, ldc};
}

// The column-major call done plainly, as cuBLAS defines it (C is not read when beta is 0).
template <class T>
void reference_column_major_gemm(const ColumnMajorGemm<T>& g, T alpha, T beta) {
  for (int64_t j = 0; j < g.n; ++j) {
    for (int64_t i = 0; i < g.m; ++i) {
      T acc = T(0);
      for (int64_t p = 0; p < g.k; ++p) {
        // op(first)[i,p] and op(second)[p,j], column-major with their leading dimensions.
        const T a = g.trans_first ? g.first[p + i * g.ld_first] : g.first[i + p * g.ld_first];
        const T b = g.trans_second ? g.second[j + p * g.ld_second] : g.second[p + j * g.ld_second];
        acc += a * b;
      }
      T& c = g.c[i + j * g.ldc];
      c = beta == T(0) ? alpha * acc : alpha * acc + beta * c;
    }
  }
}

}  // namespace gpu
}  // namespace fastrnn
