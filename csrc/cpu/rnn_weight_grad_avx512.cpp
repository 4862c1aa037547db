// rnn_weight_grad_avx512.cpp — the weight-gradient GEMM of the layer backward on AVX-512 (see
// rnn_fused.h): C[M, Nc] += Aᵀ·B with A: [K, M] and B: [K, Nc] row-major, K = T·N large and M, Nc
// the weight's sides. Each thread owns a range of C's rows and takes them a chunk at a time,
// keeping the chunk's partial sums (all of C's columns) in a scratch buffer while it walks K in
// blocks. For each block of K it packs the chunk's part of A (so each register tile reads its rows
// from a few adjacent cache lines) and, one 64-column block at a time, the part of B (zero-padded
// past Nc; it stays in L1 while every row tile of the chunk uses it). The sums are added to C at
// the end. While a block's tiles run, they prefetch what the next packing reads (RegionPrefetch).
// Every element is summed in the same order (k ascending, by the same blocks, in a tile of the
// same shape) whatever the thread count.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/rnn_fused.h"
#include "cpu/simd_avx512.h"
#include "cpu/threading.h"
#include "cpu/tile_gemm.h"

namespace fastrnn {
namespace cpu {
namespace {

constexpr int kVectors = 4;  // C's columns per block: 4 vectors of 16
constexpr int64_t kLanes = Simd512::kLanes;
constexpr int64_t kWidth = kVectors * kLanes;
constexpr int64_t kBlockK = 128;  // values of k per block (B's part: 32 KB)
constexpr int kRows = tile::max_rows<Simd512, kVectors>();  // rows of C per register tile
constexpr int64_t kChunkRows = 64 * kRows;  // rows of C per chunk (A's part: 192 KB)

// Packs rows [0, kc) of the `rows` columns of A starting at A into out[kc][rows].
void pack_a(float* out, const float* A, int64_t lda, int64_t kc, int64_t rows) {
  for (int64_t k = 0; k < kc; ++k) std::memcpy(out + k * rows, A + k * lda, sizeof(float) * rows);
}

// Packs rows [0, kc) of B's columns [j0, j0 + width) into out[kc][64], zero past width.
void pack_b(float* out, const float* B, int64_t ldb, int64_t kc, int64_t width) {
  for (int64_t k = 0; k < kc; ++k) {
    const float* src = B + k * ldb;
    float* dst = out + k * kWidth;
    for (int64_t v = 0; v < kWidth; v += kLanes) {
      _mm512_storeu_ps(dst + v, _mm512_maskz_loadu_ps(first_lanes(width - v), src + v));
    }
  }
}

// The cache lines of up to two strided regions of floats (rows of `width` floats, `stride`
// apart), prefetched a few at a time so that the fetches spread over the tiles computed before the
// regions are packed; each region into L1 or, when it is larger than L1, into L2.
class RegionPrefetch {
 public:
  enum class Level { kL1, kL2 };
  void add(const float* base, int64_t stride, int64_t rows, int64_t width, Level level) {
    if (rows <= 0 || width <= 0) return;
    regions_[count_++] = Region{base, stride, rows, width, level};  // callers add at most two
  }
  int64_t lines() const {
    int64_t total = 0;
    for (int i = 0; i < count_; ++i) {
      for (int64_t row = 0; row < regions_[i].rows; ++row) total += lines_of(regions_[i], row);
    }
    return total;
  }
  // Issues the next `n` prefetches (fewer once the regions are done).
  void next(int64_t n) {
    for (; n > 0 && current_ < count_; --n) {
      const Region& r = regions_[current_];
      const float* row = r.base + row_ * r.stride;
      // Line line_ of the row, addressed inside the row (its first and last lines are partial).
      const char* at = std::min(reinterpret_cast<const char*>(row) + line_ * 64,
                                reinterpret_cast<const char*>(row + r.width) - 1);
      if (r.level == Level::kL1) {
        tile::prefetch_l1(at);
      } else {
        tile::prefetch_l2(at);
      }
      if (++line_ == lines_of(r, row_)) {
        line_ = 0;
        if (++row_ == r.rows) {
          row_ = 0;
          ++current_;
        }
      }
    }
  }

 private:
  struct Region {
    const float* base;
    int64_t stride, rows, width;
    Level level;
  };
  static int64_t lines_of(const Region& r, int64_t row) {
    const uintptr_t first = reinterpret_cast<uintptr_t>(r.base + row * r.stride);
    const uintptr_t last = first + r.width * sizeof(float) - 1;
    return static_cast<int64_t>(last / 64 - first / 64 + 1);
  }
  Region regions_[2];
  int count_ = 0, current_ = 0;
  int64_t row_ = 0, line_ = 0;
};

}  // namespace

void weight_grad_gemm(float* C, int64_t ldc, const float* A, int64_t lda, const float* B,
                      int64_t ldb, int64_t M, int64_t Nc, int64_t K) {
  if (M <= 0 || Nc <= 0 || K <= 0) return;
  // Threads take whole tiles of kRows rows, counted from row 0, so every row is summed by the same
  // tile shape (and in the same order) whatever the thread count or a busy pool's fallback.
  const int64_t tiles = (M + kRows - 1) / kRows;
  const int64_t column_blocks = (Nc + kWidth - 1) / kWidth;
  const int64_t grain =
      std::max<int64_t>(1, (int64_t{1} << 22) / std::max<int64_t>(2 * kRows * Nc * K, 1));
  parallel_for(tiles, grain, [&](int64_t t0, int64_t t1) {
    const int64_t m_end = std::min(M, t1 * kRows);
    const int64_t chunk_cap = std::min(kChunkRows, m_end - t0 * kRows);
    const int64_t sums_size = chunk_cap * column_blocks * kWidth;
    const int64_t a_size = kBlockK * chunk_cap;
    float* sums = tile::thread_buffer(sums_size + a_size + kBlockK * kWidth);
    // sums: [column block][chunk row][64] partial sums of the chunk's rows
    float* a_part = sums + sums_size;  // [kc][chunk rows]
    float* b_part = a_part + a_size;   // [kc][64]
    for (int64_t m0 = t0 * kRows; m0 < m_end; m0 += kChunkRows) {
      const int64_t rows = std::min(kChunkRows, m_end - m0);
      std::fill(sums, sums + rows * column_blocks * kWidth, 0.0f);
      for (int64_t k0 = 0; k0 < K; k0 += kBlockK) {
        const int64_t kc = std::min(kBlockK, K - k0);
        pack_a(a_part, A + k0 * lda + m0, lda, kc, rows);
        for (int64_t jb = 0; jb < column_blocks; ++jb) {
          const int64_t j0 = jb * kWidth;
          pack_b(b_part, B + k0 * ldb + j0, ldb, kc, std::min(kWidth, Nc - j0));
          float* out = sums + jb * rows * kWidth;
          // While the tiles run, fetch what the next packing reads: the next column block of B,
          // or after the last one the next K block of A and B's first column block.
          RegionPrefetch ahead;
          using Level = RegionPrefetch::Level;
          if (jb + 1 < column_blocks) {
            ahead.add(B + k0 * ldb + j0 + kWidth, ldb, kc, std::min(kWidth, Nc - j0 - kWidth),
                      Level::kL1);
          } else if (k0 + kBlockK < K) {
            const int64_t kn = std::min(kBlockK, K - k0 - kBlockK);
            ahead.add(A + (k0 + kBlockK) * lda + m0, lda, kn, rows, Level::kL2);  // up to 192 KB
            ahead.add(B + (k0 + kBlockK) * ldb, ldb, kn, std::min(kWidth, Nc), Level::kL1);
          }
          const int64_t row_tiles = (rows + kRows - 1) / kRows;
          const int64_t per_tile = (ahead.lines() + row_tiles - 1) / row_tiles;
          for (int64_t r0 = 0; r0 < rows; r0 += kRows) {
            ahead.next(per_tile);
            const int R = static_cast<int>(std::min<int64_t>(kRows, rows - r0));
            tile::tile_gemm_rows<Simd512, kVectors, true>(R, out + r0 * kWidth, a_part + r0, rows,
                                                          b_part, kc, true);
          }
        }
      }
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t jb = 0; jb < column_blocks; ++jb) {
          const int64_t j0 = jb * kWidth;
          const int64_t width = std::min(kWidth, Nc - j0);
          float* c = C + (m0 + r) * ldc + j0;
          const float* s = sums + (jb * rows + r) * kWidth;
          for (int64_t v = 0; v < width; v += kLanes) {
            const __mmask16 lanes = first_lanes(width - v);
            _mm512_mask_storeu_ps(
                c + v, lanes,
                _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, c + v), _mm512_loadu_ps(s + v)));
          }
        }
      }
    }
  });
}

}  // namespace cpu
}  // namespace fastrnn
