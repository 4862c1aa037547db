// blas.cpp — GEMM through scipy-openblas32 (symbols carry the scipy_ prefix).
#include "cpu/blas.h"

#include <climits>
#include <string>

#include "fastrnn/common.h"

extern "C" {
// From scipy_openblas32's cblas.h; declared here so only this file knows the prefix.
enum ScipyCblasOrder { kRowMajor = 101 };
enum ScipyCblasTranspose { kNoTrans = 111, kTrans = 112 };
void scipy_cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                       const float* a, int lda, const float* b, int ldb, float beta, float* c,
                       int ldc);
void scipy_cblas_dgemm(int order, int trans_a, int trans_b, int m, int n, int k, double alpha,
                       const double* a, int lda, const double* b, int ldb, double beta, double* c,
                       int ldc);
void scipy_cblas_sgemv(int order, int trans, int m, int n, float alpha, const float* a, int lda,
                       const float* x, int incx, float beta, float* y, int incy);
void scipy_cblas_dgemv(int order, int trans, int m, int n, double alpha, const double* a, int lda,
                       const double* x, int incx, double beta, double* y, int incy);
void scipy_openblas_set_num_threads(int n);
char* scipy_openblas_get_config(void);
}

namespace fastrnn {
namespace cpu {
namespace {

int checked_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX) {
    throw Error(std::string("size too large for the BLAS's 32-bit indices: ") + what + " = " +
                std::to_string(v));
  }
  return static_cast<int>(v);
}

}  // namespace

template <>
void gemm<float>(bool trans_a, bool trans_b, int64_t M, int64_t Nc, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                 int64_t ldc) {
  if (M == 0 || Nc == 0) return;
  if (M == 1) {  // one row: a matrix-vector product, which streams B once and packs nothing
    const int incx = trans_a ? checked_int(lda, "lda") : 1;
    if (trans_b) {  // B stored [Nc, K]
      scipy_cblas_sgemv(kRowMajor, kNoTrans, checked_int(Nc, "N"), checked_int(K, "K"), alpha, B,
                        checked_int(ldb, "ldb"), A, incx, beta, C, 1);
    } else {  // B stored [K, Nc]
      scipy_cblas_sgemv(kRowMajor, kTrans, checked_int(K, "K"), checked_int(Nc, "N"), alpha, B,
                        checked_int(ldb, "ldb"), A, incx, beta, C, 1);
    }
    return;
  }
  scipy_cblas_sgemm(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans,
                    checked_int(M, "M"), checked_int(Nc, "N"), checked_int(K, "K"), alpha, A,
                    checked_int(lda, "lda"), B, checked_int(ldb, "ldb"), beta, C,
                    checked_int(ldc, "ldc"));
}

template <>
void gemm<double>(bool trans_a, bool trans_b, int64_t M, int64_t Nc, int64_t K, double alpha,
                  const double* A, int64_t lda, const double* B, int64_t ldb, double beta,
                  double* C, int64_t ldc) {
  if (M == 0 || Nc == 0) return;
  if (M == 1) {  // one row: a matrix-vector product, which streams B once and packs nothing
    const int incx = trans_a ? checked_int(lda, "lda") : 1;
    if (trans_b) {  // B stored [Nc, K]
      scipy_cblas_dgemv(kRowMajor, kNoTrans, checked_int(Nc, "N"), checked_int(K, "K"), alpha, B,
                        checked_int(ldb, "ldb"), A, incx, beta, C, 1);
    } else {  // B stored [K, Nc]
      scipy_cblas_dgemv(kRowMajor, kTrans, checked_int(K, "K"), checked_int(Nc, "N"), alpha, B,
                        checked_int(ldb, "ldb"), A, incx, beta, C, 1);
    }
    return;
  }
  scipy_cblas_dgemm(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans,
                    checked_int(M, "M"), checked_int(Nc, "N"), checked_int(K, "K"), alpha, A,
                    checked_int(lda, "lda"), B, checked_int(ldb, "ldb"), beta, C,
                    checked_int(ldc, "ldc"));
}

void blas_set_num_threads(int n) { scipy_openblas_set_num_threads(n); }

const char* blas_config() { return scipy_openblas_get_config(); }

}  // namespace cpu

std::string blas_version() { return cpu::blas_config(); }

}  // namespace fastrnn
