// vec8_avx2.h — eight float lanes in one AVX2 register, with the arithmetic, comparisons and
// activations the cell math of cells.h needs, so the fused loop compiled for AVX2
// (rnn_fused_avx2.cpp) runs cells::lstm_forward / gru_forward / rnn_forward on whole registers
// (T = Vec8). The activations are activations.h's float ones step for step (the Cody–Waite exp
// with 2^n from the exponent bits, the three-step Newton reciprocal), so they have its accuracy.
// Only for translation units compiled with AVX2 and FMA.
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

struct Mask8 {  // a comparison's result: all bits set in the lanes where it holds
  __m256 m;
};

struct Vec8 {
  __m256 v;

  Vec8() = default;
  Vec8(float s) : v(_mm256_set1_ps(s)) {}  // NOLINT: implicit, as T(1) and constants in cells.h
  explicit Vec8(__m256 x) : v(x) {}

  // Lanes outside `lanes` read as 0 and are not written.
  static Vec8 load(const float* p, Lanes8 lanes) {
    return Vec8(lanes.all ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, lanes.m));
  }
  void store(float* p, Lanes8 lanes) const {
    if (lanes.all) {
      _mm256_storeu_ps(p, v);
    } else {
      _mm256_maskstore_ps(p, lanes.m, v);
    }
  }
};

inline Vec8 operator+(Vec8 a, Vec8 b) { return Vec8(_mm256_add_ps(a.v, b.v)); }
inline Vec8 operator-(Vec8 a, Vec8 b) { return Vec8(_mm256_sub_ps(a.v, b.v)); }
inline Vec8 operator*(Vec8 a, Vec8 b) { return Vec8(_mm256_mul_ps(a.v, b.v)); }
inline Vec8 operator-(Vec8 a) { return Vec8(_mm256_xor_ps(a.v, _mm256_set1_ps(-0.0f))); }
// Ordered comparisons: false for NaN lanes, as the scalar comparisons.
inline Mask8 operator<(Vec8 a, Vec8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
inline Mask8 operator>(Vec8 a, Vec8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
inline Vec8 where(Mask8 c, Vec8 a, Vec8 b) { return Vec8(_mm256_blendv_ps(b.v, a.v, c.m)); }

namespace vec8_detail {

// exp_approx: x clamped to [kExpMin, kExpMax] (min/max return their second operand, x, for a
// NaN x), n = round(x log2 e) by the shifter, e^r by its Taylor series to r^7, 2^n from n's bits.
inline __m256 exp_approx(__m256 x) {
  using namespace float_act;
  x = _mm256_min_ps(_mm256_set1_ps(kExpMax), x);
  x = _mm256_max_ps(_mm256_set1_ps(kExpMin), x);
  const __m256 shifter = _mm256_set1_ps(12582912.0f);
  const __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(kLog2e), shifter);
  const __m256 n = _mm256_sub_ps(t, shifter);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i scale =
      _mm256_add_epi32(_mm256_slli_epi32(_mm256_castps_si256(t), 23), _mm256_set1_epi32(127 << 23));
  return _mm256_mul_ps(p, _mm256_castsi256_ps(scale));
}

// reciprocal: the exponent-bit estimate and three Newton steps y <- y (2 - d y).
inline __m256 reciprocal(__m256 d) {
  __m256 y =
      _mm256_castsi256_ps(_mm256_sub_epi32(_mm256_set1_epi32(0x7EF311C3), _mm256_castps_si256(d)));
  const __m256 two = _mm256_set1_ps(2.0f);
  y = _mm256_mul_ps(y, _mm256_fnmadd_ps(d, y, two));
  y = _mm256_mul_ps(y, _mm256_fnmadd_ps(d, y, two));
  y = _mm256_mul_ps(y, _mm256_fnmadd_ps(d, y, two));
  return y;
}

}  // namespace vec8_detail

// As sigmoid(float): exactly 0 below -80, NaN stays NaN.
inline Vec8 sigmoid(Vec8 x) {
  using namespace float_act;
  const __m256 below = _mm256_cmp_ps(x.v, _mm256_set1_ps(kSigmoidZeroBelow), _CMP_LT_OQ);
  const __m256 arg = _mm256_blendv_ps(_mm256_xor_ps(x.v, _mm256_set1_ps(-0.0f)),
                                      _mm256_set1_ps(-kSigmoidZeroBelow), below);
  const __m256 s =
      vec8_detail::reciprocal(_mm256_add_ps(_mm256_set1_ps(1.0f), vec8_detail::exp_approx(arg)));
  return Vec8(_mm256_andnot_ps(below, s));
}

// As tanh_act(float): the odd polynomial below |x| = 0.625, 1 - 2/(e^2|x| + 1) with the sign of x
// above, |x| clamped at 10; NaN stays NaN.
inline Vec8 tanh_act(Vec8 x) {
  using namespace float_act;
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 a = _mm256_min_ps(_mm256_set1_ps(kTanhClamp), _mm256_andnot_ps(sign, x.v));
  const __m256 z = _mm256_mul_ps(x.v, x.v);
  __m256 p = _mm256_set1_ps(kTanhP0);
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(kTanhP1));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(kTanhP2));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(kTanhP3));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(kTanhP4));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(x.v, z), p, x.v);
  const __m256 e = vec8_detail::exp_approx(_mm256_add_ps(a, a));
  const __m256 y = vec8_detail::reciprocal(_mm256_add_ps(e, _mm256_set1_ps(1.0f)));
  const __m256 big_abs = _mm256_fnmadd_ps(_mm256_set1_ps(2.0f), y, _mm256_set1_ps(1.0f));
  const __m256 big = _mm256_or_ps(big_abs, _mm256_and_ps(sign, x.v));
  const __m256 use_small = _mm256_cmp_ps(a, _mm256_set1_ps(kTanhSmall), _CMP_LT_OQ);
  return Vec8(_mm256_blendv_ps(big, small, use_small));
}

}  // namespace cpu
}  // namespace fastrnn
