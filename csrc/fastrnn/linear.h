// linear.h — the affine layer y = x W^T + b over all M rows at once (M = every leading position,
// e.g. T·N), forward and backward, each product one GEMM split over fastrnn's own threads.
#pragma once

#include <cstdint>

namespace fastrnn {

// y = x W^T (+ b when b is not null).
// y: [M,O]  x: [M,I]  w: [O,I]  b: [O] or null
template <class T>
void linear_forward(T* y, const T* x, const T* w, const T* b, int64_t M, int64_t I, int64_t O);

// dx = dy W (when dx is not null); dw += dy^T x; db += the column sums of dy (when db is not null).
// dx: [M,I] or null  dw: [O,I]  db: [O] or null  dy: [M,O]  x: [M,I]  w: [O,I]
template <class T>
void linear_backward(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, int64_t M, int64_t I,
                     int64_t O);

}  // namespace fastrnn
