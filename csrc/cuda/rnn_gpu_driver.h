// rnn_gpu_driver.h — the GPU layer driver: one layer, one direction, a whole sequence, written
// once over a Backend that supplies GEMM, kernel launch, zero-fill and copy. rnn_cuda.cu
// instantiates it with cuBLAS and real launches on the caller's stream; rnn_emulated.cpp with the
// serial grid emulator (grid_emulator.h), so the tests without a GPU exercise this driver, the
// kernel bodies (rnn_kernels.cuh) that the device runs and the cuBLAS calls' arguments.
//
// The algorithm is the CPU path's (rnn_cpu.cpp): the input projection of all T·N rows as one GEMM;
// per step the recurrent GEMM and one fused pointwise kernel; backward per step in reverse order,
// then dx, dW_ih, dW_hh (and dW_hr) as one GEMM each and the bias and peephole gradients as
// column reductions. The training reserve has the CPU path's layout (cpu/rnn_layout.h): the
// vanilla RNN keeps h0 rather than each step's entering state (its activations are its states;
// rows past a sequence's end hold the carried state).
//
// Backend interface (all asynchronous on the backend's stream, in issue order):
//   gemm<T>(trans_a, trans_b, M, Nc, K, alpha, A, lda, B, ldb, beta, C, ldc)  row-major, as
//       cpu::gemm: C[M,Nc] = alpha op(A) op(B) + beta C
//   launch(body)          runs rnn_kernels.cuh's run_elements(body, index) on a grid
//   zero<T>(p, count)     p[0..count) = 0
//   copy<T>(dst, src, count)
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "cpu/rnn_layout.h"
#include "cuda/rnn_kernels.cuh"
#include "fastrnn/rnn.h"

namespace fastrnn {
namespace gpu {

using cpu::ReserveLayout;

// Offsets (elements) of the forward scratch; each array starts on a 64-element boundary.
struct ForwardLayout {
  int64_t xp = 0;     // [T,N,G*H] inference only (training keeps it in the reserve)
  int64_t hg = 0;     // [N,G*H] recurrent GEMM output
  int64_t h = 0;      // [N,S] running state
  int64_t c = 0;      // [N,H]
  int64_t m = 0;      // [N,H] LSTM projection input (inference)
  int64_t rh = 0;     // [N,H] GRU reset_before r·h (inference)
  int64_t hproj = 0;  // [N,P]
  int64_t total = 0;

  ForwardLayout(const RnnDesc& d, int64_t T, int64_t N, bool training) {
    const int64_t H = d.hidden_size, S = d.state_size(), GH = d.gates() * H;
    int64_t at = 0;
    auto take = [&](int64_t& slot, int64_t size) {
      slot = cpu::round_up(at, 64);
      at = slot + size;
    };
    if (!training) take(xp, T * N * GH);
    take(hg, N * GH);
    take(h, N * S);
    take(c, N * H);
    take(m, N * H);
    take(rh, N * H);
    take(hproj, N * d.proj_size);
    total = at;
  }
};

// Offsets (elements) of the backward scratch.
struct BackwardLayout {
  int64_t dg = 0;      // [T,N,G*H] pre-activation gradients (input side)
  int64_t dgh = 0;     // [T,N,G*H] GRU reset_after: recurrent side
  int64_t dh_all = 0;  // [T,N,P] LSTM projection: gradient of each step's h
  int64_t dh = 0;      // [N,S] carried
  int64_t dc = 0;      // [N,H] carried
  int64_t dprev = 0;   // [N,S]
  int64_t dm = 0;      // [N,H]
  int64_t drh = 0;     // [N,H]
  int64_t x_real = 0;  // [T,N,I] with lengths: x with its padded rows zeroed, for dW_ih
  int64_t total = 0;

  // with_lengths: the call masks padded steps, so x_real is needed.
  BackwardLayout(const RnnDesc& d, int64_t T, int64_t N, bool with_lengths) {
    const int64_t H = d.hidden_size, S = d.state_size(), GH = d.gates() * H;
    int64_t at = 0;
    auto take = [&](int64_t& slot, int64_t size) {
      slot = cpu::round_up(at, 64);
      at = slot + size;
    };
    take(dg, T * N * GH);
    if (d.mode == CellMode::kGru && d.reset_after) take(dgh, T * N * GH);
    if (d.proj_size > 0) take(dh_all, T * N * d.proj_size);
    take(dh, N * S);
    take(dc, N * H);
    take(dprev, N * S);
    take(dm, N * H);
    take(drh, N * H);
    if (with_lengths) take(x_real, T * N * d.input_size);
    total = at;
  }
};

template <class T>
T clip_value(const RnnDesc& d) {
  return d.cell_clip > 0 ? T(d.cell_clip) : std::numeric_limits<T>::infinity();
}

// Arguments and outputs as fastrnn::rnn_forward (rnn.h); every pointer is the backend's memory.
// workspace: [ForwardLayout(desc, steps, batch, reserve != null).total].
template <class Backend, class T>
void rnn_forward(Backend& be, T* y, T* h_n, T* c_n, T* reserve, T* workspace, const RnnDesc& desc,
                 int64_t steps, int64_t batch, const T* x, const int64_t* lengths, const T* h0,
                 const T* c0, const RnnWeights<T>& w, bool reverse) {
  desc.validate();
  const bool training = reserve != nullptr;
  const int64_t N = batch, H = desc.hidden_size, S = desc.state_size(), I = desc.input_size;
  const int64_t P = desc.proj_size, GH = desc.gates() * H;
  const bool lstm = desc.mode == CellMode::kLstm, gru = desc.mode == CellMode::kGru;
  const bool relu = desc.mode == CellMode::kRnnRelu;
  const ReserveLayout rl(desc, steps, N);
  const ForwardLayout fl(desc, steps, N, training);
  const T clip = clip_value<T>(desc);

  T* gates = training ? reserve + rl.gates : workspace + fl.xp;
  T* hg = workspace + fl.hg;
  T* h = workspace + fl.h;
  T* c = workspace + fl.c;
  if (h0)
    be.copy(h, h0, N * S);
  else
    be.zero(h, N * S);
  if (lstm) {
    if (c0)
      be.copy(c, c0, N * H);
    else
      be.zero(c, N * H);
  }

  // The input projection of every step at once.
  be.gemm(false, true, steps * N, GH, I, T(1), x, I, w.w_ih, I, T(0), gates, GH);
  const bool keeps_h_prev = ReserveLayout::keeps_h_prev(desc);
  if (training && !keeps_h_prev) be.copy(reserve + rl.h0, h, N * S);

  for (int64_t s = 0; s < steps; ++s) {
    const int64_t t = reverse ? steps - 1 - s : s;
    T* g_t = gates + t * N * GH;
    T* y_t = y + t * N * S;
    const T* h_src = h;
    const T* c_src = c;
    if (training && keeps_h_prev) {
      T* hp = reserve + rl.h_prev + t * N * S;
      be.copy(hp, h, N * S);
      h_src = hp;
      if (lstm) {
        T* cp = reserve + rl.c_prev + t * N * H;
        be.copy(cp, c, N * H);
        c_src = cp;
      }
    }
    if (lstm) {
      be.gemm(false, true, N, GH, S, T(1), h_src, S, w.w_hh, S, T(0), hg, GH);
      T* m = P > 0 ? (training ? reserve + rl.m + t * N * H : workspace + fl.m) : h;
      be.launch(LstmForwardStep<T>{N * H, H, t, lengths, g_t, hg, w.b_ih, w.b_hh, w.w_ch, clip,
                                   c_src, c, training ? reserve + rl.c + t * N * H : nullptr, m,
                                   P > 0, P > 0 ? nullptr : y_t});
      if (P > 0) {
        T* hproj = workspace + fl.hproj;
        be.gemm(false, true, N, P, H, T(1), m, H, w.w_hr, H, T(0), hproj, P);
        be.launch(ProjectionCommit<T>{N * P, P, t, lengths, hproj, h, y_t});
      }
    } else if (gru && desc.reset_after) {
      be.gemm(false, true, N, GH, S, T(1), h_src, S, w.w_hh, S, T(0), hg, GH);
      be.launch(GruForwardStep<T>{N * H, H, t, lengths, g_t, hg, w.b_ih, w.b_hh, h_src, h,
                                  training ? reserve + rl.extra + t * N * H : nullptr, y_t});
    } else if (gru) {
      be.gemm(false, true, N, 2 * H, S, T(1), h_src, S, w.w_hh, S, T(0), hg, 2 * H);
      T* rh = training ? reserve + rl.extra + t * N * H : workspace + fl.rh;
      be.launch(GruResetBeforeGates<T>{N * H, H, t, lengths, g_t, hg, w.b_ih, w.b_hh, h_src, rh});
      be.gemm(false, true, N, H, H, T(1), rh, H, w.w_hh + 2 * H * S, S, T(0), hg, H);
      be.launch(
          GruResetBeforeOutput<T>{N * H, H, t, lengths, g_t, hg, w.b_ih, w.b_hh, h_src, h, y_t});
    } else {
      be.gemm(false, true, N, H, S, T(1), h_src, S, w.w_hh, S, T(0), hg, H);
      be.launch(RnnForwardStep<T>{N * H, H, t, lengths, relu, g_t, hg, w.b_ih, w.b_hh, h, y_t});
    }
  }
  be.copy(h_n, h, N * S);
  if (lstm && c_n) be.copy(c_n, c, N * H);
}

// Arguments and outputs as fastrnn::rnn_backward (rnn.h); every pointer is the backend's memory.
// workspace: [BackwardLayout(desc, steps, batch, lengths != null).total].
template <class Backend, class T>
void rnn_backward(Backend& be, T* dx, T* dh0, T* dc0, const RnnWeightGrads<T>& dw, T* workspace,
                  const RnnDesc& desc, int64_t steps, int64_t batch, const T* dy, const T* dh_n,
                  const T* dc_n, const T* x, const int64_t* lengths, const RnnWeights<T>& w,
                  const T* reserve, bool reverse) {
  desc.validate();
  const int64_t N = batch, H = desc.hidden_size, S = desc.state_size(), I = desc.input_size;
  const int64_t P = desc.proj_size, GH = desc.gates() * H, TN = steps * N;
  const bool lstm = desc.mode == CellMode::kLstm, gru = desc.mode == CellMode::kGru;
  const bool relu = desc.mode == CellMode::kRnnRelu;
  const ReserveLayout rl(desc, steps, N);
  const BackwardLayout bl(desc, steps, N, lengths != nullptr);
  const T clip = clip_value<T>(desc);

  const T* gates = reserve + rl.gates;
  const T* h_prev_all = reserve + rl.h_prev;
  T* dg = workspace + bl.dg;
  T* dgh = (gru && desc.reset_after) ? workspace + bl.dgh : dg;
  T* dh = workspace + bl.dh;
  T* dc = workspace + bl.dc;
  T* dprev = workspace + bl.dprev;
  T* dm = workspace + bl.dm;
  T* drh = workspace + bl.drh;
  if (dh_n)
    be.copy(dh, dh_n, N * S);
  else
    be.zero(dh, N * S);
  if (lstm) {
    if (dc_n)
      be.copy(dc, dc_n, N * H);
    else
      be.zero(dc, N * H);
  }

  for (int64_t s = steps - 1; s >= 0; --s) {
    const int64_t t = reverse ? steps - 1 - s : s;
    const T* g_t = gates + t * N * GH;
    const T* hp_t = h_prev_all + t * N * S;
    const T* dy_t = dy + t * N * S;
    T* dg_t = dg + t * N * GH;
    if (lstm) {
      const T* dm_t = dh;
      const T* dy_add = dy_t;
      if (P > 0) {
        T* dh_t = workspace + bl.dh_all + t * N * P;
        be.launch(ProjectionBackwardInput<T>{N * P, P, t, lengths, dh, dy_t, dh_t});
        be.gemm(false, false, N, H, P, T(1), dh_t, P, w.w_hr, H, T(0), dm, H);
        dm_t = dm;
        dy_add = nullptr;
      }
      be.launch(LstmBackwardStep<T>{N * H, H, t, lengths, g_t, reserve + rl.c + t * N * H,
                                    reserve + rl.c_prev + t * N * H, w.w_ch, clip, dm_t, dy_add, dc,
                                    dg_t});
      be.gemm(false, false, N, S, GH, T(1), dg_t, GH, w.w_hh, S, T(0), dprev, S);
    } else if (gru && desc.reset_after) {
      T* dgh_t = dgh + t * N * GH;
      be.launch(GruBackwardStep<T>{N * H, H, t, lengths, g_t, reserve + rl.extra + t * N * H, hp_t,
                                   dh, dy_t, dg_t, dgh_t, dprev});
      be.gemm(false, false, N, S, GH, T(1), dgh_t, GH, w.w_hh, S, T(1), dprev, S);
    } else if (gru) {
      be.launch(
          GruResetBeforeOutputBackward<T>{N * H, H, t, lengths, g_t, hp_t, dh, dy_t, dg_t, dprev});
      be.gemm(false, false, N, H, H, T(1), dg_t + 2 * H, GH, w.w_hh + 2 * H * S, S, T(0), drh, H);
      be.launch(GruResetBeforeGatesBackward<T>{N * H, H, t, lengths, g_t, hp_t, drh, dg_t, dprev});
      be.gemm(false, false, N, S, 2 * H, T(1), dg_t, GH, w.w_hh, S, T(1), dprev, S);
    } else {
      be.launch(RnnBackwardStep<T>{N * H, H, t, lengths, relu, g_t, dh, dy_t, dg_t});
      be.gemm(false, false, N, S, GH, T(1), dg_t, GH, w.w_hh, S, T(0), dprev, S);
    }
    be.launch(StateGradientCommit<T>{N * S, S, t, lengths, dprev, dh});
  }
  be.copy(dh0, dh, N * S);
  if (lstm && dc0) be.copy(dc0, dc, N * H);

  // Everything that does not depend on the step order, as whole-sequence GEMMs and reductions.
  if (dx != nullptr) be.gemm(false, false, TN, I, GH, T(1), dg, GH, w.w_ih, I, T(0), dx, I);
  if (dw.w_ih) {
    // Padded rows of dg are zero, but 0 · NaN is NaN: the GEMM reads a copy of x whose padded
    // rows are zero (as the CPU path does).
    const T* x_rows = x;
    if (lengths != nullptr) {
      be.launch(PaddedRowsZeroed<T>{TN * I, N, I, lengths, x, workspace + bl.x_real});
      x_rows = workspace + bl.x_real;
    }
    be.gemm(true, false, GH, I, TN, T(1), dg, GH, x_rows, I, T(1), dw.w_ih, I);
  }
  if (dw.b_ih) be.launch(ColumnSums<T>{GH, TN, dg, GH, nullptr, 0, dw.b_ih});
  if (dw.w_hh) {
    if (gru && !desc.reset_after) {
      be.gemm(true, false, 2 * H, S, TN, T(1), dg, GH, h_prev_all, S, T(1), dw.w_hh, S);
      be.gemm(true, false, H, H, TN, T(1), dg + 2 * H, GH, reserve + rl.extra, H, T(1),
              dw.w_hh + 2 * H * S, S);
    } else if (ReserveLayout::keeps_h_prev(desc)) {
      be.gemm(true, false, GH, S, TN, T(1), dgh, GH, h_prev_all, S, T(1), dw.w_hh, S);
    } else {
      // The vanilla RNN's state entering a step: h0 for the first step in time order, the
      // previous step's saved activation after it. Here G·H = S = H.
      const int64_t first = reverse ? steps - 1 : 0;
      be.gemm(true, false, H, H, N, T(1), dg + first * N * H, H, reserve + rl.h0, H, T(1), dw.w_hh,
              H);
      if (steps > 1) {
        const T* dg_rest = dg + (reverse ? 0 : N * H);  // steps 0..T-2 backwards, 1..T-1 forwards
        const T* h_rest = gates + (reverse ? N * H : 0);
        be.gemm(true, false, H, H, (steps - 1) * N, T(1), dg_rest, H, h_rest, H, T(1), dw.w_hh, H);
      }
    }
  }
  if (dw.b_hh) be.launch(ColumnSums<T>{GH, TN, dgh, GH, nullptr, 0, dw.b_hh});
  if (P > 0 && dw.w_hr) {
    be.gemm(true, false, P, H, TN, T(1), workspace + bl.dh_all, P, reserve + rl.m, H, T(1), dw.w_hr,
            H);
  }
  if (lstm && dw.w_ch) {
    const T* c_prev_all = reserve + rl.c_prev;
    const T* c_all = reserve + rl.c;
    be.launch(ColumnSums<T>{H, TN, dg, GH, c_prev_all, H, dw.w_ch});             // i: c_prev
    be.launch(ColumnSums<T>{H, TN, dg + H, GH, c_prev_all, H, dw.w_ch + H});     // f: c_prev
    be.launch(ColumnSums<T>{H, TN, dg + 3 * H, GH, c_all, H, dw.w_ch + 2 * H});  // o: c'
  }
}

}  // namespace gpu
}  // namespace fastrnn
