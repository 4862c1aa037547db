// tile_gemm.h — the register-tile GEMM kernels of the fused loops, written once for the vector
// registers of an instruction set S (simd_avx512.h: 16 floats, 32 registers; simd_avx2.h: 8
// floats, 16 registers): a tile of accumulator registers (rows × C vectors) over a B operand
// packed row after row, the panel GEMM that runs tiles over a panel's rows (with a hook before
// each tile, where callers prefetch) and software prefetch that the compiler keeps. Used by the
// fused time loops (rnn_fused.inc) and the weight-gradient GEMM (rnn_weight_grad.inc). Only for
// translation units compiled for S's instructions.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace fastrnn {
namespace cpu {
namespace tile {

// Fetch the cache line holding p (which must point into an array) into L1, or L2. Written as
// volatile asm: GCC 12 takes a function whose only effect is __builtin_prefetch (_mm_prefetch)
// for a pure one and deletes calls to it.
inline void prefetch_l1(const void* p) {
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
}
inline void prefetch_l2(const void* p) {
  asm volatile("prefetcht1 %0" : : "m"(*static_cast<const char*>(p)));
}

// out[R][C·L] = A[R, K] · B[K, C·L] (K >= 1, L = S::kLanes), B packed row after row, out's rows
// ldo floats apart (C·L: a tile of its own; more: rows of a wider array written in place); A
// row-major (A[r·lda + k]) or, with ColMajorA, column-major (A[k·lda + r]: the R values of one k
// are adjacent; the weight gradients pack A so, with lda = R, and a tile reads consecutive lines).
// When R·C is below S::kOneSumFrom the K loop keeps KU independent partial sums so the FMA latency
// is hidden. With `accumulate` the tile adds to what `out` holds; with `add_after` it sums from
// zero and stores out + sum (as adding a separate block of sums to out would).

// A tile's registers, per value of k: its R·C sums, and either B's C vectors and one broadcast
// value of A at a time, or A's R broadcast values and one vector of B at a time. The second fits
// more rows where C is large and registers few (AVX2's 16 at C = 4: 3 rows instead of 2).
template <class S, int R, int C>
constexpr bool broadcast_first() {
  return R * C + C + 1 > S::kRegisters && R * C + R + 1 <= S::kRegisters;
}

template <class S, int R, int C, bool ColMajorA = false>
inline void tile_gemm(float* out, const float* A, int64_t lda, const float* B, int64_t K,
                      bool accumulate, int64_t ldo = C * S::kLanes, bool add_after = false) {
  using Reg = typename S::Reg;
  constexpr int kLanes = S::kLanes;
  auto a_at = [&](int r, int64_t k) { return ColMajorA ? A[k * lda + r] : A[r * lda + k]; };
  constexpr int KU = R * C >= S::kOneSumFrom ? 1 : (S::kOneSumFrom + R * C - 1) / (R * C);
  Reg acc[KU][R][C];
  for (int u = 0; u < KU; ++u)
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) {
        acc[u][r][c] = u == 0 && accumulate ? S::load(out + r * ldo + c * kLanes) : S::zero();
      }
  auto step = [&](int u, int64_t k) {  // value k of A's rows into partial sums u
    const float* b = B + k * C * kLanes;
    if constexpr (broadcast_first<S, R, C>()) {
      Reg av[R];
      for (int r = 0; r < R; ++r) av[r] = S::set1(a_at(r, k));
      for (int c = 0; c < C; ++c) {
        const Reg bv = S::load(b + c * kLanes);
        for (int r = 0; r < R; ++r) acc[u][r][c] = S::fma(av[r], bv, acc[u][r][c]);
      }
    } else {
      Reg bv[C];
      for (int c = 0; c < C; ++c) {
        bv[c] = S::load(b + c * kLanes);
        // Where S says so, an empty asm that takes and gives the register keeps B's vector in it:
        // GCC 12 otherwise folds the load into every row's FMA, loading each vector R times.
        if constexpr (S::kHoldBInRegisters) asm("" : "+v"(bv[c]));
      }
      for (int r = 0; r < R; ++r) {
        const Reg a = S::set1(a_at(r, k));
        for (int c = 0; c < C; ++c) acc[u][r][c] = S::fma(a, bv[c], acc[u][r][c]);
      }
    }
  };
  if constexpr (KU == 1) {
    // One loop and no path around it (every caller has K >= 1): with a second loop or a
    // zero-trip path, GCC kept the accumulators in memory on entry and exit (48 spills a call).
    int64_t k = 0;
    do {
      step(0, k);
    } while (++k < K);
  } else {
    int64_t k = 0;
    for (; k + KU <= K; k += KU) {
      for (int u = 0; u < KU; ++u) step(u, k + u);
    }
    for (; k < K; ++k) step(0, k);
    for (int u = 1; u < KU; ++u)
      for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) acc[0][r][c] = S::add(acc[0][r][c], acc[u][r][c]);
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      float* at = out + r * ldo + c * kLanes;
      S::store(at, add_after ? S::add(S::load(at), acc[0][r][c]) : acc[0][r][c]);
    }
}

// Rows per tile: as many as keep the sums and the operands of one k within the registers (either
// way of broadcast_first), at most S::kAccumulators sums. AVX-512 (24 of 32 registers): C = 2, 3,
// 4 vectors a row take 12, 8, 6 rows; AVX2 (12 of 16): 6, 4, 3.
template <class S, int C>
constexpr int max_rows() {
  return std::min(S::kAccumulators / C,
                  std::max((S::kRegisters - C - 1) / C, (S::kRegisters - 1) / (C + 1)));
}

// tile_gemm with the row count chosen at run time (rows <= max_rows<S, C>()).
template <class S, int C, bool ColMajorA = false, int R = max_rows<S, C>()>
inline void tile_gemm_rows(int rows, float* out, const float* A, int64_t lda, const float* B,
                           int64_t K, bool accumulate, int64_t ldo = C * S::kLanes,
                           bool add_after = false) {
  if constexpr (R > 0) {
    if (rows == R) {
      tile_gemm<S, R, C, ColMajorA>(out, A, lda, B, K, accumulate, ldo, add_after);
    } else {
      tile_gemm_rows<S, C, ColMajorA, R - 1>(rows, out, A, lda, B, K, accumulate, ldo, add_after);
    }
  }
}

// out[rows][C·L] = A[rows, K] · B[K, C·L] (B packed row after row; out's rows ldo floats apart),
// each tile of rows over the whole of K, so its sums stay in registers from the first k to the
// last; B is read from L2 (the hardware prefetcher follows it) once per tile. (Blocking K so that a
// block of B stays in L1 for all the tiles, with the sums stored and reloaded between blocks, was
// 1-4 % slower on the layers' loops.) With `accumulate` the product is added to what `out` holds.
// The rows are cut into tiles of nearly equal size, so from 4 rows on (AVX-512; 2 with AVX2's
// tiles) no tile is small enough to need split partial sums: each row's result is then the same in
// whatever rows it is computed with (the time loops rely on it to give the same bits however they
// split a batch among threads). before_tile(r0, r1) runs before the tile of rows [r0, r1) (the
// backward loop prefetches there what comes after the product).
template <class S, int C, class BeforeTile>
void panel_gemm(float* out, int64_t ldo, const float* A, int64_t lda, int64_t rows, const float* B,
                int64_t K, bool accumulate, BeforeTile&& before_tile) {
  constexpr int RM = max_rows<S, C>();
  const int64_t tiles = (rows + RM - 1) / RM;
  for (int64_t i = 0; i < tiles; ++i) {
    const int64_t r0 = rows * i / tiles;
    const int R = static_cast<int>(rows * (i + 1) / tiles - r0);
    before_tile(r0, r0 + R);
    tile_gemm_rows<S, C>(R, out + r0 * ldo, A + r0 * lda, lda, B, K, accumulate, ldo);
  }
}

template <class S, int C>
void panel_gemm(float* out, const float* A, int64_t lda, int64_t rows, const float* B, int64_t K,
                bool accumulate = false) {
  panel_gemm<S, C>(out, C * S::kLanes, A, lda, rows, B, K, accumulate, [](int64_t, int64_t) {});
}

}  // namespace tile
}  // namespace cpu
}  // namespace fastrnn
