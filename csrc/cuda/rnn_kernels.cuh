// rnn_kernels.cuh — the bodies of the GPU layer's pointwise kernels, one element (one hidden unit
// of one sequence, or one column) per loop trip. Both nvcc (rnn_cuda.cu wraps each in a
// __global__ kernel) and the host compiler (grid_emulator.h runs each for every block and thread
// on the CPU) compile this file, so the tests without a GPU run the very code the device runs.
// The cell math is cells.h's, as on the CPU path.
//
// Each body is a struct of pointers and sizes with `count` elements and `element(i)`;
// `run_elements` is the grid-stride loop a thread runs over them. None needs __syncthreads or
// shared memory, and none accumulates across threads: every output element has one writer, so the
// results do not depend on the launch shape.
//
// Masking as on the CPU path: a row n exists at step t when lengths is null or t < lengths[n];
// a missing row's state is carried unchanged, its outputs and gate gradients are zero. Optional
// parameters (biases, peepholes) may be null and then count as zero.
#pragma once

#include <cstdint>

#include "cuda/kernel_index.h"
#include "fastrnn/cells.h"

namespace fastrnn {
namespace gpu {

FASTRNN_HD bool row_exists(const int64_t* lengths, int64_t t, int64_t n) {
  return lengths == nullptr || t < lengths[n];
}

template <class T>
FASTRNN_HD T value_or_zero(const T* p, int64_t i) {
  return p != nullptr ? p[i] : T(0);
}

// The loop every thread of a launch runs: elements first(), first() + stride(), ...
template <class Body>
FASTRNN_HD void run_elements(const Body& body, const KernelIndex& k) {
  for (int64_t i = k.first(); i < body.count; i += k.stride()) body.element(i);
}

// ---- forward, one step ----

// Vanilla RNN. count = N*H. A missing row's gates take its carried state (the reserve's layout).
template <class T>
struct RnnForwardStep {
  int64_t count, H, t;
  const int64_t* lengths;  // [N] or null
  bool relu;
  T* gates;       // [N,H] in: x·W_ihᵀ; out: h' (the activation backward needs), or h
  const T* hg;    // [N,H] h·W_hhᵀ
  const T* b_ih;  // [H] or null
  const T* b_hh;  // [H] or null
  T* h;           // [N,H] state, updated
  T* y;           // [N,H] this step's output

  FASTRNN_HD void element(int64_t i) const {
    const int64_t n = i / H, j = i % H;
    if (!row_exists(lengths, t, n)) {
      gates[i] = h[i];
      y[i] = T(0);
      return;
    }
    const T v = cells::rnn_forward(
        gates[i] + hg[i] + value_or_zero(b_ih, j) + value_or_zero(b_hh, j), relu);
    gates[i] = v;
    h[i] = v;
    y[i] = v;
  }
};

// LSTM. count = N*H. c_prev may alias c (inference) and m may be the state h (no projection):
// each element reads and writes only its own unit.
template <class T>
struct LstmForwardStep {
  int64_t count, H, t;
  const int64_t* lengths;
  T* gates;         // [N,4H] in: x·W_ihᵀ; out: i, f, g, o
  const T* hg;      // [N,4H] h·W_hhᵀ
  const T* b_ih;    // [4H] or null
  const T* b_hh;    // [4H] or null
  const T* w_ch;    // [3,H] peepholes or null
  T clip;           // +inf for none
  const T* c_prev;  // [N,H]
  T* c;             // [N,H] state, updated
  T* c_save;        // [N,H] c' kept for backward (zero for missing rows), or null
  T* m;             // [N,H] o·tanh(c'): the state h, or the projection's input
  bool m_is_input;  // m feeds the projection: zero it for missing rows (else it is state)
  T* y;             // [N,H] this step's output, or null (the projection writes it)

  FASTRNN_HD void element(int64_t i) const {
    const int64_t n = i / H, j = i % H;
    if (!row_exists(lengths, t, n)) {
      if (y != nullptr) y[i] = T(0);
      if (c_save != nullptr) c_save[i] = T(0);
      if (m_is_input) m[i] = T(0);
      return;
    }
    T* g = gates + n * 4 * H;
    const T* r = hg + n * 4 * H;
    T p[4];
    for (int q = 0; q < 4; ++q) {
      p[q] = g[q * H + j] + r[q * H + j] + value_or_zero(b_ih, q * H + j) +
             value_or_zero(b_hh, q * H + j);
    }
    T gi, gf, gg, go, cn, mn;
    cells::lstm_forward(p[0], p[1], p[2], p[3], c_prev[i], value_or_zero(w_ch, j),
                        value_or_zero(w_ch, H + j), value_or_zero(w_ch, 2 * H + j), clip, gi, gf,
                        gg, go, cn, mn);
    g[j] = gi;
    g[H + j] = gf;
    g[2 * H + j] = gg;
    g[3 * H + j] = go;
    c[i] = cn;
    if (c_save != nullptr) c_save[i] = cn;
    m[i] = mn;
    if (y != nullptr) y[i] = mn;
  }
};

// LSTM projection, after the GEMM hproj = m·W_hrᵀ: existing rows take hproj as their state and
// output. count = N*P.
template <class T>
struct ProjectionCommit {
  int64_t count, P, t;
  const int64_t* lengths;
  const T* hproj;  // [N,P]
  T* h;            // [N,P] state, updated
  T* y;            // [N,P] this step's output

  FASTRNN_HD void element(int64_t i) const {
    if (!row_exists(lengths, t, i / P)) {
      y[i] = T(0);
      return;
    }
    h[i] = hproj[i];
    y[i] = hproj[i];
  }
};

// GRU, reset_after=True. count = N*H. h_prev may alias h.
template <class T>
struct GruForwardStep {
  int64_t count, H, t;
  const int64_t* lengths;
  T* gates;         // [N,3H] in: x·W_ihᵀ; out: r, z, n
  const T* hg;      // [N,3H] h·W_hhᵀ
  const T* b_ih;    // [3H] or null
  const T* b_hh;    // [3H] or null
  const T* h_prev;  // [N,H]
  T* h;             // [N,H] state, updated
  T* hn_save;       // [N,H] W_hn h + b_hn kept for backward (zero for missing rows), or null
  T* y;             // [N,H]

  FASTRNN_HD void element(int64_t i) const {
    const int64_t n = i / H, j = i % H;
    if (!row_exists(lengths, t, n)) {
      y[i] = T(0);
      if (hn_save != nullptr) hn_save[i] = T(0);
      return;
    }
    T* g = gates + n * 3 * H;
    const T* r = hg + n * 3 * H;
    const T hn = r[2 * H + j] + value_or_zero(b_hh, 2 * H + j);
    T gr, gz, gn, hh;
    cells::gru_forward(
        g[j] + r[j] + value_or_zero(b_ih, j) + value_or_zero(b_hh, j),
        g[H + j] + r[H + j] + value_or_zero(b_ih, H + j) + value_or_zero(b_hh, H + j),
        g[2 * H + j] + value_or_zero(b_ih, 2 * H + j), hn, h_prev[i], gr, gz, gn, hh);
    g[j] = gr;
    g[H + j] = gz;
    g[2 * H + j] = gn;
    h[i] = hh;
    if (hn_save != nullptr) hn_save[i] = hn;
    y[i] = hh;
  }
};

// GRU, reset_after=False, phase 1 (before the W_hn GEMM): r, z and r·h. count = N*H.
template <class T>
struct GruResetBeforeGates {
  int64_t count, H, t;
  const int64_t* lengths;
  T* gates;         // [N,3H] in: x·W_ihᵀ; out: r, z in the first 2H columns
  const T* hg;      // [N,2H] h·W_hrᵀ, h·W_hzᵀ
  const T* b_ih;    // [3H] or null
  const T* b_hh;    // [3H] or null
  const T* h_prev;  // [N,H]
  T* rh;            // [N,H] r·h (zero for missing rows)

  FASTRNN_HD void element(int64_t i) const {
    const int64_t n = i / H, j = i % H;
    if (!row_exists(lengths, t, n)) {
      rh[i] = T(0);
      return;
    }
    T* g = gates + n * 3 * H;
    const T* r = hg + n * 2 * H;
    T gr, gz, rhi;
    cells::gru_reset_before_gates(
        g[j] + r[j] + value_or_zero(b_ih, j) + value_or_zero(b_hh, j),
        g[H + j] + r[H + j] + value_or_zero(b_ih, H + j) + value_or_zero(b_hh, H + j), h_prev[i],
        gr, gz, rhi);
    g[j] = gr;
    g[H + j] = gz;
    rh[i] = rhi;
  }
};

// GRU, reset_after=False, phase 2 (after hn = (r·h)·W_hnᵀ): n and h'. count = N*H.
template <class T>
struct GruResetBeforeOutput {
  int64_t count, H, t;
  const int64_t* lengths;
  T* gates;         // [N,3H] in: z at H.., x·W_inᵀ at 2H..; out: n at 2H..
  const T* hn;      // [N,H]
  const T* b_ih;    // [3H] or null
  const T* b_hh;    // [3H] or null
  const T* h_prev;  // [N,H]
  T* h;             // [N,H] state, updated
  T* y;             // [N,H]

  FASTRNN_HD void element(int64_t i) const {
    const int64_t n = i / H, j = i % H;
    if (!row_exists(lengths, t, n)) {
      y[i] = T(0);
      return;
    }
    T* g = gates + n * 3 * H;
    T gn, hh;
    cells::gru_reset_before_output(
        g[2 * H + j] + value_or_zero(b_ih, 2 * H + j) + hn[i] + value_or_zero(b_hh, 2 * H + j),
        g[H + j], h_prev[i], gn, hh);
    g[2 * H + j] = gn;
    h[i] = hh;
    y[i] = hh;
  }
};

// ---- backward, one step (the state gradient dh is what reaches h' from later steps) ----

// Vanilla RNN. count = N*H.
template <class T>
struct RnnBackwardStep {
  int64_t count, H, t;
  const int64_t* lengths;
  bool relu;
  const T* act;  // [N,H] the saved h'
  const T* dh;   // [N,H]
  const T* dy;   // [N,H]
  T* dgates;     // [N,H] out

  FASTRNN_HD void element(int64_t i) const {
    dgates[i] =
        row_exists(lengths, t, i / H) ? cells::rnn_backward(dh[i] + dy[i], act[i], relu) : T(0);
  }
};

// LSTM. count = N*H. dm is dh (no projection; dy is added) or the gradient through the projection
// (dy null: it is already in dm).
template <class T>
struct LstmBackwardStep {
  int64_t count, H, t;
  const int64_t* lengths;
  const T* gates;   // [N,4H] i, f, g, o
  const T* c;       // [N,H] c'
  const T* c_prev;  // [N,H]
  const T* w_ch;    // [3,H] or null
  T clip;
  const T* dm;  // [N,H]
  const T* dy;  // [N,H] or null
  T* dc;        // [N,H] carried cell gradient, updated
  T* dgates;    // [N,4H] out

  FASTRNN_HD void element(int64_t i) const {
    const int64_t n = i / H, j = i % H;
    T* dg = dgates + n * 4 * H;
    if (!row_exists(lengths, t, n)) {
      for (int q = 0; q < 4; ++q) dg[q * H + j] = T(0);
      return;
    }
    const T* g = gates + n * 4 * H;
    const T dmi = dy != nullptr ? dm[i] + dy[i] : dm[i];
    T dpi, dpf, dpg, dpo, dcp;
    cells::lstm_backward(dmi, dc[i], g[j], g[H + j], g[2 * H + j], g[3 * H + j], c[i], c_prev[i],
                         value_or_zero(w_ch, j), value_or_zero(w_ch, H + j),
                         value_or_zero(w_ch, 2 * H + j), clip, dpi, dpf, dpg, dpo, dcp);
    dg[j] = dpi;
    dg[H + j] = dpf;
    dg[2 * H + j] = dpg;
    dg[3 * H + j] = dpo;
    dc[i] = dcp;
  }
};

// LSTM projection: the gradient reaching this step's h (state + output), zero for missing rows;
// the GEMM dm = dh_step·W_hr follows. count = N*P.
template <class T>
struct ProjectionBackwardInput {
  int64_t count, P, t;
  const int64_t* lengths;
  const T* dh;  // [N,P]
  const T* dy;  // [N,P]
  T* dh_step;   // [N,P] out (kept for dW_hr)

  FASTRNN_HD void element(int64_t i) const {
    dh_step[i] = row_exists(lengths, t, i / P) ? dh[i] + dy[i] : T(0);
  }
};

// GRU, reset_after=True. count = N*H. dh_prev gets the direct part (dh·z); the GEMM with dgates_h
// adds the rest.
template <class T>
struct GruBackwardStep {
  int64_t count, H, t;
  const int64_t* lengths;
  const T* gates;   // [N,3H] r, z, n
  const T* hn;      // [N,H] saved W_hn h + b_hn
  const T* h_prev;  // [N,H]
  const T* dh;      // [N,H]
  const T* dy;      // [N,H]
  T* dgates_x;      // [N,3H] out: input-side pre-activation gradients
  T* dgates_h;      // [N,3H] out: recurrent-side (n's is dpn·r)
  T* dh_prev;       // [N,H] out

  FASTRNN_HD void element(int64_t i) const {
    const int64_t n = i / H, j = i % H;
    T* dgx = dgates_x + n * 3 * H;
    T* dgh = dgates_h + n * 3 * H;
    if (!row_exists(lengths, t, n)) {
      for (int q = 0; q < 3; ++q) dgx[q * H + j] = dgh[q * H + j] = T(0);
      dh_prev[i] = T(0);
      return;
    }
    const T* g = gates + n * 3 * H;
    T dpr, dpz, dpn, dpn_h, dprev;
    cells::gru_backward(dh[i] + dy[i], g[j], g[H + j], g[2 * H + j], hn[i], h_prev[i], dpr, dpz,
                        dpn, dpn_h, dprev);
    dgx[j] = dgh[j] = dpr;
    dgx[H + j] = dgh[H + j] = dpz;
    dgx[2 * H + j] = dpn;
    dgh[2 * H + j] = dpn_h;
    dh_prev[i] = dprev;
  }
};

// GRU, reset_after=False, backward of phase 2: dpz, dpn and the direct part of dh_prev; a missing
// row's gate gradients are all zero (r's too). count = N*H.
template <class T>
struct GruResetBeforeOutputBackward {
  int64_t count, H, t;
  const int64_t* lengths;
  const T* gates;   // [N,3H]
  const T* h_prev;  // [N,H]
  const T* dh;      // [N,H]
  const T* dy;      // [N,H]
  T* dgates;        // [N,3H] out (z and n columns; r's zeroed for missing rows)
  T* dh_prev;       // [N,H] out

  FASTRNN_HD void element(int64_t i) const {
    const int64_t n = i / H, j = i % H;
    T* dg = dgates + n * 3 * H;
    if (!row_exists(lengths, t, n)) {
      for (int q = 0; q < 3; ++q) dg[q * H + j] = T(0);
      dh_prev[i] = T(0);
      return;
    }
    const T* g = gates + n * 3 * H;
    T dpn, dpz, dprev;
    cells::gru_reset_before_output_backward(dh[i] + dy[i], g[H + j], g[2 * H + j], h_prev[i], dpn,
                                            dpz, dprev);
    dg[H + j] = dpz;
    dg[2 * H + j] = dpn;
    dh_prev[i] = dprev;
  }
};

// GRU, reset_after=False, backward of phase 1, after drh = dpn·W_hn: dpr and r's part of dh_prev.
// count = N*H.
template <class T>
struct GruResetBeforeGatesBackward {
  int64_t count, H, t;
  const int64_t* lengths;
  const T* gates;   // [N,3H]
  const T* h_prev;  // [N,H]
  const T* drh;     // [N,H]
  T* dgates;        // [N,3H] out (r column)
  T* dh_prev;       // [N,H] updated

  FASTRNN_HD void element(int64_t i) const {
    const int64_t n = i / H, j = i % H;
    if (!row_exists(lengths, t, n)) return;  // phase 2's kernel zeroed the row
    T dpr, part;
    cells::gru_reset_before_gates_backward(drh[i], gates[n * 3 * H + j], h_prev[i], dpr, part);
    dgates[n * 3 * H + j] = dpr;
    dh_prev[i] += part;
  }
};

// Carries the state gradient to the previous step for the rows that exist at step t (the others
// keep theirs). count = N*W.
template <class T>
struct StateGradientCommit {
  int64_t count, W, t;
  const int64_t* lengths;
  const T* src;  // [N,W]
  T* dst;        // [N,W]

  FASTRNN_HD void element(int64_t i) const {
    if (row_exists(lengths, t, i / W)) dst[i] = src[i];
  }
};

// ---- after the loop: parameter gradients ----

// dst = src [T,N,W] with the rows past each sequence's end (t >= lengths[n]) zeroed, for the
// dW_ih GEMM. count = T·N·W.
template <class T>
struct PaddedRowsZeroed {
  int64_t count, N, W;
  const int64_t* lengths;
  const T* src;  // [T,N,W]
  T* dst;        // [T,N,W]

  FASTRNN_HD void element(int64_t i) const {
    const int64_t row = i / W;
    dst[i] = row_exists(lengths, row / N, row % N) ? src[i] : T(0);
  }
};

// acc[j] += Σ_r a[r·lda + j] (b null) or Σ_r a[r·lda + j]·b[r·ldb + j]. One thread per column,
// rows summed in order: deterministic, no atomics. count = columns.
template <class T>
struct ColumnSums {
  int64_t count, rows;
  const T* a;
  int64_t lda;
  const T* b;  // or null
  int64_t ldb;
  T* acc;  // [count]

  FASTRNN_HD void element(int64_t j) const {
    T s = T(0);
    if (b == nullptr) {
      for (int64_t r = 0; r < rows; ++r) s += a[r * lda + j];
    } else {
      for (int64_t r = 0; r < rows; ++r) s += a[r * lda + j] * b[r * ldb + j];
    }
    acc[j] += s;
  }
};

}  // namespace gpu
}  // namespace fastrnn
