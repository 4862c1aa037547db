// vec8_avx2.h — eight float lanes in an AVX2 register, with the arithmetic, comparisons and
// activations the cell math of cells.h needs, so the fused loop compiled for AVX2
// (rnn_fused_avx2.cpp) runs cells::lstm_forward / gru_forward / rnn_forward on whole registers.
// Vec8Rows<K> holds K registers, the same units of K batch rows, and issues every operation, and
// every step of an activation, for all K before the next: an activation is one long chain of
// dependent instructions, so K rows' chains then overlap (Vec8 = Vec8Rows<1>; the fused loop's
// epilogues take rows two at a time). The activations are activations.h's float ones step for step
// (the Cody–Waite exp with 2^n from the exponent bits and its polynomial by Estrin's scheme, one
// division), so they have its accuracy and its bits (compared on all 2^32 inputs against the
// scalar functions compiled with FMA: equal but for the sign bit of a NaN result, which GCC's
// folding of the scalar -x into an FMA leaves as it was), and each lane's result is the same
// whatever K. The functions are always inlined: left to itself GCC called the two-row activations
// out of line, through the PLT, their registers passed through memory. Only for translation units
// compiled with AVX2 and FMA.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "fastrnn/activations.h"

namespace fastrnn {
namespace cpu {

// Which lanes a masked load reads and a masked store writes: lane l when l < count. `all` says
// every lane, where plain loads and stores are used (AVX2's masked ones are slower on some CPUs).
struct Lanes8 {
  __m256i m;
  bool all;
};

// The first `count` lanes (count >= 8: all of them; count <= 0: none).
inline Lanes8 first_lanes8(int64_t count) {
  const int c = count <= 0 ? 0 : count >= 8 ? 8 : static_cast<int>(count);
  return {_mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
          c == 8};
}

template <int K>
struct Mask8Rows {  // a comparison's result: all bits set in the lanes where it holds
  __m256 m[K];
};

template <int K>
struct Vec8Rows {
  static constexpr int kRows = K;
  __m256 v[K];

  Vec8Rows() = default;
  Vec8Rows(float s) {  // NOLINT: implicit, as T(1) and constants in cells.h
    for (int q = 0; q < K; ++q) v[q] = _mm256_set1_ps(s);
  }

  explicit Vec8Rows(__m256 x) {  // x in every row
    for (int q = 0; q < K; ++q) v[q] = x;
  }

  // Each row's register x (a bias or weight vector all the rows share).
  static Vec8Rows repeat(Vec8Rows<1> x) { return Vec8Rows(x.v[0]); }

  // Row q from p + q·stride. Lanes outside `lanes` read as 0 and are not written.
  static Vec8Rows load(const float* p, int64_t stride, Lanes8 lanes) {
    Vec8Rows r;
    for (int q = 0; q < K; ++q) {
      r.v[q] =
          lanes.all ? _mm256_loadu_ps(p + q * stride) : _mm256_maskload_ps(p + q * stride, lanes.m);
    }
    return r;
  }
  void store(float* p, int64_t stride, Lanes8 lanes) const {
    for (int q = 0; q < K; ++q) {
      if (lanes.all) {
        _mm256_storeu_ps(p + q * stride, v[q]);
      } else {
        _mm256_maskstore_ps(p + q * stride, lanes.m, v[q]);
      }
    }
  }
  // One row's.
  static Vec8Rows load(const float* p, Lanes8 lanes) { return load(p, 0, lanes); }
  void store(float* p, Lanes8 lanes) const { store(p, 0, lanes); }
};

using Vec8 = Vec8Rows<1>;

template <int K>
[[gnu::always_inline]] inline Vec8Rows<K> operator+(Vec8Rows<K> a, Vec8Rows<K> b) {
  for (int q = 0; q < K; ++q) a.v[q] = _mm256_add_ps(a.v[q], b.v[q]);
  return a;
}
template <int K>
[[gnu::always_inline]] inline Vec8Rows<K> operator-(Vec8Rows<K> a, Vec8Rows<K> b) {
  for (int q = 0; q < K; ++q) a.v[q] = _mm256_sub_ps(a.v[q], b.v[q]);
  return a;
}
template <int K>
[[gnu::always_inline]] inline Vec8Rows<K> operator*(Vec8Rows<K> a, Vec8Rows<K> b) {
  for (int q = 0; q < K; ++q) a.v[q] = _mm256_mul_ps(a.v[q], b.v[q]);
  return a;
}
template <int K>
[[gnu::always_inline]] inline Vec8Rows<K> operator-(Vec8Rows<K> a) {
  for (int q = 0; q < K; ++q) a.v[q] = _mm256_xor_ps(a.v[q], _mm256_set1_ps(-0.0f));
  return a;
}
// Ordered comparisons: false for NaN lanes, as the scalar comparisons.
template <int K>
[[gnu::always_inline]] inline Mask8Rows<K> operator<(Vec8Rows<K> a, Vec8Rows<K> b) {
  Mask8Rows<K> c;
  for (int q = 0; q < K; ++q) c.m[q] = _mm256_cmp_ps(a.v[q], b.v[q], _CMP_LT_OQ);
  return c;
}
template <int K>
[[gnu::always_inline]] inline Mask8Rows<K> operator>(Vec8Rows<K> a, Vec8Rows<K> b) {
  Mask8Rows<K> c;
  for (int q = 0; q < K; ++q) c.m[q] = _mm256_cmp_ps(a.v[q], b.v[q], _CMP_GT_OQ);
  return c;
}
template <int K>
[[gnu::always_inline]] inline Vec8Rows<K> where(Mask8Rows<K> c, Vec8Rows<K> a, Vec8Rows<K> b) {
  for (int q = 0; q < K; ++q) a.v[q] = _mm256_blendv_ps(b.v[q], a.v[q], c.m[q]);
  return a;
}

namespace vec8_detail {

// exp_in_range: x in [kExpMin, kExpMax] (or NaN), n = round(x log2 e) by the shifter, e^r by its
// Taylor series to r^7 by Estrin's scheme, 2^n from n's bits.
template <int K>
[[gnu::always_inline]] inline Vec8Rows<K> exp_in_range(Vec8Rows<K> x) {
  using namespace float_act;
  const __m256 shifter = _mm256_set1_ps(12582912.0f);
  Vec8Rows<K> t, r, p;
  for (int q = 0; q < K; ++q) t.v[q] = _mm256_fmadd_ps(x.v[q], _mm256_set1_ps(kLog2e), shifter);
  for (int q = 0; q < K; ++q) {
    const __m256 n = _mm256_sub_ps(t.v[q], shifter);
    r.v[q] = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x.v[q]);
    r.v[q] = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r.v[q]);
  }
  for (int q = 0; q < K; ++q) {
    const __m256 rr = r.v[q];
    const __m256 r2 = _mm256_mul_ps(rr, rr);
    const __m256 r4 = _mm256_mul_ps(r2, r2);
    const __m256 a0 = _mm256_add_ps(rr, _mm256_set1_ps(1.0f));
    const __m256 a1 = _mm256_fmadd_ps(rr, _mm256_set1_ps(1.0f / 6.0f), _mm256_set1_ps(0.5f));
    const __m256 a2 =
        _mm256_fmadd_ps(rr, _mm256_set1_ps(1.0f / 120.0f), _mm256_set1_ps(1.0f / 24.0f));
    const __m256 a3 =
        _mm256_fmadd_ps(rr, _mm256_set1_ps(1.0f / 5040.0f), _mm256_set1_ps(1.0f / 720.0f));
    const __m256 b0 = _mm256_fmadd_ps(r2, a1, a0);
    const __m256 b1 = _mm256_fmadd_ps(r2, a3, a2);
    p.v[q] = _mm256_fmadd_ps(r4, b1, b0);
  }
  for (int q = 0; q < K; ++q) {
    const __m256i scale = _mm256_add_epi32(_mm256_slli_epi32(_mm256_castps_si256(t.v[q]), 23),
                                           _mm256_set1_epi32(127 << 23));
    p.v[q] = _mm256_mul_ps(p.v[q], _mm256_castsi256_ps(scale));
  }
  return p;
}

}  // namespace vec8_detail

// As sigmoid(float): exactly 0 below -80, NaN stays NaN (min and max return their second operand,
// -x, for a NaN).
template <int K>
[[gnu::always_inline]] inline Vec8Rows<K> sigmoid(Vec8Rows<K> x) {
  using namespace float_act;
  Vec8Rows<K> arg;
  for (int q = 0; q < K; ++q) {
    arg.v[q] = _mm256_max_ps(_mm256_set1_ps(kExpMin),
                             _mm256_min_ps(_mm256_set1_ps(-kSigmoidZeroBelow),
                                           _mm256_xor_ps(x.v[q], _mm256_set1_ps(-0.0f))));
  }
  Vec8Rows<K> s = vec8_detail::exp_in_range(arg);
  for (int q = 0; q < K; ++q) s.v[q] = _mm256_add_ps(_mm256_set1_ps(1.0f), s.v[q]);
  for (int q = 0; q < K; ++q) {
    s.v[q] = _mm256_div_ps(_mm256_set1_ps(1.0f), s.v[q]);
    const __m256 below = _mm256_cmp_ps(x.v[q], _mm256_set1_ps(kSigmoidZeroBelow), _CMP_LT_OQ);
    s.v[q] = _mm256_andnot_ps(below, s.v[q]);
  }
  return s;
}

// As tanh_act(float): the odd polynomial below |x| = 0.625, 1 - 2/(e^2|x| + 1) with the sign of x
// above, |x| clamped at 10; NaN stays NaN.
template <int K>
[[gnu::always_inline]] inline Vec8Rows<K> tanh_act(Vec8Rows<K> x) {
  using namespace float_act;
  const __m256 sign = _mm256_set1_ps(-0.0f);
  Vec8Rows<K> a, z, p, twice_a;
  for (int q = 0; q < K; ++q) {
    a.v[q] = _mm256_min_ps(_mm256_set1_ps(kTanhClamp), _mm256_andnot_ps(sign, x.v[q]));
    twice_a.v[q] = _mm256_add_ps(a.v[q], a.v[q]);
    z.v[q] = _mm256_mul_ps(x.v[q], x.v[q]);
    p.v[q] = _mm256_set1_ps(kTanhP0);
  }
  for (const float coefficient : {kTanhP1, kTanhP2, kTanhP3, kTanhP4}) {
    for (int q = 0; q < K; ++q) {
      p.v[q] = _mm256_fmadd_ps(p.v[q], z.v[q], _mm256_set1_ps(coefficient));
    }
  }
  Vec8Rows<K> e = vec8_detail::exp_in_range(twice_a);
  Vec8Rows<K> out;
  for (int q = 0; q < K; ++q) {
    const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(x.v[q], z.v[q]), p.v[q], x.v[q]);
    const __m256 big_abs = _mm256_sub_ps(
        _mm256_set1_ps(1.0f),
        _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e.v[q], _mm256_set1_ps(1.0f))));
    const __m256 big = _mm256_or_ps(big_abs, _mm256_and_ps(sign, x.v[q]));
    const __m256 use_small = _mm256_cmp_ps(a.v[q], _mm256_set1_ps(kTanhSmall), _CMP_LT_OQ);
    out.v[q] = _mm256_blendv_ps(big, small, use_small);
  }
  return out;
}

}  // namespace cpu
}  // namespace fastrnn
