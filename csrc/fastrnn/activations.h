// activations.h — exp, logistic sigmoid and tanh for the cells, written so the compiler can
// vectorise them (no branches, no library calls for float on the host) and so the CUDA compiler can
// use them on the device. double keeps the C library's exact functions (the float64 path is the
// accurate one); float uses a Cody–Waite reduced polynomial exp (under 2 ulp of error) and one
// division, each written as a short chain of dependent operations: the fused loops' AVX2 cells
// (cpu/vec8_avx2.h, the same steps on registers) are bound by that chain's latency rather than by
// their instruction count (an LSTM cell's row of 8 units, alone in L1, took 26-32 ns on an AVX2
// EPYC with Estrin's scheme and a division, 36-43 ns with Horner's rule and a three-step Newton
// reciprocal).
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
FASTRNN_HD float exp_in_range(float x) { return expf(x); }
#else
// e^x for x in [kExpMin, kExpMax] (or NaN, which propagates): e^x = 2^n · e^r with
// n = round(x / ln 2) and |r| <= ln2 / 2; e^r by its Taylor series to r^7, evaluated by Estrin's
// scheme (pairs of terms, then r^2 and r^4) so its chain of dependent operations is short.
FASTRNN_HD float exp_in_range(float x) {
  using namespace float_act;
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer in the low bits
  const float t = x * kLog2e + shifter;
  uint32_t tbits;
  std::memcpy(&tbits, &t, sizeof tbits);
  const float n = t - shifter;
  float r = x - n * kLn2Hi;
  r = r - n * kLn2Lo;
  const float r2 = r * r;
  const float r4 = r2 * r2;
  const float a0 = r + 1.0f;
  const float a1 = r * (1.0f / 6.0f) + 0.5f;
  const float a2 = r * (1.0f / 120.0f) + 1.0f / 24.0f;
  const float a3 = r * (1.0f / 5040.0f) + 1.0f / 720.0f;
  const float p = r4 * (r2 * a3 + a2) + (r2 * a1 + a0);
  const uint32_t scale_bits = (tbits << 23) + (127u << 23);  // 2^n from n's low bits
  float scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  return p * scale;
}
#endif

// Below x = -80 (sigmoid(-80) = 1.8e-35) the result is exactly 0, as for -inf; e^-x is formed for
// -x clamped to [kExpMin, 80]. NaN passes the comparisons unchanged.
FASTRNN_HD float sigmoid(float x) {
  using namespace float_act;
  float arg = -x;
  arg = arg > -kSigmoidZeroBelow ? -kSigmoidZeroBelow : arg;
  arg = arg < kExpMin ? kExpMin : arg;
  const float s = 1.0f / (1.0f + exp_in_range(arg));
  return x < kSigmoidZeroBelow ? 0.0f : s;
}
FASTRNN_HD double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

#if defined(__CUDA_ARCH__)
FASTRNN_HD float tanh_act(float x) { return tanhf(x); }
#else
// Small |x|: an odd polynomial (accurate where 1 - 2/(e^2x + 1) would cancel); elsewhere the exp
// form, with |x| clamped at 10 (tanh(10) rounds to 1 in float, and e^2|x| stays in exp_in_range's
// range); NaN passes the clamp unchanged.
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
  const float big_abs = 1.0f - 2.0f / (exp_in_range(2.0f * a) + 1.0f);
  const float big = x < 0.0f ? -big_abs : big_abs;
  return a < kTanhSmall ? small : big;
}
#endif
FASTRNN_HD double tanh_act(double x) { return std::tanh(x); }

}  // namespace fastrnn
