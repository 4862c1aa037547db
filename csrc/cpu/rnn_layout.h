// rnn_layout.h — where each array lives inside the training reserve and the forward and backward
// workspaces of one layer call (offsets in elements). Shared by the generic and the fused CPU
// paths, so a reserve written by one can be read by the other.
#pragma once

#include <algorithm>
#include <cstdint>

#include "fastrnn/rnn.h"

namespace fastrnn {
namespace cpu {

constexpr int64_t kUnitBlock =
    16;  // hidden units per block of the fused kernels (one AVX-512 vector)

inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Rows per group of the fused backward's bias-gradient sums: each group is summed on its own and
// the groups are added in order, so the sums do not depend on how rows are split among threads.
constexpr int64_t kSumRows = 8;

// Batches of at most this many rows: the fused forward multiplies every step's input by W_ih in one
// pass over all T·N rows before its time loop (whole register tiles of rows instead of a one-row
// tile per step), so that each step's chain of dependent work is only the recurrent product.
constexpr int64_t kInputFirstRows = 2;

// Offsets (in elements) of the arrays kept in the training reserve.
//
// The vanilla RNN keeps no h_prev: its activations are its states, so the state entering step t
// is the activation of the step before (in the direction of time) and h0 for the first step. For
// that, a sequence's rows past its end (t >= lengths[n]) hold its carried state instead of an
// activation: the final state going forward, h0 going backward in time, where those rows come
// first. The reserve is T·N·H + N·S elements instead of 2·T·N·H.
struct ReserveLayout {
  int64_t gates = 0;   // [T,N,G*H] activations
  int64_t h_prev = 0;  // [T,N,S] the state entering each step (LSTM, GRU)
  int64_t h0 = 0;      // [N,S] the initial state (vanilla RNN)
  int64_t c = 0;       // [T,N,H] LSTM c'
  int64_t c_prev = 0;  // [T,N,H] LSTM c entering each step
  int64_t m = 0;       // [T,N,H] LSTM o·tanh(c') (projection only)
  int64_t extra = 0;   // [T,N,H] GRU: W_hn h + b_hn (reset_after) or r·h (reset_before)
  int64_t total = 0;

  static bool keeps_h_prev(const RnnDesc& d) {
    return d.mode == CellMode::kLstm || d.mode == CellMode::kGru;
  }

  ReserveLayout(const RnnDesc& d, int64_t T, int64_t N) {
    const int64_t H = d.hidden_size, S = d.state_size(), GH = d.gates() * H;
    int64_t at = 0;
    auto take = [&](int64_t& slot, int64_t size) {
      slot = at;
      at += size;
    };
    take(gates, T * N * GH);
    if (keeps_h_prev(d)) {
      take(h_prev, T * N * S);
    } else {
      take(h0, N * S);
    }
    if (d.mode == CellMode::kLstm) {
      take(c, T * N * H);
      take(c_prev, T * N * H);
      if (d.proj_size > 0) take(m, T * N * H);
    }
    if (d.mode == CellMode::kGru) take(extra, T * N * H);
    total = at;
  }
};

// Scratch of the forward pass.
struct ForwardLayout {
  int64_t xp = 0;       // [T,N,G*H] inference only (training keeps it in the reserve)
  int64_t hg = 0;       // [N,G*H] recurrent GEMM output
  int64_t h = 0;        // [N,S] running state
  int64_t c = 0;        // [N,H]
  int64_t m = 0;        // [N,H] LSTM projection input (inference)
  int64_t rh = 0;       // [N,H] GRU reset_before r·h (inference)
  int64_t hproj = 0;    // [N,P]
  int64_t zeros = 0;    // [G*H] zero biases / peepholes
  int64_t valid = 0;    // [N] bytes
  int64_t packed = 0;   // fused path: [W_ih | W_hh]ᵀ packed by unit blocks
  int64_t h2 = 0;       // [N,S] fused path: second state buffer
  int64_t bias = 0;     // [G*H] fused path: b_ih + b_hh (GRU's n gate: b_ih only)
  int64_t x_tiles = 0;  // fused path, N <= kInputFirstRows: [unit block][T][N][G·width] x·W_ihᵀ
  int64_t total = 0;

  ForwardLayout(const RnnDesc& d, int64_t T, int64_t N, bool training) {
    const int64_t H = d.hidden_size, S = d.state_size(), GH = d.gates() * H;
    int64_t at = 0;
    auto take = [&](int64_t& slot, int64_t size) {  // 64-byte aligned for the vector kernels
      slot = round_up(at, kUnitBlock);
      at = slot + size;
    };
    if (!training) take(xp, T * N * GH);
    take(hg, N * GH);
    take(h, N * S);
    take(c, N * H);
    take(m, N * H);
    take(rh, N * H);
    take(hproj, N * std::max<int64_t>(d.proj_size, 1));
    take(zeros, std::max<int64_t>(GH, 3 * H));
    take(valid, N);  // one element per row is more than a byte per row
    take(packed, round_up(H, 2 * kUnitBlock) * d.gates() * (d.input_size + S));
    take(h2, N * S);
    take(bias, GH);
    const int64_t units = round_up(H, 2 * kUnitBlock);  // past every block width (16 or 32)
    take(x_tiles, N <= kInputFirstRows ? T * N * d.gates() * units : 0);
    total = at;
  }
};

// Scratch of the backward pass.
struct BackwardLayout {
  int64_t dg = 0;          // [T,N,G*H] pre-activation gradients (input side)
  int64_t dgh = 0;         // [T,N,G*H] GRU reset_after: recurrent side
  int64_t dh_all = 0;      // [T,N,P] LSTM projection: gradient of each step's h
  int64_t dh = 0;          // [N,S] carried
  int64_t dc = 0;          // [N,H] carried
  int64_t dprev = 0;       // [N,S]
  int64_t dm = 0;          // [N,H]
  int64_t drh = 0;         // [N,H]
  int64_t zeros = 0;       // [max(G*H, 3H)]
  int64_t valid = 0;       // [N] bytes
  int64_t packed = 0;      // fused path: W_hh packed by column blocks
  int64_t packed_x = 0;    // fused path: W_ih packed by column blocks
  int64_t direct = 0;      // [N,H] fused path: GRU's direct part of dh
  int64_t bias_sum = 0;    // [2,G*H] column sums of dg and (GRU) dgh: the bias gradients
  int64_t group_sums = 0;  // [ceil(N/kSumRows)][2,G*H] fused path: the same by group of rows
  int64_t x_real = 0;      // [T,N,I] with lengths: x with its padded rows zeroed, for dW_ih
  int64_t total = 0;

  // with_lengths: the call masks padded steps, so x_real is needed (it comes last, so the other
  // offsets do not depend on it).
  BackwardLayout(const RnnDesc& d, int64_t T, int64_t N, bool with_lengths = false) {
    const int64_t H = d.hidden_size, S = d.state_size(), GH = d.gates() * H;
    int64_t at = 0;
    auto take = [&](int64_t& slot, int64_t size) {  // 64-byte aligned for the vector kernels
      slot = round_up(at, kUnitBlock);
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
    take(zeros, std::max<int64_t>(GH, 3 * H));
    take(valid, N);
    take(packed, round_up(S, 2 * kUnitBlock) * GH);
    take(packed_x, round_up(d.input_size, 2 * kUnitBlock) * GH);
    take(direct, N * H);
    take(bias_sum, 2 * GH);
    take(group_sums, round_up(N, kSumRows) / kSumRows * 2 * GH);
    if (with_lengths) take(x_real, T * N * d.input_size);
    total = at;
  }
};

}  // namespace cpu
}  // namespace fastrnn
