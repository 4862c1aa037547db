// rnn_fused_avx512.cpp — the fused float32 time loop for AVX-512 CPUs (see rnn_fused.h).
//
// Forward, per step and per block of 16 hidden units (blocks handed out by BlockClaims: a
// thread's own share first, then what another has not reached): a register tile
// [rows, G gates × 16 units] = x_t[rows, I] · W_ihᵀ[I, G×16] + h_prev[rows, S] · W_hhᵀ[S, G×16]
// (weights packed [I+S][G][16]), then the cell from cells.h on the tile. The input projection is
// part of the step, so no [T,N,G·H] array of it is written to memory and read back (GRU keeps its
// two halves in separate tiles: its n gate needs W_in x and W_hn h apart).
//
// Backward, per step, after a barrier: for each block of 32 units, dh_prev[rows, 32 columns] =
// dG[rows, G·H] · W_hh[G·H, 32] (weights packed [G·H][32]) and at once the cell's backward of the
// step before for the same units (it needs no other block's dh_prev, so one barrier per step
// suffices); and dx[t] = dG[t] · W_ih by blocks of 32 columns the same way (so dG is not read
// again by a whole-sequence GEMM).
//
// Threads share the work in one of two ways (plan_loop): each step's unit blocks, as above, with
// a barrier per step; or, when all the weights fit in a core's L2 (or, in training, in a part of
// L3 and each thread has 16 rows or more), the batch: each thread runs the whole sequence, forward
// and backward, for its own rows and never waits for the other. Either way each value is computed
// in the same order as on one thread. Where loads wait on memory the hardware prefetchers do not
// follow (the weight rows being packed, the backward cell's inputs) the loops prefetch ahead.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "cpu/cpu_features.h"
#include "cpu/rnn_fused.h"
#include "cpu/threading.h"
#include "cpu/tile_gemm_avx512.h"
#include "cpu/vec16_avx512.h"
#include "fastrnn/cells.h"

namespace fastrnn {
namespace cpu {
namespace {

using tile::kLanes;
using tile::panel_gemm;
using tile::prefetch_l1;
using tile::thread_buffer;

// Hidden units per block: 16 (one vector per gate) for LSTM and GRU; 32 for the one-gate RNN and
// for the columns of the backward GEMM, so their tiles hold two vectors per row.
constexpr int64_t kBackwardBlock = 32;
constexpr int64_t unit_block(int64_t gates) { return gates == 1 ? 32 : 16; }

// Transposes 16 rows of 16 floats in registers: afterwards r[c] holds what was column c.
void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {  // pairs of rows interleaved: a0 b0 a1 b1 | a4 b4 a5 b5 | ...
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  auto lo = [](__m512 a, __m512 b) {
    return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
  };
  auto hi = [](__m512 a, __m512 b) {
    return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
  };
  for (int i = 0; i < 4; ++i) {  // r[4i + j]: rows 4i..4i+3 of columns j, j+4, j+8, j+12
    r[4 * i] = lo(t[4 * i], t[4 * i + 2]);
    r[4 * i + 1] = hi(t[4 * i], t[4 * i + 2]);
    r[4 * i + 2] = lo(t[4 * i + 1], t[4 * i + 3]);
    r[4 * i + 3] = hi(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int j = 0; j < 4; ++j) {  // 128-bit quarters gathered across the row groups
    t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
    t[j + 4] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
    t[j + 8] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
    t[j + 12] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
    r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xDD);
    r[j + 4] = _mm512_shuffle_f32x4(t[j + 4], t[j + 12], 0x88);
    r[j + 12] = _mm512_shuffle_f32x4(t[j + 4], t[j + 12], 0xDD);
  }
}

constexpr int64_t kPackAhead = 4;  // lines of each weight row pack_forward prefetches ahead

// Wp[ub][k][g][l] = W_ih[g·H + ub·width + l][k] for k < I, then W_hh[g·H + ub·width + l][k - I]
// for k < I + S; units past H are zero. By 16 units × 16 values of k: 16 weight rows loaded,
// transposed in registers, stored as 16 panel rows.
void pack_forward(float* Wp, const float* w_ih, const float* w_hh, int64_t G, int64_t H, int64_t I,
                  int64_t S, int64_t width) {
  const int64_t blocks = round_up(H, width) / width;
  const int64_t K = I + S;
  // Value k of the row of unit j < H, gate g: from W_ih below I, from W_hh from I on.
  auto row_at = [&](int64_t g, int64_t j, int64_t k) {
    return k < I ? w_ih + (g * H + j) * I + k : w_hh + (g * H + j) * S + (k - I);
  };
  // Values k0..k0+15 of that row (zero past K, and for units past H).
  auto row_chunk = [&](int64_t g, int64_t j, int64_t k0) {
    __m512 v = _mm512_setzero_ps();
    if (j >= H) return v;
    if (k0 < I) v = _mm512_maskz_loadu_ps(first_lanes(I - k0), row_at(g, j, k0));
    if (k0 + kLanes > I) {
      const int64_t from = std::max(k0, I);
      const __mmask16 lanes = first_lanes(K - k0) & ~first_lanes(from - k0);
      const float* rec = row_at(g, j, from);
      v = from == k0 ? _mm512_maskz_loadu_ps(lanes, rec)
                     : _mm512_mask_expandloadu_ps(v, lanes, rec);
    }
    return v;
  };
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t ub = b0; ub < b1; ++ub) {
      float* panel = Wp + ub * K * G * width;
      // 16 weight rows at a time, walked along k: 16 streams, which the prefetchers follow.
      for (int64_t g = 0; g < G; ++g) {
        for (int64_t l0 = 0; l0 < width; l0 += kLanes) {
          for (int64_t k0 = 0; k0 < K; k0 += kLanes) {
            const int64_t rows = std::min<int64_t>(kLanes, K - k0);
            // The 16 rows' lines kPackAhead lines on: the loads otherwise wait on memory one
            // block at a time (LSTM (50, 64, 512) inference 1-2 % faster).
            if (k0 + kPackAhead * kLanes < K) {
              for (int l = 0; l < kLanes; ++l) {
                const int64_t j = ub * width + l0 + l;
                if (j < H) prefetch_l1(row_at(g, j, k0 + kPackAhead * kLanes));
              }
            }
            __m512 r[16];
            for (int l = 0; l < 16; ++l) r[l] = row_chunk(g, ub * width + l0 + l, k0);
            transpose16(r);
            float* at = panel + k0 * G * width + g * width + l0;
            for (int64_t k = 0; k < rows; ++k) _mm512_storeu_ps(at + k * G * width, r[k]);
          }
        }
      }
    }
  });
}

// Wb[cb][k][l] = W[k][cb·32 + l] for k < G·H, W: [G·H, cols] (W_hh or W_ih); columns past
// `cols` are zero.
void pack_backward(float* Wb, const float* w, int64_t GH, int64_t cols) {
  const int64_t blocks = round_up(cols, kBackwardBlock) / kBackwardBlock;
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t cb = b0; cb < b1; ++cb) {
      float* panel = Wb + cb * GH * kBackwardBlock;
      const int64_t c0 = cb * kBackwardBlock;
      const __mmask16 first = first_lanes(cols - c0), second = first_lanes(cols - c0 - kLanes);
      for (int64_t k = 0; k < GH; ++k) {
        const float* row = w + k * cols + c0;
        _mm512_storeu_ps(panel + k * kBackwardBlock, _mm512_maskz_loadu_ps(first, row));
        _mm512_storeu_ps(panel + k * kBackwardBlock + kLanes,
                         _mm512_maskz_loadu_ps(second, row + kLanes));
      }
    }
  });
}

// How a fused loop shares its work: `threads` threads, each with its own rows for the whole
// sequence (by_rows) or, step by step, with its share of the unit blocks (a barrier per step).
// Splitting the batch means the threads never wait for each other inside the loop, but each
// reads all of the weights every step rather than its share of them. That pays while they stay
// in one core's L2 (up to 1 MB; measured 12-30 % faster at H = 64-128) and each thread has rows
// enough to fill its register tiles; and in training, with 16 rows a thread or more, while they
// stay well inside L3 (up to 8 MB: 1.5-5 % faster at (100, 32 or 64, 256) and (50, 64, 512); with
// 8 rows a thread, or at 32 MB, H = 1024, slower; inference level to 1 % slower). Below a step
// of about 400k flops one thread is faster than any split.
struct LoopPlan {
  int threads;
  bool by_rows;
};
constexpr int64_t kMinRowsPerThread = 8;
constexpr int64_t kMaxSplitWeightBytes = int64_t{1} << 20;
constexpr int64_t kMinRowsPerThreadL3 = 16;
constexpr int64_t kMaxSplitWeightBytesL3 = int64_t{8} << 20;
LoopPlan plan_loop(int64_t N, int64_t I, int64_t H, int64_t G, int64_t unit_blocks, bool training) {
  const int64_t weights = G * H * (I + H);
  const int64_t weight_bytes = weights * int64_t{sizeof(float)};
  const int available = get_num_threads();
  if (2 * N * weights < 400000 || available < 2) return {1, false};
  if ((N >= available * kMinRowsPerThread && weight_bytes <= kMaxSplitWeightBytes) ||
      (training && N >= available * kMinRowsPerThreadL3 &&
       weight_bytes <= kMaxSplitWeightBytesL3)) {
    return {available, true};
  }
  return {static_cast<int>(std::min<int64_t>(available, unit_blocks)), false};
}

// Rows [n0, n1) of thread tid of `threads` when the batch is split: whole groups of kSumRows.
void rows_of_thread(int64_t N, int tid, int threads, int64_t& n0, int64_t& n1) {
  const int64_t groups = round_up(N, kSumRows) / kSumRows;
  n0 = std::min(N, groups * tid / threads * kSumRows);
  n1 = std::min(N, groups * (tid + 1) / threads * kSumRows);
}

struct ForwardStep {
  int64_t N, H, GH, I;
  bool training, relu, peephole;
  const int64_t* lengths;
  const float* x;     // [T,N,I] layer input
  float* gates;       // [T,N,G*H] reserve activations (training only)
  const float* bias;  // [G*H] b_ih + b_hh (GRU's n gate: b_ih only)
  const float *b_hh, *w_ch;
  float clip;
  float* y;
  float* c;        // [N,H] running cell state
  float* c_save;   // reserve c [T,N,H]
  float* cp_save;  // reserve c_prev [T,N,H]
  float* hn_save;  // reserve extra [T,N,H] (GRU)
  const float* Wp;
  int64_t T;
  float* x_tiles;  // [unit block][T][N][G·width] x·W_ihᵀ computed before the loop, or null
};

// The cell on a forward tile: rows [n0, n1) of unit block ub at time t (tile row 0 is row n0). The
// LSTM's tile is [R][4 gates][16 units], input and recurrent parts summed; the block's biases (and
// peephole weights) are loaded once for all rows; the cell is cells.h on whole registers
// (vec16_avx512.h), a partial block masking its last lanes. Rows of sequences that have ended
// pass their state through and write zeros (rnn_layout.h).
template <bool Training, bool Peephole>
void lstm_epilogue(const ForwardStep& a, int64_t t, int64_t n0, int64_t n1, int64_t ub,
                   const float* tile, const float* h_src, float* h_dst) {
  using V = Vec16;
  const int64_t N = a.N, H = a.H, GH = a.GH;
  const int64_t j0 = ub * kLanes;
  const __mmask16 k = first_lanes(H - j0);
  const float* bs = a.bias + j0;
  const V bi = V::load(bs, k), bf = V::load(bs + H, k), bg = V::load(bs + 2 * H, k),
          bo = V::load(bs + 3 * H, k);
  const float* wc = a.w_ch + j0;
  const V wci = Peephole ? V::load(wc, k) : V(0.0f), wcf = Peephole ? V::load(wc + H, k) : V(0.0f),
          wco = Peephole ? V::load(wc + 2 * H, k) : V(0.0f);
  const V clip(a.clip);
  for (int64_t n = n0; n < n1; ++n) {
    const int64_t row = t * N + n;
    float* cc = a.c + n * H + j0;
    float* hd = h_dst + n * H + j0;
    float* yr = a.y + row * H + j0;
    if (a.lengths != nullptr && t >= a.lengths[n]) {
      V(0.0f).store(yr, k);
      V::load(h_src + n * H + j0, k).store(hd, k);
      if (Training) {
        float* g = a.gates + row * GH + j0;
        for (int64_t gate = 0; gate < 4; ++gate) V(0.0f).store(g + gate * H, k);
        V::load(cc, k).store(a.cp_save + row * H + j0, k);
        V(0.0f).store(a.c_save + row * H + j0, k);
      }
      continue;
    }
    const float* tl = tile + (n - n0) * 4 * kLanes;
    const V c_prev = V::load(cc, k);
    V i, f, gg, og, cn, m;
    cells::lstm_forward<Peephole>(
        V::load(tl, k) + bi, V::load(tl + kLanes, k) + bf, V::load(tl + 2 * kLanes, k) + bg,
        V::load(tl + 3 * kLanes, k) + bo, c_prev, wci, wcf, wco, clip, i, f, gg, og, cn, m);
    if (Training) {
      float* g = a.gates + row * GH + j0;
      i.store(g, k);
      f.store(g + H, k);
      gg.store(g + 2 * H, k);
      og.store(g + 3 * H, k);
      c_prev.store(a.cp_save + row * H + j0, k);
      cn.store(a.c_save + row * H + j0, k);
    }
    cn.store(cc, k);
    m.store(hd, k);
    m.store(yr, k);
  }
}

// The GRU's (reset_after): tile holds the recurrent part of the gates and tile_x the input part,
// both [R][3][16] (its n gate needs W_in x and W_hn h apart).
template <bool Training>
void gru_epilogue(const ForwardStep& a, int64_t t, int64_t n0, int64_t n1, int64_t ub,
                  const float* tile, const float* tile_x, const float* h_src, float* h_dst) {
  using V = Vec16;
  const int64_t N = a.N, H = a.H, GH = a.GH;
  const int64_t j0 = ub * kLanes;
  const __mmask16 k = first_lanes(H - j0);
  const float* bs = a.bias + j0;
  const V br = V::load(bs, k), bz = V::load(bs + H, k), bn = V::load(bs + 2 * H, k),
          bhn = V::load(a.b_hh + 2 * H + j0, k);
  for (int64_t n = n0; n < n1; ++n) {
    const int64_t row = t * N + n;
    const float* hs = h_src + n * H + j0;
    float* hd = h_dst + n * H + j0;
    float* yr = a.y + row * H + j0;
    if (a.lengths != nullptr && t >= a.lengths[n]) {
      V(0.0f).store(yr, k);
      V::load(hs, k).store(hd, k);
      if (Training) {  // never read; zeroed so the reserve is fully defined
        float* g = a.gates + row * GH + j0;
        for (int64_t gate = 0; gate < 3; ++gate) V(0.0f).store(g + gate * H, k);
        V(0.0f).store(a.hn_save + row * H + j0, k);
      }
      continue;
    }
    const float* tl = tile + (n - n0) * 3 * kLanes;
    const float* tx = tile_x + (n - n0) * 3 * kLanes;
    const V hn = V::load(tl + 2 * kLanes, k) + bhn;
    V r, z, nn, h;
    cells::gru_forward(V::load(tx, k) + V::load(tl, k) + br,
                       V::load(tx + kLanes, k) + V::load(tl + kLanes, k) + bz,
                       V::load(tx + 2 * kLanes, k) + bn, hn, V::load(hs, k), r, z, nn, h);
    if (Training) {
      float* g = a.gates + row * GH + j0;
      r.store(g, k);
      z.store(g + H, k);
      nn.store(g + 2 * H, k);
      hn.store(a.hn_save + row * H + j0, k);
    }
    h.store(hd, k);
    h.store(yr, k);
  }
}

// The vanilla RNN's: a block is 32 units, the two vectors of a row computed together (their
// dependency chains overlap; pairing the gated cells' rows was measured slower in training).
template <bool Training>
void rnn_epilogue(const ForwardStep& a, int64_t t, int64_t n0, int64_t n1, int64_t ub,
                  const float* tile, const float* h_src, float* h_dst) {
  using V = Vec16;
  const int64_t N = a.N, H = a.H;
  const int64_t j0 = ub * 2 * kLanes;
  const __mmask16 k0 = first_lanes(H - j0), k1 = first_lanes(H - j0 - kLanes);
  const V b0 = V::load(a.bias + j0, k0), b1 = V::load(a.bias + j0 + kLanes, k1);
  for (int64_t n = n0; n < n1; ++n) {
    const int64_t row = t * N + n;
    float* hd = h_dst + n * H + j0;
    float* yr = a.y + row * H + j0;
    float* g = Training ? a.gates + row * H + j0 : nullptr;
    if (a.lengths != nullptr && t >= a.lengths[n]) {
      // The vanilla RNN saves the carried state here (rnn_layout.h).
      const float* hs = h_src + n * H + j0;
      const V h0 = V::load(hs, k0), h1 = V::load(hs + kLanes, k1);
      V(0.0f).store(yr, k0);
      V(0.0f).store(yr + kLanes, k1);
      h0.store(hd, k0);
      h1.store(hd + kLanes, k1);
      if (Training) {
        h0.store(g, k0);
        h1.store(g + kLanes, k1);
      }
      continue;
    }
    const float* tl = tile + (n - n0) * 2 * kLanes;
    const V h0 = cells::rnn_forward(V::load(tl, k0) + b0, a.relu);
    const V h1 = cells::rnn_forward(V::load(tl + kLanes, k1) + b1, a.relu);
    if (Training) {
      h0.store(g, k0);
      h1.store(g + kLanes, k1);
    }
    h0.store(hd, k0);
    h1.store(hd + kLanes, k1);
    h0.store(yr, k0);
    h1.store(yr + kLanes, k1);
  }
}

// Where rows n0.. of step t of unit block ub start in x_tiles ([unit block][T][N][C·16]).
template <int C>
float* x_tile(const ForwardStep& a, int64_t ub, int64_t t, int64_t n0) {
  return a.x_tiles + ((ub * a.T + t) * a.N + n0) * C * kLanes;
}

// x_tiles[ub][row] = the input part of unit block ub's tile for each of the `rows` rows of x
// ([rows, I]: every step's), one pass per block over all rows (N <= kInputFirstRows).
template <int C>
void input_tiles(float* x_tiles, const float* x, int64_t rows, int64_t I, int64_t H,
                 const float* Wp, int64_t blocks) {
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t ub = b0; ub < b1; ++ub) {
      panel_gemm<C>(x_tiles + ub * rows * C * kLanes, x, I, rows, Wp + ub * (I + H) * C * kLanes,
                    I);
    }
  });
}

// The cell on unit block ub's tile at step t for rows [n0, n1) (C vectors per row: 4 for the
// LSTM, 3 for the GRU, 2 for the vanilla RNN's 32 units); the GRU's input part is in tile_x.
template <int C>
void forward_cell(const ForwardStep& a, int64_t t, int64_t ub, int64_t n0, int64_t n1,
                  const float* tile, const float* tile_x, const float* h_src, float* h_dst) {
  if constexpr (C == 4) {
    (void)tile_x;
    if (a.training) {
      a.peephole ? lstm_epilogue<true, true>(a, t, n0, n1, ub, tile, h_src, h_dst)
                 : lstm_epilogue<true, false>(a, t, n0, n1, ub, tile, h_src, h_dst);
    } else {
      a.peephole ? lstm_epilogue<false, true>(a, t, n0, n1, ub, tile, h_src, h_dst)
                 : lstm_epilogue<false, false>(a, t, n0, n1, ub, tile, h_src, h_dst);
    }
  } else if constexpr (C == 3) {
    a.training ? gru_epilogue<true>(a, t, n0, n1, ub, tile, tile_x, h_src, h_dst)
               : gru_epilogue<false>(a, t, n0, n1, ub, tile, tile_x, h_src, h_dst);
  } else {
    (void)tile_x;
    a.training ? rnn_epilogue<true>(a, t, n0, n1, ub, tile, h_src, h_dst)
               : rnn_epilogue<false>(a, t, n0, n1, ub, tile, h_src, h_dst);
  }
}

// Step t of unit block ub for rows [n0, n1): the tile's products, then the cell on it.
template <int C>
void forward_block(const ForwardStep& a, int64_t t, int64_t ub, int64_t n0, int64_t n1,
                   const float* h_src, float* h_dst) {
  const int64_t S = a.H, I = a.I, N = a.N, R = n1 - n0;
  constexpr bool kGru = C == 3;
  const float* panel = a.Wp + ub * (I + S) * C * kLanes;
  float* tile;    // [R][G][unit block]: the recurrent part (GRU) or both parts summed
  float* tile_x;  // the input part
  if (a.x_tiles != nullptr) {
    tile_x = x_tile<C>(a, ub, t, n0);
    tile = kGru ? thread_buffer(R * C * kLanes) : tile_x;
  } else {
    tile = thread_buffer(2 * R * C * kLanes);
    tile_x = kGru ? tile + R * C * kLanes : tile;
    panel_gemm<C>(tile_x, a.x + (t * N + n0) * I, I, R, panel, I);
  }
  panel_gemm<C>(tile, h_src + n0 * S, S, R, panel + I * C * kLanes, S, !kGru);
  forward_cell<C>(a, t, ub, n0, n1, tile, tile_x, h_src, h_dst);
}

// One step of a batch of R = N <= kInputFirstRows rows on one thread, the input parts already in
// x_tiles: the recurrent products of NB unit blocks at a time in one pass over k, then their
// cells. A one-row product is a chain of dependent FMAs per accumulator; NB blocks' chains run
// side by side instead of one block after another. Each accumulator still sums over k in order
// from the block's input part, whichever group its block falls in.
template <int C, int R, int NB>
void small_batch_products(const ForwardStep& a, int64_t t, int64_t ub0, const float* h_src,
                          float* gru_tiles) {
  const int64_t S = a.H, I = a.I;
  constexpr bool kGru = C == 3;
  __m512 acc[NB][R][C];
  const float* panel[NB];
  float* out[NB];
  for (int b = 0; b < NB; ++b) {
    const int64_t ub = ub0 + b;
    panel[b] = a.Wp + ub * (I + S) * C * kLanes + I * C * kLanes;
    out[b] = kGru ? gru_tiles + ub * R * C * kLanes : x_tile<C>(a, ub, t, 0);
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) {
        acc[b][r][c] = kGru ? _mm512_setzero_ps() : _mm512_loadu_ps(out[b] + (r * C + c) * kLanes);
      }
  }
  for (int64_t k = 0; k < S; ++k) {
    __m512 hv[R];
    for (int r = 0; r < R; ++r) hv[r] = _mm512_set1_ps(h_src[r * S + k]);
    for (int b = 0; b < NB; ++b)
      for (int c = 0; c < C; ++c) {
        const __m512 w = _mm512_loadu_ps(panel[b] + (k * C + c) * kLanes);
        for (int r = 0; r < R; ++r) acc[b][r][c] = _mm512_fmadd_ps(hv[r], w, acc[b][r][c]);
      }
  }
  for (int b = 0; b < NB; ++b)
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) _mm512_storeu_ps(out[b] + (r * C + c) * kLanes, acc[b][r][c]);
}

template <int C, int R>
void small_batch_step(const ForwardStep& a, int64_t t, int64_t blocks, const float* h_src,
                      float* h_dst) {
  constexpr bool kGru = C == 3;
  // Blocks per group: as many as keep the sums within 16 registers, in groups of 4 for the GRU's
  // three vectors a row (16-unit blocks: H = 64 is 4 blocks).
  constexpr int kGroup = R * C == 3 ? 4 : std::max(1, 16 / (R * C));
  float* gru_tiles = kGru ? thread_buffer(blocks * R * C * kLanes) : nullptr;
  int64_t ub0 = 0;
  for (; ub0 + kGroup <= blocks; ub0 += kGroup) {
    small_batch_products<C, R, kGroup>(a, t, ub0, h_src, gru_tiles);
    for (int64_t ub = ub0; ub < ub0 + kGroup; ++ub) {
      const float* x_part = x_tile<C>(a, ub, t, 0);
      const float* tile = kGru ? gru_tiles + ub * R * C * kLanes : x_part;
      forward_cell<C>(a, t, ub, 0, R, tile, x_part, h_src, h_dst);
    }
  }
  // The rest block by block: the tile kernel keeps several partial sums where a tile is small.
  // (forward_block's GRU tile reuses this thread's buffer, whose groups' cells are done.)
  for (int64_t ub = ub0; ub < blocks; ++ub) forward_block<C>(a, t, ub, 0, R, h_src, h_dst);
}

struct BackwardStep {
  int64_t N, H, G, GH, I;
  bool relu;
  CellMode mode;
  const int64_t* lengths;
  const float* dy;
  const float *gates, *h_prev, *c, *c_prev, *hn;  // reserve arrays [T,N,·]
  const float* w_ch;
  float clip;
  float *dg, *dgh, *dh, *dc, *direct;
  float* group_sums;  // [ceil(N/kSumRows)][2][G*H] column sums of dg and (GRU) dgh by row group
  float* dx;          // [T,N,I]
  const float* Wb;    // W_hh packed by 32-column blocks
  const float* Wx;    // W_ih likewise
};

// The cell's backward for rows [n0, n1) and the units of 32-unit block b at time t, on whole
// registers (vec16_avx512.h; the last vector of a partial block is masked). Also adds the
// block's columns of dG (and dG_h), summed over each group of kSumRows rows, to that group's
// sums (the bias gradients, once the groups are added up): dG is still in registers here, and
// a group is summed in the same order whichever thread has it, by rows or by blocks.
void backward_cells(const BackwardStep& a, int64_t t, int64_t b, int64_t n0, int64_t n1) {
  using V = Vec16;
  const int64_t N = a.N, H = a.H, GH = a.GH, G = a.G;
  const int64_t j1 = std::min(H, (b + 1) * kBackwardBlock);
  for (int64_t j0 = b * kBackwardBlock; j0 < j1; j0 += kLanes) {
    const __mmask16 k = first_lanes(H - j0);
    V sum[4] = {V(0.0f), V(0.0f), V(0.0f), V(0.0f)}, sum_hn(0.0f);
    auto add_group_sums = [&](int64_t group) {
      float* at = a.group_sums + group * 2 * GH + j0;
      for (int64_t gate = 0; gate < G; ++gate) {
        (V::load(at + gate * H, k) + sum[gate]).store(at + gate * H, k);
      }
      if (a.mode == CellMode::kGru) {  // dG_h's r and z columns are dG's
        at += GH;
        for (int64_t gate = 0; gate < 2; ++gate) {
          (V::load(at + gate * H, k) + sum[gate]).store(at + gate * H, k);
        }
        (V::load(at + 2 * H, k) + sum_hn).store(at + 2 * H, k);
      }
      for (V& s : sum) s = V(0.0f);
      sum_hn = V(0.0f);
    };
    for (int64_t n = n0; n < n1; ++n) {
      const int64_t row = t * N + n;
      float* dg = a.dg + row * GH + j0;
      float* dgh = a.dgh + row * GH + j0;
      if (a.lengths != nullptr && t >= a.lengths[n]) {
        for (int64_t gate = 0; gate < G; ++gate) {
          V(0.0f).store(dg + gate * H, k);
          if (dgh != dg) V(0.0f).store(dgh + gate * H, k);
        }
      } else {
        const float* g = a.gates + row * GH + j0;
        const V dh = V::load(a.dh + n * H + j0, k) + V::load(a.dy + row * H + j0, k);
        if (a.mode == CellMode::kLstm) {
          float* dc = a.dc + n * H + j0;
          const float* wc = a.w_ch + j0;
          V dpi, dpf, dpg, dpo, dc_prev;
          cells::lstm_backward(dh, V::load(dc, k), V::load(g, k), V::load(g + H, k),
                               V::load(g + 2 * H, k), V::load(g + 3 * H, k),
                               V::load(a.c + row * H + j0, k), V::load(a.c_prev + row * H + j0, k),
                               V::load(wc, k), V::load(wc + H, k), V::load(wc + 2 * H, k),
                               V(a.clip), dpi, dpf, dpg, dpo, dc_prev);
          dpi.store(dg, k);
          dpf.store(dg + H, k);
          dpg.store(dg + 2 * H, k);
          dpo.store(dg + 3 * H, k);
          dc_prev.store(dc, k);
          sum[0] = sum[0] + dpi;
          sum[1] = sum[1] + dpf;
          sum[2] = sum[2] + dpg;
          sum[3] = sum[3] + dpo;
        } else if (a.mode == CellMode::kGru) {
          V dpr, dpz, dpn, dpn_h, dprev;
          cells::gru_backward(dh, V::load(g, k), V::load(g + H, k), V::load(g + 2 * H, k),
                              V::load(a.hn + row * H + j0, k), V::load(a.h_prev + row * H + j0, k),
                              dpr, dpz, dpn, dpn_h, dprev);
          dpr.store(dg, k);
          dpz.store(dg + H, k);
          dpn.store(dg + 2 * H, k);
          dpr.store(dgh, k);
          dpz.store(dgh + H, k);
          dpn_h.store(dgh + 2 * H, k);
          dprev.store(a.direct + n * H + j0, k);
          sum[0] = sum[0] + dpr;
          sum[1] = sum[1] + dpz;
          sum[2] = sum[2] + dpn;
          sum_hn = sum_hn + dpn_h;
        } else {
          const V dp = cells::rnn_backward(dh, V::load(g, k), a.relu);
          dp.store(dg, k);
          sum[0] = sum[0] + dp;
        }
      }
      if ((n + 1) % kSumRows == 0 || n + 1 == n1) add_group_sums(n / kSumRows);
    }
  }
}

// Fetches into L1 the lines backward_cells(a, t, b, n0, n1) reads and writes: dy[t], the
// reserve's rows of step t and dG[t] come from L3 or memory, and the cell stalls on each of them.
// (Rows of sequences that have ended only get zeros written to dG.)
void prefetch_cells(const BackwardStep& a, int64_t t, int64_t b, int64_t n0, int64_t n1) {
  const int64_t N = a.N, H = a.H, GH = a.GH, G = a.G;
  const int64_t j0 = b * kBackwardBlock;
  const int64_t width = std::min(H, j0 + kBackwardBlock) - j0;
  auto fetch = [&](const float* p) {  // the lines of p[0, width), p anywhere in a line
    for (int64_t l = 0; l < width; l += kLanes) prefetch_l1(p + l);
    prefetch_l1(p + width - 1);
  };
  for (int64_t n = n0; n < n1; ++n) {
    const int64_t row = t * N + n;
    for (int64_t gate = 0; gate < G; ++gate) {
      fetch(a.dg + row * GH + j0 + gate * H);
      if (a.dgh != a.dg) fetch(a.dgh + row * GH + j0 + gate * H);
    }
    if (a.lengths != nullptr && t >= a.lengths[n]) continue;
    fetch(a.dy + row * H + j0);
    for (int64_t gate = 0; gate < G; ++gate) fetch(a.gates + row * GH + j0 + gate * H);
    if (a.mode == CellMode::kLstm) {
      fetch(a.c + row * H + j0);
      fetch(a.c_prev + row * H + j0);
    } else if (a.mode == CellMode::kGru) {
      fetch(a.hn + row * H + j0);
      fetch(a.h_prev + row * H + j0);
    }
  }
}

// dh_prev for rows [n0, n1) and the columns of 32-column block cb at time t: dG_h[t] · W_hh.
// Before each row tile it prefetches those rows' data of backward_cells at step next_t (none when
// next_t < 0), which runs next on the same block: its loads of dy and the reserve then find them
// in cache (the cell's share of the vanilla RNN's training time 4.9 -> 2.2 %).
void backward_recurrent(const BackwardStep& a, int64_t t, int64_t cb, int64_t n0, int64_t n1,
                        int64_t next_t) {
  const int64_t N = a.N, H = a.H, GH = a.GH;
  const bool gru = a.mode == CellMode::kGru;
  float* tile = thread_buffer((n1 - n0) * kBackwardBlock);  // [rows][32]
  const int64_t j0 = cb * kBackwardBlock;
  const int64_t w = std::min<int64_t>(kBackwardBlock, H - j0);
  panel_gemm<2>(tile, a.dgh + (t * N + n0) * GH, GH, n1 - n0, a.Wb + cb * GH * kBackwardBlock, GH,
                false, [&](int64_t r0, int64_t r1) {
                  if (next_t >= 0) prefetch_cells(a, next_t, cb, n0 + r0, n0 + r1);
                });
  for (int64_t n = n0; n < n1; ++n) {
    if (a.lengths != nullptr && t >= a.lengths[n]) continue;
    float* dh = a.dh + n * H + j0;
    const float* tl = tile + (n - n0) * kBackwardBlock;
    if (gru) {
      const float* direct = a.direct + n * H + j0;
      for (int64_t l = 0; l < w; ++l) dh[l] = tl[l] + direct[l];
    } else {
      for (int64_t l = 0; l < w; ++l) dh[l] = tl[l];
    }
  }
}

// dx[t] for rows [n0, n1) and the columns of 32-column block cb: dG[t] · W_ih (padded rows of dG
// are zero, so theirs are too).
void backward_input(const BackwardStep& a, int64_t t, int64_t cb, int64_t n0, int64_t n1) {
  const int64_t N = a.N, I = a.I, GH = a.GH;
  float* tile = thread_buffer((n1 - n0) * kBackwardBlock);  // [rows][32]
  const int64_t j0 = cb * kBackwardBlock;
  const int64_t w = std::min<int64_t>(kBackwardBlock, I - j0);
  panel_gemm<2>(tile, a.dg + (t * N + n0) * GH, GH, n1 - n0, a.Wx + cb * GH * kBackwardBlock, GH);
  for (int64_t n = n0; n < n1; ++n) {
    std::memcpy(a.dx + (t * N + n) * I + j0, tile + (n - n0) * kBackwardBlock, sizeof(float) * w);
  }
}

}  // namespace

const char* fused_loop_split(const RnnDesc& d, int64_t batch, bool training) {
  const int64_t G = d.gates(), H = d.hidden_size;
  const LoopPlan plan =
      plan_loop(batch, d.input_size, H, G, round_up(H, unit_block(G)) / unit_block(G), training);
  return plan.threads == 1 ? "one thread" : plan.by_rows ? "rows" : "units";
}

bool fused_loop_applies(const RnnDesc& d) {
  if (detected_isa() != Isa::kAvx512) return false;
  if (d.proj_size > 0) return false;
  if (d.mode == CellMode::kGru && !d.reset_after) return false;
  return true;
}

void fused_forward_loop(float* y, float* h, float* c, float* reserve, float* workspace,
                        const RnnDesc& d, int64_t steps, int64_t batch, const float* x,
                        const int64_t* lengths, const float* w_ih, const float* w_hh,
                        const float* b_ih, const float* b_hh, const float* w_ch, float clip,
                        bool reverse) {
  const int64_t N = batch, H = d.hidden_size, G = d.gates(), GH = G * H, I = d.input_size;
  const bool training = reserve != nullptr;
  const ReserveLayout rl(d, steps, N);
  const ForwardLayout fl(d, steps, N, training);
  float* Wp = workspace + fl.packed;
  pack_forward(Wp, w_ih, w_hh, G, H, I, H, unit_block(G));
  float* bias = workspace + fl.bias;
  const int64_t hh_bias_end = d.mode == CellMode::kGru ? 2 * H : GH;  // b_hn stays inside r·(…)
  for (int64_t j = 0; j < GH; ++j) bias[j] = b_ih[j] + (j < hh_bias_end ? b_hh[j] : 0.0f);

  const int64_t blocks = round_up(H, unit_block(G)) / unit_block(G);
  float* x_tiles = N <= kInputFirstRows ? workspace + fl.x_tiles : nullptr;
  if (x_tiles != nullptr) {
    if (G == 4) {
      input_tiles<4>(x_tiles, x, steps * N, I, H, Wp, blocks);
    } else if (G == 3) {
      input_tiles<3>(x_tiles, x, steps * N, I, H, Wp, blocks);
    } else {
      input_tiles<2>(x_tiles, x, steps * N, I, H, Wp, blocks);
    }
  }
  ForwardStep a{N,
                H,
                GH,
                I,
                training,
                d.mode == CellMode::kRnnRelu,
                d.peephole,
                lengths,
                x,
                training ? reserve + rl.gates : nullptr,
                bias,
                b_hh,
                w_ch,
                clip,
                y,
                c,
                training ? reserve + rl.c : nullptr,
                training ? reserve + rl.c_prev : nullptr,
                training ? reserve + rl.extra : nullptr,
                Wp,
                steps,
                x_tiles};
  // State buffers: in training with an h_prev array each step reads the reserve's h_prev[t] and
  // writes h_prev[next t]; otherwise two buffers alternate (the vanilla RNN saves only h0).
  // `h` receives the final state.
  float* ping = h;
  float* pong = workspace + fl.h2;
  auto step_t = [&](int64_t s) { return reverse ? steps - 1 - s : s; };
  const bool state_in_reserve = training && ReserveLayout::keeps_h_prev(d);
  if (state_in_reserve) {
    std::memcpy(reserve + rl.h_prev + step_t(0) * N * H, h, sizeof(float) * N * H);
  } else if (training) {
    std::memcpy(reserve + rl.h0, h, sizeof(float) * N * H);
  }

  const LoopPlan plan = plan_loop(N, I, H, G, blocks, training);
  const int threads = plan.threads;
  SpinBarrier barrier(threads);
  BlockClaims claims(blocks);
  float* final_state = nullptr;
  auto small_step = [&](int64_t t, const float* src, float* dst) {  // N <= kInputFirstRows
    if (G == 4) {
      N == 1 ? small_batch_step<4, 1>(a, t, blocks, src, dst)
             : small_batch_step<4, 2>(a, t, blocks, src, dst);
    } else if (G == 3) {
      N == 1 ? small_batch_step<3, 1>(a, t, blocks, src, dst)
             : small_batch_step<3, 2>(a, t, blocks, src, dst);
    } else {
      N == 1 ? small_batch_step<2, 1>(a, t, blocks, src, dst)
             : small_batch_step<2, 2>(a, t, blocks, src, dst);
    }
  };
  parallel_region(threads, [&](int tid, int nthreads) {
    const bool own_rows = plan.by_rows && nthreads > 1;
    int64_t n0 = 0, n1 = N;
    if (own_rows) rows_of_thread(N, tid, nthreads, n0, n1);
    for (int64_t s = 0; s < steps; ++s) {
      const int64_t t = step_t(s);
      const float* src;
      float* dst;
      if (state_in_reserve) {
        src = reserve + rl.h_prev + t * N * H;
        dst = s + 1 < steps ? reserve + rl.h_prev + step_t(s + 1) * N * H : pong;
      } else {
        src = s % 2 == 0 ? ping : pong;
        dst = s % 2 == 0 ? pong : ping;
      }
      auto block = [&](int64_t ub) {
        if (G == 4) {
          forward_block<4>(a, t, ub, n0, n1, src, dst);
        } else if (G == 3) {
          forward_block<3>(a, t, ub, n0, n1, src, dst);
        } else {
          forward_block<2>(a, t, ub, n0, n1, src, dst);  // one gate × 32 units
        }
      };
      if (x_tiles != nullptr && nthreads == 1) {
        small_step(t, src, dst);
      } else if (own_rows) {
        for (int64_t ub = 0; ub < blocks; ++ub) block(ub);
      } else {
        claims.run(tid, nthreads, s, block);
      }
      if (tid == 0 && s + 1 == steps) final_state = dst;
      if (nthreads > 1 && !own_rows) barrier.wait();
    }
  });
  if (final_state != h) std::memcpy(h, final_state, sizeof(float) * N * H);
}

void fused_backward_loop(float* dx, float* dg, float* dgh, float* dg_sums, float* dh, float* dc,
                         float* workspace, const RnnDesc& d, int64_t steps, int64_t batch,
                         const float* dy, const int64_t* lengths, const float* w_ih,
                         const float* w_hh, const float* w_ch, float clip, const float* reserve,
                         bool reverse) {
  const int64_t N = batch, H = d.hidden_size, G = d.gates(), GH = G * H, I = d.input_size;
  const ReserveLayout rl(d, steps, N);
  const BackwardLayout bl(d, steps, N);
  float* group_sums = workspace + bl.group_sums;
  std::fill(group_sums, group_sums + round_up(N, kSumRows) / kSumRows * 2 * GH, 0.0f);
  float* Wb = workspace + bl.packed;
  float* Wx = workspace + bl.packed_x;
  pack_backward(Wb, w_hh, GH, H);
  if (dx != nullptr) pack_backward(Wx, w_ih, GH, I);
  BackwardStep a{N,
                 H,
                 G,
                 GH,
                 I,
                 d.mode == CellMode::kRnnRelu,
                 d.mode,
                 lengths,
                 dy,
                 reserve + rl.gates,
                 reserve + rl.h_prev,
                 reserve + rl.c,
                 reserve + rl.c_prev,
                 reserve + rl.extra,
                 w_ch,
                 clip,
                 dg,
                 dgh,
                 dh,
                 dc,
                 workspace + bl.direct,
                 group_sums,
                 dx,
                 Wb,
                 Wx};
  const int64_t blocks = round_up(H, kBackwardBlock) / kBackwardBlock;
  const int64_t input_blocks = round_up(I, kBackwardBlock) / kBackwardBlock;
  const LoopPlan plan = plan_loop(N, I, H, G, blocks, true);
  const int threads = plan.threads;
  SpinBarrier barrier(threads);
  BlockClaims unit_claims(blocks), input_claims(input_blocks);
  auto step_t = [&](int64_t s) { return reverse ? steps - 1 - s : s; };
  const bool input_after = N <= kInputFirstRows;
  parallel_region(threads, [&](int tid, int nthreads) {
    const bool own_rows = plan.by_rows && nthreads > 1;
    int64_t n0 = 0, n1 = N;
    if (own_rows) rows_of_thread(N, tid, nthreads, n0, n1);
    auto each_block = [&](BlockClaims& claims, int64_t count, int64_t phase, auto&& fn) {
      if (own_rows) {
        for (int64_t b = 0; b < count; ++b) fn(b);
      } else {
        claims.run(tid, nthreads, phase, fn);
      }
    };
    // Phase p = 0 differentiates the cells of the last step; phase p then computes, per 32-unit
    // block, dh_prev of step steps - p for those units and right away the cells of the step
    // before it for the same units (which need no other block's dh_prev), and dx of step
    // steps - p by 32-column blocks (for N <= kInputFirstRows, dx of all steps after the loop).
    // One barrier per step (none when each thread has its rows).
    each_block(unit_claims, blocks, 0,
               [&](int64_t b) { backward_cells(a, step_t(steps - 1), b, n0, n1); });
    for (int64_t s = steps - 1; s >= 0; --s) {
      const int64_t t = step_t(s), phase = steps - s;
      if (nthreads > 1 && !own_rows) barrier.wait();
      each_block(unit_claims, blocks, phase, [&](int64_t b) {
        backward_recurrent(a, t, b, n0, n1, s > 0 ? step_t(s - 1) : -1);
        if (s > 0) backward_cells(a, step_t(s - 1), b, n0, n1);
      });
      if (!input_after && dx != nullptr) {
        each_block(input_claims, input_blocks, phase,
                   [&](int64_t b) { backward_input(a, t, b, n0, n1); });
      }
    }
  });
  if (input_after &&
      dx !=
          nullptr) {  // dx of every step after the loop, over all T·N rows of dG (see the forward)
    constexpr int64_t kRowsPerPass = 1024;  // bounds each thread's tile buffer
    parallel_for(input_blocks, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        for (int64_t r0 = 0; r0 < steps * N; r0 += kRowsPerPass) {
          backward_input(a, 0, b, r0, std::min(steps * N, r0 + kRowsPerPass));
        }
      }
    });
  }
  // The bias gradients: the groups' sums, added in order.
  const int64_t groups = round_up(N, kSumRows) / kSumRows;
  std::fill(dg_sums, dg_sums + 2 * GH, 0.0f);
  for (int64_t g = 0; g < groups; ++g) {
    const float* from = a.group_sums + g * 2 * GH;
    for (int64_t j = 0; j < 2 * GH; ++j) dg_sums[j] += from[j];
  }
}

}  // namespace cpu
}  // namespace fastrnn
