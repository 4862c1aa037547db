// tile_gemm_avx512.h — the register-tile GEMM kernels of the AVX-512 loops: a tile of up to
// 24 accumulator registers (rows × C vectors of 16 floats) over a B operand packed row after row,
// the panel GEMM that runs tiles over a panel's rows (with a hook before each tile, where callers
// prefetch), software prefetch that the compiler keeps, and a per-thread scratch buffer. Used by
// the fused time loops (rnn_fused_avx512.cpp) and the weight-gradient GEMM
// (rnn_weight_grad_avx512.cpp). Only for translation units compiled with AVX-512F.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace fastrnn {
namespace cpu {
namespace tile {

constexpr int kLanes = 16;

// Fetch the cache line holding p (which must point into an array) into L1, or L2. Written as
// volatile asm: GCC 12 takes a function whose only effect is __builtin_prefetch (_mm_prefetch)
// for a pure one and deletes calls to it.
inline void prefetch_l1(const void* p) {
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
}
inline void prefetch_l2(const void* p) {
  asm volatile("prefetcht1 %0" : : "m"(*static_cast<const char*>(p)));
}

// out[R][C·16] = A[R, K] · B[K, C·16] (K >= 1), B packed row after row; A row-major (A[r·lda + k])
// or, with ColMajorA, column-major (A[k·lda + r]: the R values of one k are adjacent). When R·C is
// small the K loop keeps KU independent partial sums so the FMA latency is hidden. With
// `accumulate` the tile adds to what `out` holds. A column-major A takes a new cache line every k,
// lda floats apart (a row of dG in the weight gradients: kilobytes), which the hardware prefetcher
// does not follow; the tile fetches the line kColMajorAhead values of k ahead itself.
constexpr int64_t kColMajorAhead = 16;
template <int R, int C, bool ColMajorA = false>
inline void tile_gemm(float* out, const float* A, int64_t lda, const float* B, int64_t K,
                      bool accumulate) {
  auto a_at = [&](int r, int64_t k) { return ColMajorA ? A[k * lda + r] : A[r * lda + k]; };
  constexpr int KU = R * C >= 8 ? 1 : (8 + R * C - 1) / (R * C);
  __m512 acc[KU][R][C];
  for (int u = 0; u < KU; ++u)
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) {
        acc[u][r][c] = u == 0 && accumulate ? _mm512_loadu_ps(out + (r * C + c) * kLanes)
                                            : _mm512_setzero_ps();
      }
  auto step = [&](int u, int64_t k) {  // value k of A's rows into partial sums u
    if constexpr (ColMajorA) {
      _mm_prefetch(reinterpret_cast<const char*>(A + (k + kColMajorAhead) * lda), _MM_HINT_T0);
    }
    const float* b = B + k * C * kLanes;
    __m512 bv[C];
    for (int c = 0; c < C; ++c) bv[c] = _mm512_loadu_ps(b + c * kLanes);
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(a_at(r, k));
      for (int c = 0; c < C; ++c) acc[u][r][c] = _mm512_fmadd_ps(a, bv[c], acc[u][r][c]);
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
        for (int c = 0; c < C; ++c) acc[0][r][c] = _mm512_add_ps(acc[0][r][c], acc[u][r][c]);
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) _mm512_storeu_ps(out + (r * C + c) * kLanes, acc[0][r][c]);
}

// Rows per tile: as many as keep the accumulators within the 32 vector registers.
template <int C>
constexpr int max_rows() {
  return 24 / C;  // C = 2, 3, 4 vectors per row: 12, 8, 6 rows
}

// tile_gemm with the row count chosen at run time (rows <= max_rows<C>()).
template <int C, bool ColMajorA = false, int R = max_rows<C>()>
inline void tile_gemm_rows(int rows, float* out, const float* A, int64_t lda, const float* B,
                           int64_t K, bool accumulate) {
  if constexpr (R > 0) {
    if (rows == R) {
      tile_gemm<R, C, ColMajorA>(out, A, lda, B, K, accumulate);
    } else {
      tile_gemm_rows<C, ColMajorA, R - 1>(rows, out, A, lda, B, K, accumulate);
    }
  }
}

// out[rows][C·16] = A[rows, K] · B[K, C·16] (B packed row after row), each tile of rows over the
// whole of K, so its sums stay in registers from the first k to the last; B is read from L2 (the
// hardware prefetcher follows it) once per tile. (Blocking K so that a block of B stays in L1 for
// all the tiles, with the sums stored and reloaded between blocks, was 1-4 % slower on the layers'
// loops.) With `accumulate` the product is added to what `out` holds. The rows are cut into tiles
// of nearly equal size, so from 4 rows on no tile is small enough to need split partial sums: each
// row's result is then the same in whatever rows it is computed with (the time loops rely on it
// to give the same bits however they split a batch among threads). before_tile(r0, r1) runs before
// the tile of rows [r0, r1) (the backward loop prefetches there what comes after the product).
template <int C, class BeforeTile>
void panel_gemm(float* out, const float* A, int64_t lda, int64_t rows, const float* B, int64_t K,
                bool accumulate, BeforeTile&& before_tile) {
  constexpr int RM = max_rows<C>();
  const int64_t tiles = (rows + RM - 1) / RM;
  for (int64_t i = 0; i < tiles; ++i) {
    const int64_t r0 = rows * i / tiles;
    const int R = static_cast<int>(rows * (i + 1) / tiles - r0);
    before_tile(r0, r0 + R);
    tile_gemm_rows<C>(R, out + r0 * C * kLanes, A + r0 * lda, lda, B, K, accumulate);
  }
}

template <int C>
void panel_gemm(float* out, const float* A, int64_t lda, int64_t rows, const float* B, int64_t K,
                bool accumulate = false) {
  panel_gemm<C>(out, A, lda, rows, B, K, accumulate, [](int64_t, int64_t) {});
}

// A per-thread buffer reused across steps and calls.
inline float* thread_buffer(int64_t floats) {
  thread_local std::vector<float> buffer;
  if (static_cast<int64_t>(buffer.size()) < floats + kLanes) buffer.resize(floats + kLanes);
  const uintptr_t at = reinterpret_cast<uintptr_t>(buffer.data());
  return buffer.data() + ((64 - at % 64) % 64) / sizeof(float);  // 64-byte aligned
}

}  // namespace tile
}  // namespace cpu
}  // namespace fastrnn
