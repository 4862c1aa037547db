// simd_avx512.h — the AVX-512 registers as the fused loops (rnn_fused.inc) and the tile GEMM
// (tile_gemm.h) use them: 16 floats a register, 32 registers, lane masks in mask registers, the
// cell math on Vec16 (vec16_avx512.h). Only for translation units compiled with AVX-512F/DQ.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "cpu/vec16_avx512.h"

namespace fastrnn {
namespace cpu {

struct Simd512 {
  using Reg = __m512;
  using Vec = Vec16;
  // The forward cells run on one row at a time (pairing rows, without interleaving their
  // instructions, was measured slower here in training; simd_avx2.h's interleaved pairs have not
  // been tried on an AVX-512 CPU).
  using CellRows = Vec16;
  using Lanes = __mmask16;  // which lanes a masked load reads and a masked store writes
  static constexpr int kLanes = 16;
  static constexpr int kRegisters = 32;
  static constexpr int kAccumulators = 24;  // a register tile's sums at most
  static constexpr int kOneSumFrom = 8;     // tiles with fewer sums keep partial sums (tile_gemm)
  // B as GCC allocates it: the AVX-512 tiles were measured so (simd_avx2.h's case for holding it
  // has not been measured on an AVX-512 CPU).
  static constexpr bool kHoldBInRegisters = false;
  // The fused loops share a step among threads from this many flops a step (plan_loop): the
  // figure of the first fused loop (2026-11-22, on an AVX-512 machine); simd_avx2.h's lower one
  // was measured on an AVX2 CPU and has not been tried on an AVX-512 one.
  static constexpr int64_t kMinSplitStepFlops = 400000;
  // A single inference step of this many rows or more takes the fused loop (rnn_cpu.cpp): on an
  // AVX-512 EPYC the fused loop was 1.25-1.7x faster than the BLAS products at 32-64 rows on one
  // thread, 1.3-2.9x on two, and 0.7-1.9x at 16 (bench/BENCHMARKS.md, "A single inference
  // step"); up to 32 rows the step kernel (rnn_fused.h's kStepKernelRows) is faster than either.
  // simd_avx2.h's figure differs.
  static constexpr int64_t kFusedStepRows = 33;

  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Reg r) { _mm512_storeu_ps(p, r); }
  static Reg set1(float s) { return _mm512_set1_ps(s); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  // a·b + c in `lanes`, c in the others (not c + 0, which would turn a -0 into +0).
  static Reg fma(Reg a, Reg b, Reg c, Lanes lanes) { return _mm512_mask3_fmadd_ps(a, b, c, lanes); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }

  // The first `count` lanes (count >= 16: all of them; count <= 0: none).
  static Lanes first_lanes(int64_t count) { return cpu::first_lanes(count); }
  // Lanes outside `lanes` read as 0.
  static Reg load(const float* p, Lanes lanes) { return _mm512_maskz_loadu_ps(lanes, p); }

  // Stores the lanes in `lanes` only.
  static void store(float* p, Reg r, Lanes lanes) { _mm512_mask_storeu_ps(p, lanes, r); }

  // Lanes [0, na) from a, [na, na + nb) from b, the rest 0 (na, nb >= 0, na + nb <= 16).
  static Reg load_two(const float* a, int64_t na, const float* b, int64_t nb) {
    const Reg v = _mm512_maskz_loadu_ps(first_lanes(na), a);
    if (nb <= 0) return v;
    return _mm512_mask_expandloadu_ps(v, first_lanes(na + nb) & ~first_lanes(na), b);
  }

  // Lanes [from, to) (0 <= from; to >= 16: to the last).
  static Lanes lanes_between(int64_t from, int64_t to) {
    return first_lanes(to) & ~first_lanes(from);
  }

  // r with the lanes outside `lanes` set to 0.
  static Reg keep(Reg r, Lanes lanes) { return _mm512_maskz_mov_ps(lanes, r); }

  // Lane l of the result is lane (l + shift) mod 16 of r (0 <= shift < 16).
  static Reg rotate_lanes(Reg r, int shift) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i from =
        _mm512_and_si512(_mm512_add_epi32(lane, _mm512_set1_epi32(shift)), _mm512_set1_epi32(15));
    return _mm512_permutexvar_ps(from, r);
  }

  // The 16 lane sums of acc[0..15], in order: lane l of the result is the sum of acc[l]'s lanes.
  static Reg sum_lanes(const Reg acc[16]) {
    Reg pairs[8];  // each 128-bit lane: partial sums of acc[2i], acc[2i+1], acc[2i], acc[2i+1]
    for (int i = 0; i < 8; ++i) {
      pairs[i] = _mm512_add_ps(_mm512_unpacklo_ps(acc[2 * i], acc[2 * i + 1]),
                               _mm512_unpackhi_ps(acc[2 * i], acc[2 * i + 1]));
    }
    Reg quads[4];  // each 128-bit lane: partial sums of acc[4i .. 4i+3]
    for (int i = 0; i < 4; ++i) {
      const __m512d a = _mm512_castps_pd(pairs[2 * i]), b = _mm512_castps_pd(pairs[2 * i + 1]);
      quads[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                               _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
    }
    // Add the four 128-bit lanes of each quad: lanes (0, 2) + (1, 3), twice.
    const Reg halves0 = _mm512_add_ps(_mm512_shuffle_f32x4(quads[0], quads[1], 0x88),
                                      _mm512_shuffle_f32x4(quads[0], quads[1], 0xDD));
    const Reg halves1 = _mm512_add_ps(_mm512_shuffle_f32x4(quads[2], quads[3], 0x88),
                                      _mm512_shuffle_f32x4(quads[2], quads[3], 0xDD));
    return _mm512_add_ps(_mm512_shuffle_f32x4(halves0, halves1, 0x88),
                         _mm512_shuffle_f32x4(halves0, halves1, 0xDD));
  }

  // Transposes 16 rows of 16 floats in registers: afterwards r[c] holds what was column c.
  static void transpose(Reg r[16]) {
    Reg t[16];
    for (int i = 0; i < 8; ++i) {  // pairs of rows interleaved: a0 b0 a1 b1 | a4 b4 a5 b5 | ...
      t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    auto lo = [](Reg a, Reg b) {
      return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
    };
    auto hi = [](Reg a, Reg b) {
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
};

}  // namespace cpu
}  // namespace fastrnn
