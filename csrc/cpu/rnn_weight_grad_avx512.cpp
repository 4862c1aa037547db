// rnn_weight_grad_avx512.cpp — the weight-gradient GEMM of the layer backward on AVX-512 (see
// rnn_fused.h): C[M, Nc] += Aᵀ·B with A: [K, M] and B: [K, Nc] row-major, K = T·N large and M, Nc
// the weight's sides. Each thread owns a range of C's rows; for each 64-column block of C it
// keeps the rows' partial sums in a scratch tile while it walks K in blocks: a block of B is
// packed (zero-padded past Nc) into 16 KB that stay in L1, and the register tiles read A
// column-wise (the tile's rows are adjacent in one row of A). The tile is added to C at the end.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "cpu/rnn_fused.h"
#include "cpu/threading.h"
#include "cpu/tile_gemm_avx512.h"
#include "cpu/vec16_avx512.h"

namespace fastrnn {
namespace cpu {
namespace {

constexpr int kVectors = 4;  // C's columns per block: 4 vectors of 16
constexpr int64_t kWidth = kVectors * tile::kLanes;
constexpr int64_t kBlockK = 64;                    // rows of B per packed block (16 KB)
constexpr int kRows = tile::max_rows<kVectors>();  // rows of C per register tile

}  // namespace

void weight_grad_gemm(float* C, int64_t ldc, const float* A, int64_t lda, const float* B,
                      int64_t ldb, int64_t M, int64_t Nc, int64_t K) {
  if (M <= 0 || Nc <= 0 || K <= 0) return;
  // Threads take whole tiles of kRows rows, counted from row 0, so every row is summed by the same
  // tile shape (and in the same order) whatever the thread count or a busy pool's fallback.
  const int64_t tiles = (M + kRows - 1) / kRows;
  const int64_t grain =
      std::max<int64_t>(1, (int64_t{1} << 22) / std::max<int64_t>(2 * kRows * Nc * K, 1));
  parallel_for(tiles, grain, [&](int64_t t0, int64_t t1) {
    const int64_t m0 = t0 * kRows, m1 = std::min(M, t1 * kRows);
    const int64_t rows = m1 - m0;
    float* scratch = tile::thread_buffer(rows * kWidth + kBlockK * kWidth);
    float* sums = scratch;                    // [rows][64] partial sums of C's rows
    float* packed = scratch + rows * kWidth;  // [64 k][64 columns] block of B
    for (int64_t j0 = 0; j0 < Nc; j0 += kWidth) {
      const int64_t width = std::min(kWidth, Nc - j0);
      std::fill(sums, sums + rows * kWidth, 0.0f);
      for (int64_t k0 = 0; k0 < K; k0 += kBlockK) {
        const int64_t kc = std::min(kBlockK, K - k0);
        for (int64_t k = 0; k < kc; ++k) {
          const float* src = B + (k0 + k) * ldb + j0;
          float* dst = packed + k * kWidth;
          for (int64_t v = 0; v < kWidth; v += tile::kLanes) {
            _mm512_storeu_ps(dst + v, _mm512_maskz_loadu_ps(first_lanes(width - v), src + v));
          }
        }
        for (int64_t r0 = 0; r0 < rows; r0 += kRows) {
          const int R = static_cast<int>(std::min<int64_t>(kRows, rows - r0));
          tile::tile_gemm_rows<kVectors, true>(R, sums + r0 * kWidth, A + k0 * lda + m0 + r0, lda,
                                               packed, kc, true);
        }
      }
      for (int64_t r = 0; r < rows; ++r) {
        float* c = C + (m0 + r) * ldc + j0;
        const float* s = sums + r * kWidth;
        for (int64_t v = 0; v < width; v += tile::kLanes) {
          const __mmask16 lanes = first_lanes(width - v);
          _mm512_mask_storeu_ps(
              c + v, lanes,
              _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, c + v), _mm512_loadu_ps(s + v)));
        }
      }
    }
  });
}

}  // namespace cpu
}  // namespace fastrnn
