// simd_avx2.h — the AVX2 registers as the fused loops (rnn_fused.inc) and the tile GEMM
// (tile_gemm.h) use them: 8 floats a register, 16 registers, lane masks as vectors, the cell math
// on Vec8 (vec8_avx2.h). Only for translation units compiled with AVX2 and FMA.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "cpu/vec8_avx2.h"

namespace fastrnn {
namespace cpu {

struct Simd256 {
  using Reg = __m256;
  using Vec = Vec8;
  // The forward cells run on two rows at a time (vec8_avx2.h's Vec8Rows): in alternating runs on
  // the AVX2 EPYC, LSTM (100, 32, 128) inference took 0.91-0.95x of the one-row time (one and two
  // threads), (100, 64, 256) 0.93x, GRU 0.97-0.99x; (50, 64, 512) level.
  using CellRows = Vec8Rows<2>;
  using Lanes = Lanes8;
  static constexpr int kLanes = 8;
  static constexpr int kRegisters = 16;
  static constexpr int kAccumulators = 12;  // a register tile's sums at most
  static constexpr int kOneSumFrom = 4;     // tiles with fewer sums keep partial sums (tile_gemm)
  // Keep a tile's B vectors in registers (tile_gemm): with each vector's load folded into every
  // row's FMA, the 2-row × 4-vector tile (10 loads for 8 FMAs a value of k) ran at 55 GFLOP/s on
  // one core of an AVX2 EPYC, with them held 93, near the 3 × 4 tile's 99 (operands in L1).
  static constexpr bool kHoldBInRegisters = true;
  // The fused loops share a step among threads from this many flops (2·N·G·H·(I+H)) a step; below
  // it one thread runs the loop (rnn_fused.inc's plan_loop). On the AVX2 EPYC a step's split
  // costs about 0.3 µs: in alternating runs the split was 0.64-0.91x of one thread's time from
  // 37k flops (LSTM (200, 1, 64) inference 0.75x, training 0.76x; GRU 0.89x and 0.78x), level to
  // 1.9x slower at 16-33k (the training forward's at N = 2).
  static constexpr int64_t kMinSplitStepFlops = 40000;
  // A single inference step (T = 1) of this many rows or more takes the fused loop, which packs
  // the weights first; below, the BLAS products (rnn_cpu.cpp). On the AVX2 EPYC (alternating
  // calls, one module) the BLAS products were 1.05-1.8x faster at 32 and 64 rows on one thread
  // and two (LSTM, GRU, RNN, H = 64-512), level at 96-128 rows, 0.7-1.0x from 256.
  static constexpr int64_t kFusedStepRows = 128;

  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Reg r) { _mm256_storeu_ps(p, r); }
  static Reg set1(float s) { return _mm256_set1_ps(s); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  // a·b + c in `lanes`, c in the others (not c + 0, which would turn a -0 into +0).
  static Reg fma(Reg a, Reg b, Reg c, Lanes8 lanes) {
    const Reg sum = _mm256_fmadd_ps(a, b, c);
    return lanes.all ? sum : _mm256_blendv_ps(c, sum, _mm256_castsi256_ps(lanes.m));
  }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }

  static Lanes first_lanes(int64_t count) { return first_lanes8(count); }
  // Lanes outside `lanes` read as 0.
  static Reg load(const float* p, Lanes lanes) { return Vec8::load(p, lanes).v[0]; }

  // Stores the lanes in `lanes` only.
  static void store(float* p, Reg r, Lanes lanes) { Vec8(r).store(p, lanes); }

  // Lanes [0, na) from a, [na, na + nb) from b, the rest 0 (na, nb >= 0, na + nb <= 8).
  static Reg load_two(const float* a, int64_t na, const float* b, int64_t nb) {
    alignas(32) float lanes[8] = {};
    for (int64_t l = 0; l < na; ++l) lanes[l] = a[l];
    for (int64_t l = 0; l < nb; ++l) lanes[na + l] = b[l];
    return _mm256_load_ps(lanes);
  }

  // Lanes [from, to) (0 <= from; to >= 8: to the last).
  static Lanes lanes_between(int64_t from, int64_t to) {
    const Lanes below_to = first_lanes(to), below_from = first_lanes(from);
    return {_mm256_andnot_si256(below_from.m, below_to.m), below_to.all && from <= 0};
  }

  // r with the lanes outside `lanes` set to 0.
  static Reg keep(Reg r, Lanes lanes) { return _mm256_and_ps(r, _mm256_castsi256_ps(lanes.m)); }

  // Lane l of the result is lane (l + shift) mod 8 of r (0 <= shift < 8).
  static Reg rotate_lanes(Reg r, int shift) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i from =
        _mm256_and_si256(_mm256_add_epi32(lane, _mm256_set1_epi32(shift)), _mm256_set1_epi32(7));
    return _mm256_permutevar8x32_ps(r, from);
  }

  // The 8 lane sums of acc[0..7], in order: lane l of the result is the sum of acc[l]'s lanes.
  static Reg sum_lanes(const Reg acc[8]) {
    // Pairwise sums within each 128-bit half: h[i] = a0+a1, a2+a3, b0+b1, b2+b3 | the same of the
    // high halves, for a = acc[2i], b = acc[2i + 1]; then each half's four sums of each register.
    Reg h[4];
    for (int i = 0; i < 4; ++i) h[i] = _mm256_hadd_ps(acc[2 * i], acc[2 * i + 1]);
    const Reg q0 = _mm256_hadd_ps(h[0], h[1]), q1 = _mm256_hadd_ps(h[2], h[3]);
    // q0: the low halves' sums of acc[0..3] | their high halves'; q1 the same for acc[4..7].
    return _mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x20),
                         _mm256_permute2f128_ps(q0, q1, 0x31));
  }

  // Transposes 8 rows of 8 floats in registers: afterwards r[c] holds what was column c.
  static void transpose(Reg r[8]) {
    Reg t[8], u[8];
    for (int i = 0; i < 4; ++i) {  // pairs of rows interleaved: a0 b0 a1 b1 | a4 b4 a5 b5
      t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; ++i) {  // u[4i + j]: rows 4i..4i+3 of columns j and j + 4
      u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
      u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
      u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
      u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int j = 0; j < 4; ++j) {  // 128-bit halves gathered across the two row groups
      r[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);
      r[j + 4] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31);
    }
  }
};

}  // namespace cpu
}  // namespace fastrnn
