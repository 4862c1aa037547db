// activations.h — exp, logistic sigmoid and tanh for the cells, written so the compiler can
// vectorise them (no branches, no library calls for float on the host) and so the CUDA compiler can
// use them on the device. double keeps the C library's exact functions (the float64 path is the
// accurate one); float uses a Cody–Waite reduced polynomial exp with about 2 ulp of error and a
// Newton reciprocal instead of a division.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "fastrnn/common.h"

namespace fastrnn {

// c ? a : b, written as a call so that the cell math (cells.h) also runs on the CPU kernels'
// vector types, whose comparisons give lane masks (cpu/vec16_avx512.h overloads it).
template <class T>
FASTRNN_HD T where(bool c, T a, T b) {
  return c ? a : b;
}

// The constants of the float exp and tanh below, shared with their AVX-512 vector versions.
namespace float_act {
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693145751953125f;         // ln 2, high part (exact in float)
constexpr float kLn2Lo = 1.428606765330187045e-06f;  // ln 2, low part
constexpr float kExpMax = 88.3762626647949f;         // e^x overflows float above this
constexpr float kExpMin = -87.3365447504019f;  // and is below the smallest normal float below this
constexpr float kSigmoidZeroBelow = -80.0f;    // sigmoid(x) is 0 below this (see sigmoid)
constexpr float kTanhClamp = 10.0f;            // tanh(10) rounds to 1 in float
constexpr float kTanhSmall = 0.625f;           // below this |x|, tanh's odd polynomial
constexpr float kTanhP0 = -5.70498872745e-3f;  // tanh(x) = x + x·z·p(z), z = x², p by Horner
constexpr float kTanhP1 = 2.06390887954e-2f;
constexpr float kTanhP2 = -5.37397155531e-2f;
constexpr float kTanhP3 = 1.33314422036e-1f;
constexpr float kTanhP4 = -3.33332819422e-1f;
}  // namespace float_act

#if defined(__CUDA_ARCH__)
FASTRNN_HD float exp_approx(float x) { return expf(x); }
#else
// e^x = 2^n · e^r with n = round(x / ln 2) and |r| <= ln2 / 2; e^r by its Taylor series to r^7.
// NaN propagates (comparisons with NaN are false, so the clamps leave it alone).
FASTRNN_HD float exp_approx(float x) {
  using namespace float_act;
  x = x > kExpMax ? kExpMax : x;
  x = x < kExpMin ? kExpMin : x;
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer in the low bits
  float t = x * kLog2e + shifter;
  uint32_t tbits;
  std::memcpy(&tbits, &t, sizeof tbits);
  const float n = t - shifter;
  float r = x - n * kLn2Hi;
  r = r - n * kLn2Lo;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const uint32_t scale_bits = (tbits << 23) + (127u << 23);  // 2^n from n's low bits
  float scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  return p * scale;
}
#endif

#if defined(__CUDA_ARCH__)
FASTRNN_HD float reciprocal(float d) { return 1.0f / d; }
#else
// 1/d without a division instruction (whose throughput limits the vectorised cell loops): an
// initial estimate from the exponent bits, then three Newton steps y <- y (2 - d y), each
// squaring the relative error (12% -> 1.5% -> 2e-4 -> 5e-8). NaN propagates through the steps.
// Valid for normal d up to about 1.6e38 (above it the exponent-bit estimate wraps round to a NaN
// pattern): sigmoid and tanh_act, the callers, clamp their arguments to stay below.
FASTRNN_HD float reciprocal(float d) {
  uint32_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  bits = 0x7EF311C3u - bits;
  float y;
  std::memcpy(&y, &bits, sizeof y);
  y = y * (2.0f - d * y);
  y = y * (2.0f - d * y);
  y = y * (2.0f - d * y);
  return y;
}
#endif

// Below x = -80 (sigmoid(-80) = 1.8e-35) the result is 0, as for -inf, and e^-x is not formed, so
// 1 + e^-x stays below 1.6e38, where reciprocal()'s bit-trick estimate is valid; NaN passes the
// comparisons unchanged.
FASTRNN_HD float sigmoid(float x) {
  using float_act::kSigmoidZeroBelow;
  const float s = reciprocal(1.0f + exp_approx(x < kSigmoidZeroBelow ? -kSigmoidZeroBelow : -x));
  return x < kSigmoidZeroBelow ? 0.0f : s;
}
FASTRNN_HD double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

#if defined(__CUDA_ARCH__)
FASTRNN_HD float tanh_act(float x) { return tanhf(x); }
#else
// Small |x|: an odd polynomial (accurate where 1 - 2/(e^2x + 1) would cancel); elsewhere the exp
// form, with |x| clamped at 10 (tanh(10) rounds to 1 in float) so e^2|x| + 1 stays where
// reciprocal() is valid; NaN passes the clamp unchanged.
FASTRNN_HD float tanh_act(float x) {
  using namespace float_act;
  float a = x < 0.0f ? -x : x;
  a = a > kTanhClamp ? kTanhClamp : a;
  const float z = x * x;
  float p = kTanhP0;
  p = p * z + kTanhP1;
  p = p * z + kTanhP2;
  p = p * z + kTanhP3;
  p = p * z + kTanhP4;
  const float small = x + x * z * p;
  const float big_abs = 1.0f - 2.0f * reciprocal(exp_approx(2.0f * a) + 1.0f);
  const float big = x < 0.0f ? -big_abs : big_abs;
  return a < kTanhSmall ? small : big;
}
#endif
FASTRNN_HD double tanh_act(double x) { return std::tanh(x); }

}  // namespace fastrnn
