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

#if defined(__CUDA_ARCH__)
FASTRNN_HD float exp_approx(float x) { return expf(x); }
#else
// e^x = 2^n · e^r with n = round(x / ln 2) and |r| <= ln2 / 2; e^r by its Taylor series to r^7.
// NaN propagates (comparisons with NaN are false, so the clamps leave it alone).
FASTRNN_HD float exp_approx(float x) {
  x = x > 88.3762626647949f ? 88.3762626647949f : x;
  x = x < -87.3365447504019f ? -87.3365447504019f : x;
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer in the low bits
  float t = x * 1.44269504088896341f + shifter;
  uint32_t tbits;
  std::memcpy(&tbits, &t, sizeof tbits);
  const float n = t - shifter;
  float r = x - n * 0.693145751953125f;   // ln 2, high part (exact in float)
  r = r - n * 1.428606765330187045e-06f;  // ln 2, low part
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
  const float s = reciprocal(1.0f + exp_approx(x < -80.0f ? 80.0f : -x));
  return x < -80.0f ? 0.0f : s;
}
FASTRNN_HD double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

#if defined(__CUDA_ARCH__)
FASTRNN_HD float tanh_act(float x) { return tanhf(x); }
#else
// Small |x|: an odd polynomial (accurate where 1 - 2/(e^2x + 1) would cancel); elsewhere the exp
// form, with |x| clamped at 10 (tanh(10) rounds to 1 in float) so e^2|x| + 1 stays where
// reciprocal() is valid; NaN passes the clamp unchanged.
FASTRNN_HD float tanh_act(float x) {
  float a = x < 0.0f ? -x : x;
  a = a > 10.0f ? 10.0f : a;
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = x + x * z * p;
  const float big_abs = 1.0f - 2.0f * reciprocal(exp_approx(2.0f * a) + 1.0f);
  const float big = x < 0.0f ? -big_abs : big_abs;
  return a < 0.625f ? small : big;
}
#endif
FASTRNN_HD double tanh_act(double x) { return std::tanh(x); }

}  // namespace fastrnn
