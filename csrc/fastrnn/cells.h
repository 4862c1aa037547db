// cells.h — the pointwise math of one hidden unit of each cell, forward and backward, exactly as
// DESIGN.md writes the equations. Every function is FASTRNN_HD so the CPU kernels (which call them
// in vectorised loops over units) and the CUDA kernels (one thread per unit) share one definition.
// T is float, double or, in the fused AVX-512 forward loop, a 16-lane register
// (cpu/vec16_avx512.h): so choices are written where(c, a, b), not c ? a : b.
//
// Naming: p* are gate pre-activations (everything summed: input part, recurrent part, biases,
// peepholes); dp* are the loss gradients with respect to them.
#pragma once

#include "fastrnn/activations.h"
#include "fastrnn/common.h"

namespace fastrnn {
namespace cells {

// ---- Vanilla RNN: h' = act(p), act = tanh or relu (relu keeps NaN, as torch.relu does). ----

template <class T>
FASTRNN_HD T rnn_forward(T p, bool relu) {
  return relu ? where(p < T(0), T(0), p) : tanh_act(p);
}

// dh: gradient with respect to h'; h: the saved h'.
template <class T>
FASTRNN_HD T rnn_backward(T dh, T h, bool relu) {
  return relu ? where(h > T(0), dh, T(0)) : dh * (T(1) - h * h);
}

// ---- LSTM: i, f, g, o; c' = clip(f c + i g); m = o tanh(c') (h' = m, or W_hr m with projection).
// ----

// pi, pf: pre-activations without the peephole terms; po likewise (its peephole reads c').
// w_ci, w_cf, w_co: peephole weights, ignored when Peephole is false (the terms are then not
// computed at all). clip: cell clip (+inf for none).
template <bool Peephole = true, class T>
FASTRNN_HD void lstm_forward(T pi, T pf, T pg, T po, T c_prev, T w_ci, T w_cf, T w_co, T clip, T& i,
                             T& f, T& g, T& o, T& c, T& m) {
  i = sigmoid(Peephole ? pi + w_ci * c_prev : pi);
  f = sigmoid(Peephole ? pf + w_cf * c_prev : pf);
  g = tanh_act(pg);
  T raw = f * c_prev + i * g;
  raw = where(raw > clip, clip, raw);
  raw = where(raw < -clip, -clip, raw);
  c = raw;
  o = sigmoid(Peephole ? po + w_co * c : po);
  m = o * tanh_act(c);
}

// dm: gradient with respect to m; dc: gradient with respect to c' from the next step.
// An element sitting at the clip bound passes no gradient to f, i, g or c_prev.
template <class T>
FASTRNN_HD void lstm_backward(T dm, T dc, T i, T f, T g, T o, T c, T c_prev, T w_ci, T w_cf, T w_co,
                              T clip, T& dpi, T& dpf, T& dpg, T& dpo, T& dc_prev) {
  const T tc = tanh_act(c);
  dpo = dm * tc * o * (T(1) - o);
  T dc_total = dc + dm * o * (T(1) - tc * tc) + dpo * w_co;
  dc_total = where(c < clip, where(c > -clip, dc_total, T(0)), T(0));  // inside the clip bounds
  dpi = dc_total * g * i * (T(1) - i);
  dpf = dc_total * c_prev * f * (T(1) - f);
  dpg = dc_total * i * (T(1) - g * g);
  dc_prev = dc_total * f + dpi * w_ci + dpf * w_cf;
}

// ---- GRU, reset_after=True: n = tanh(x_n + r (W_hn h + b_hn)); h' = (1 - z) n + z h. ----

// pr, pz: full pre-activations; xn: W_in x + b_in; hn: W_hn h + b_hn.
template <class T>
FASTRNN_HD void gru_forward(T pr, T pz, T xn, T hn, T h_prev, T& r, T& z, T& n, T& h) {
  r = sigmoid(pr);
  z = sigmoid(pz);
  n = tanh_act(xn + r * hn);
  h = (T(1) - z) * n + z * h_prev;
}

// dh: gradient with respect to h'. dpn_h is the gradient with respect to W_hn h + b_hn (= dpn r);
// dh_prev is the direct part of h_prev's gradient (the recurrent GEMM adds the rest).
template <class T>
FASTRNN_HD void gru_backward(T dh, T r, T z, T n, T hn, T h_prev, T& dpr, T& dpz, T& dpn, T& dpn_h,
                             T& dh_prev) {
  dpn = dh * (T(1) - z) * (T(1) - n * n);
  dpz = dh * (h_prev - n) * z * (T(1) - z);
  dpr = dpn * hn * r * (T(1) - r);
  dpn_h = dpn * r;
  dh_prev = dh * z;
}

// ---- GRU, reset_after=False: n = tanh(x_n + W_hn (r h) + b_hn), in two phases around the GEMM.
// ----

// Phase 1: the gates and r h (the input of the W_hn GEMM).
template <class T>
FASTRNN_HD void gru_reset_before_gates(T pr, T pz, T h_prev, T& r, T& z, T& rh) {
  r = sigmoid(pr);
  z = sigmoid(pz);
  rh = r * h_prev;
}

// Phase 2: pn = W_in x + b_in + W_hn (r h) + b_hn.
template <class T>
FASTRNN_HD void gru_reset_before_output(T pn, T z, T h_prev, T& n, T& h) {
  n = tanh_act(pn);
  h = (T(1) - z) * n + z * h_prev;
}

// Backward of phase 2: dpn, dpz and the direct part of h_prev's gradient.
template <class T>
FASTRNN_HD void gru_reset_before_output_backward(T dh, T z, T n, T h_prev, T& dpn, T& dpz,
                                                 T& dh_prev) {
  dpn = dh * (T(1) - z) * (T(1) - n * n);
  dpz = dh * (h_prev - n) * z * (T(1) - z);
  dh_prev = dh * z;
}

// Backward of phase 1: drh is the gradient with respect to r h (from the W_hn GEMM).
template <class T>
FASTRNN_HD void gru_reset_before_gates_backward(T drh, T r, T h_prev, T& dpr, T& dh_prev_part) {
  dpr = drh * h_prev * r * (T(1) - r);
  dh_prev_part = drh * r;
}

}  // namespace cells
}  // namespace fastrnn
