// vec16_avx512.h — sixteen float lanes in one AVX-512 register, with the arithmetic, comparisons
// and activations the forward cell math of cells.h needs, so the fused loop (rnn_fused_avx512.cpp)
// runs cells::lstm_forward / gru_forward / rnn_forward on whole registers (T = Vec16).
//
// Why: the compiler-vectorised scalar activations of activations.h cost about 250 vector
// instructions per LSTM unit vector when this was written (about 200 since their exp and
// reciprocal changed, by a rough count), and the cell loop is bound by the two ports that execute
// them. Here 2^n is one vscalefps, the reciprocal is vrcp14ps plus one Newton step, and the clamps
// are min/max: about half the instructions, with the same constants and accuracy (a few ulp).
// Only for translation units compiled with AVX-512F and DQ.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "fastrnn/activations.h"

namespace fastrnn {
namespace cpu {

struct Mask16 {
  __mmask16 k;
};

struct Vec16 {
  __m512 v;

  Vec16() = default;
  Vec16(float s) : v(_mm512_set1_ps(s)) {}  // NOLINT: implicit, as T(1) and constants in cells.h
  explicit Vec16(__m512 x) : v(x) {}

  // Lanes outside `lanes` read as 0 and are not written.
  static Vec16 load(const float* p, __mmask16 lanes) {
    return Vec16(_mm512_maskz_loadu_ps(lanes, p));
  }
  void store(float* p, __mmask16 lanes) const { _mm512_mask_storeu_ps(p, lanes, v); }

  // As a pack of one batch row, for the fused loop's epilogues, which take Simd512::CellRows rows
  // at a time (vec8_avx2.h's Vec8Rows<K> packs several).
  static constexpr int kRows = 1;
  static Vec16 repeat(Vec16 x) { return x; }
  static Vec16 load(const float* p, int64_t /*row stride*/, __mmask16 lanes) {
    return load(p, lanes);
  }
  void store(float* p, int64_t /*row stride*/, __mmask16 lanes) const { store(p, lanes); }
};

// The first `count` lanes (count >= 16: all of them; count <= 0: none).
inline __mmask16 first_lanes(int64_t count) {
  if (count <= 0) return 0;
  return count >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << count) - 1u);
}

inline Vec16 operator+(Vec16 a, Vec16 b) { return Vec16(_mm512_add_ps(a.v, b.v)); }
inline Vec16 operator-(Vec16 a, Vec16 b) { return Vec16(_mm512_sub_ps(a.v, b.v)); }
inline Vec16 operator*(Vec16 a, Vec16 b) { return Vec16(_mm512_mul_ps(a.v, b.v)); }
inline Vec16 operator-(Vec16 a) { return Vec16(_mm512_xor_ps(a.v, _mm512_set1_ps(-0.0f))); }
// Ordered comparisons: false for NaN lanes, as the scalar comparisons.
inline Mask16 operator<(Vec16 a, Vec16 b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ)}; }
inline Mask16 operator>(Vec16 a, Vec16 b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)}; }
inline Vec16 where(Mask16 c, Vec16 a, Vec16 b) {
  return Vec16(_mm512_mask_blend_ps(c.k, b.v, a.v));
}

namespace vec16_detail {

// e^x for |x| <= 88.4 (callers clamp): the range reduction and Taylor polynomial of exp_in_range
// (activations.h), the polynomial by Horner's rule here, then 2^n by vscalefps.
inline __m512 exp_bounded(__m512 x) {
  using namespace float_act;
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// 1/d for 1 <= d < 2^128: a 14-bit estimate and one Newton step.
inline __m512 reciprocal_from_one(__m512 d) {
  const __m512 y = _mm512_rcp14_ps(d);
  return _mm512_mul_ps(y, _mm512_fnmadd_ps(d, y, _mm512_set1_ps(2.0f)));
}

}  // namespace vec16_detail

// As sigmoid(float): exactly 0 below -80, NaN stays NaN.
inline Vec16 sigmoid(Vec16 x) {
  using namespace float_act;
  // max(-80, x) and min(88, ·) keep a NaN x (the second operand is returned for NaN).
  __m512 xc = _mm512_max_ps(_mm512_set1_ps(kSigmoidZeroBelow), x.v);
  xc = _mm512_min_ps(_mm512_set1_ps(kExpMax), xc);
  const __m512 e = vec16_detail::exp_bounded(_mm512_xor_ps(xc, _mm512_set1_ps(-0.0f)));
  const __m512 s = vec16_detail::reciprocal_from_one(_mm512_add_ps(e, _mm512_set1_ps(1.0f)));
  const __mmask16 zero = _mm512_cmp_ps_mask(x.v, _mm512_set1_ps(kSigmoidZeroBelow), _CMP_LT_OQ);
  return Vec16(_mm512_maskz_mov_ps(static_cast<__mmask16>(~zero), s));
}

// As tanh_act(float): the odd polynomial below |x| = 0.625, 1 - 2/(e^2|x| + 1) with the sign of x
// above, |x| clamped at 10; NaN stays NaN.
inline Vec16 tanh_act(Vec16 x) {
  using namespace float_act;
  const __m512 sign = _mm512_set1_ps(-0.0f);
  const __m512 a = _mm512_andnot_ps(sign, x.v);
  const __m512 ac = _mm512_min_ps(_mm512_set1_ps(kTanhClamp), a);  // keeps NaN
  const __m512 z = _mm512_mul_ps(x.v, x.v);
  __m512 p = _mm512_set1_ps(kTanhP0);
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(kTanhP1));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(kTanhP2));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(kTanhP3));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(kTanhP4));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(x.v, z), p, x.v);
  const __m512 e = vec16_detail::exp_bounded(_mm512_add_ps(ac, ac));
  const __m512 y = vec16_detail::reciprocal_from_one(_mm512_add_ps(e, _mm512_set1_ps(1.0f)));
  const __m512 big_abs = _mm512_fnmadd_ps(_mm512_set1_ps(2.0f), y, _mm512_set1_ps(1.0f));
  const __m512 big = _mm512_or_ps(big_abs, _mm512_and_ps(sign, x.v));
  const __mmask16 use_small = _mm512_cmp_ps_mask(a, _mm512_set1_ps(kTanhSmall), _CMP_LT_OQ);
  return Vec16(_mm512_mask_blend_ps(use_small, big, small));
}

}  // namespace cpu
}  // namespace fastrnn
