// linear_cpu.cpp — the affine layer on the CPU: three GEMMs (y, dx, dW) split over fastrnn's pool
// (the BLAS itself runs at one thread, so no second set of threads competes for the cores), the
// bias broadcast into y before its GEMM and the bias gradient summed over rows in the pool.
#include <algorithm>

#include "cpu/threading.h"
#include "fastrnn/linear.h"

namespace fastrnn {

template <class T>
void linear_forward(T* y, const T* x, const T* w, const T* b, int64_t M, int64_t I, int64_t O) {
  if (M == 0) return;
  if (b != nullptr) {
    for (int64_t m = 0; m < M; ++m) std::copy(b, b + O, y + m * O);
  }
  cpu::parallel_gemm<T>(false, true, M, O, I, T(1), x, I, w, I, b != nullptr ? T(1) : T(0), y, O);
}

template <class T>
void linear_backward(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, int64_t M, int64_t I,
                     int64_t O) {
  if (dx != nullptr) cpu::parallel_gemm<T>(false, false, M, I, O, T(1), dy, O, w, I, T(0), dx, I);
  cpu::parallel_gemm<T>(true, false, O, I, M, T(1), dy, O, x, I, T(1), dw, I);
  if (db != nullptr) {
    cpu::parallel_for(O, 16, [&](int64_t o0, int64_t o1) {
      for (int64_t m = 0; m < M; ++m) {
        const T* row = dy + m * O;  // row: [O]
        for (int64_t o = o0; o < o1; ++o) db[o] += row[o];
      }
    });
  }
}

template void linear_forward<float>(float*, const float*, const float*, const float*, int64_t,
                                    int64_t, int64_t);
template void linear_forward<double>(double*, const double*, const double*, const double*, int64_t,
                                     int64_t, int64_t);
template void linear_backward<float>(float*, float*, float*, const float*, const float*,
                                     const float*, int64_t, int64_t, int64_t);
template void linear_backward<double>(double*, double*, double*, const double*, const double*,
                                      const double*, int64_t, int64_t, int64_t);

}  // namespace fastrnn
