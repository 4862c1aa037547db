// rnn_step_avx512.cpp — one float32 inference step of a cell at a few rows (N <= 4) on AVX-512 (see
// rnn_fused.h): no packing, no BLAS call, no intermediate gate arrays. Each thread owns blocks of
// 16 hidden units; for each block it forms the 16 units' gate pre-activations as dot products of
// the weight rows with x and h (16 row-vector accumulators reduced by one transpose-add tree) and
// applies the cell from cells.h to them on whole registers (vec16_avx512.h).
#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "cpu/cpu_features.h"
#include "cpu/rnn_fused.h"
#include "cpu/threading.h"
#include "cpu/vec16_avx512.h"
#include "fastrnn/cells.h"

namespace fastrnn {
namespace cpu {
namespace {

constexpr int64_t kLanes = 16;

// The 16 lane sums of acc[0..15], in order: lane l of the result is the sum of acc[l]'s lanes.
inline __m512 sum_lanes_of_16(__m512 acc[16]) {
  __m512 pairs[8];  // each 128-bit lane: partial sums of acc[2i], acc[2i+1], acc[2i], acc[2i+1]
  for (int i = 0; i < 8; ++i) {
    pairs[i] = _mm512_add_ps(_mm512_unpacklo_ps(acc[2 * i], acc[2 * i + 1]),
                             _mm512_unpackhi_ps(acc[2 * i], acc[2 * i + 1]));
  }
  __m512 quads[4];  // each 128-bit lane: partial sums of acc[4i .. 4i+3]
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(pairs[2 * i]), b = _mm512_castps_pd(pairs[2 * i + 1]);
    quads[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  // Add the four 128-bit lanes of each quad: lanes (0, 2) + (1, 3), twice.
  const __m512 halves0 = _mm512_add_ps(_mm512_shuffle_f32x4(quads[0], quads[1], 0x88),
                                       _mm512_shuffle_f32x4(quads[0], quads[1], 0xDD));
  const __m512 halves1 = _mm512_add_ps(_mm512_shuffle_f32x4(quads[2], quads[3], 0x88),
                                       _mm512_shuffle_f32x4(quads[2], quads[3], 0xDD));
  return _mm512_add_ps(_mm512_shuffle_f32x4(halves0, halves1, 0x88),
                       _mm512_shuffle_f32x4(halves0, halves1, 0xDD));
}

// out[l] = W[row l, :] · v for the `rows` (<= 16) rows of W starting at w (row stride K); lanes
// past `rows` are 0. v: [K].
inline Vec16 dot_rows(const float* w, int64_t rows, const float* v, int64_t K) {
  __m512 acc[16];
  for (int l = 0; l < 16; ++l) acc[l] = _mm512_setzero_ps();
  const float* row[16];
  for (int l = 0; l < 16; ++l) row[l] = w + std::min<int64_t>(l, rows - 1) * K;  // stay inside W
  for (int64_t k = 0; k < K; k += kLanes) {
    const __mmask16 m = first_lanes(K - k);
    const __m512 vk = _mm512_maskz_loadu_ps(m, v + k);
    for (int l = 0; l < 16; ++l) {
      acc[l] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, row[l] + k), vk, acc[l]);
    }
  }
  return Vec16(_mm512_maskz_mov_ps(first_lanes(rows), sum_lanes_of_16(acc)));
}

}  // namespace

bool fused_step_applies(const RnnDesc& d, int64_t N) {
  return detected_isa() == Isa::kAvx512 && N <= 4 && d.proj_size == 0 &&
         !(d.mode == CellMode::kGru && !d.reset_after);
}

void fused_step(float* h_new, float* c_new, const RnnDesc& d, int64_t N, const float* x,
                const float* h, const float* c, const RnnWeights<float>& w) {
  using V = Vec16;
  const int64_t H = d.hidden_size, I = d.input_size, G = d.gates();
  const float clip = d.cell_clip > 0 ? d.cell_clip : std::numeric_limits<float>::infinity();
  const int64_t blocks = (H + kLanes - 1) / kLanes;
  const int64_t flops = 2 * N * G * H * (I + H);
  const int threads =
      flops < 200000 ? 1 : static_cast<int>(std::min<int64_t>(get_num_threads(), blocks));
  parallel_region(threads, [&](int tid, int nthreads) {
    for (int64_t b = blocks * tid / nthreads; b < blocks * (tid + 1) / nthreads; ++b) {
      const int64_t j0 = b * kLanes, width = std::min(kLanes, H - j0);
      const __mmask16 k = first_lanes(width);
      auto bias = [&](const float* v, int64_t gate) {
        return v ? V::load(v + gate * H + j0, k) : V(0.0f);
      };
      for (int64_t n = 0; n < N; ++n) {
        // Gate `gate`'s input and recurrent parts for this row and block.
        auto from_x = [&](int64_t gate) {
          return dot_rows(w.w_ih + (gate * H + j0) * I, width, x + n * I, I) + bias(w.b_ih, gate);
        };
        auto from_h = [&](int64_t gate) {
          const V b = bias(w.b_hh, gate);
          return h ? dot_rows(w.w_hh + (gate * H + j0) * H, width, h + n * H, H) + b : b;
        };
        const V h_prev = h ? V::load(h + n * H + j0, k) : V(0.0f);
        V h_next;
        if (d.mode == CellMode::kLstm) {
          const V c_prev = c ? V::load(c + n * H + j0, k) : V(0.0f);
          const V wci = bias(w.w_ch, 0), wcf = bias(w.w_ch, 1), wco = bias(w.w_ch, 2);
          V i, f, g, o, c_next;
          const V pi = from_x(0) + from_h(0), pf = from_x(1) + from_h(1);
          const V pg = from_x(2) + from_h(2), po = from_x(3) + from_h(3);
          if (d.peephole) {
            cells::lstm_forward<true>(pi, pf, pg, po, c_prev, wci, wcf, wco, V(clip), i, f, g, o,
                                      c_next, h_next);
          } else {
            cells::lstm_forward<false>(pi, pf, pg, po, c_prev, wci, wcf, wco, V(clip), i, f, g, o,
                                       c_next, h_next);
          }
          c_next.store(c_new + n * H + j0, k);
        } else if (d.mode == CellMode::kGru) {
          V r, z, nn;
          cells::gru_forward(from_x(0) + from_h(0), from_x(1) + from_h(1), from_x(2), from_h(2),
                             h_prev, r, z, nn, h_next);
        } else {
          h_next = cells::rnn_forward(from_x(0) + from_h(0), d.mode == CellMode::kRnnRelu);
        }
        h_next.store(h_new + n * H + j0, k);
      }
    }
  });
}

}  // namespace cpu
}  // namespace fastrnn
