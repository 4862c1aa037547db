// activation_bits.cpp — checks that the AVX2 register activations (cpu/vec8_avx2.h: sigmoid and
// tanh on one and on two rows) give the bits of the scalar float ones (fastrnn/activations.h)
// compiled as the AVX2 kernels are (-mavx2 -mfma: the scalar code's a*b+c contracted to FMAs), on
// a dense grid, a few hundred floats on each side of every boundary of the approximations, special
// values and random bit patterns. A NaN input must give a NaN (its sign bit may differ: GCC folds
// the scalar -x into an FMA). Prints "checked N" and exits 0, or prints the first mismatches and
// exits 1. Built and run by tests/test_activation_bits.py; not part of the library.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "cpu/vec8_avx2.h"

namespace {

using fastrnn::cpu::first_lanes8;
using fastrnn::cpu::Vec8;
using fastrnn::cpu::Vec8Rows;

uint32_t bits_of(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}

float float_of(uint32_t u) {
  float v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

// The inputs: every boundary ±300 floats (and its negation), a grid over [-100, 100], special
// values, and random bit patterns.
std::vector<float> inputs() {
  std::vector<float> xs;
  const float edges[] = {0.0f,
                         0.625f,
                         10.0f,
                         20.0f,
                         44.0f,
                         80.0f,
                         87.3365447504019f,
                         88.3762626647949f,
                         100.0f,
                         1e30f,
                         std::numeric_limits<float>::max(),
                         std::numeric_limits<float>::min(),
                         std::numeric_limits<float>::denorm_min()};
  for (const float e : edges) {
    for (const float s : {e, -e}) {
      const int64_t center = bits_of(s);
      for (int64_t d = -300; d <= 300; ++d) {
        const int64_t b = center + d;
        if (b >= 0 && b <= 0xFFFFFFFFll) xs.push_back(float_of(static_cast<uint32_t>(b)));
      }
    }
  }
  for (int i = 0; i <= 400000; ++i) xs.push_back(-100.0f + 200.0f * static_cast<float>(i) / 400000);
  const float inf = std::numeric_limits<float>::infinity();
  for (const float v : {inf, -inf, std::numeric_limits<float>::quiet_NaN(), -0.0f}) xs.push_back(v);
  std::mt19937 rng(12345);
  for (int i = 0; i < 1000000; ++i) xs.push_back(float_of(static_cast<uint32_t>(rng())));
  while (xs.size() % 16 != 0) xs.push_back(0.0f);
  return xs;
}

bool same(float scalar, float vector) {
  if (std::isnan(scalar) || std::isnan(vector)) return std::isnan(scalar) && std::isnan(vector);
  return bits_of(scalar) == bits_of(vector);
}

}  // namespace

int main() {
  const std::vector<float> xs = inputs();
  const auto all = first_lanes8(8);
  int failures = 0;
  for (size_t i = 0; i < xs.size(); i += 16) {
    float s1[16], t1[16], s2[16], t2[16];
    for (int h = 0; h < 2; ++h) {  // one row at a time: two registers of 8
      const Vec8 x = Vec8::load(&xs[i + 8 * h], all);
      fastrnn::cpu::sigmoid(x).store(s1 + 8 * h, all);
      fastrnn::cpu::tanh_act(x).store(t1 + 8 * h, all);
    }
    const auto x2 = Vec8Rows<2>::load(&xs[i], 8, all);  // two rows in one pack
    fastrnn::cpu::sigmoid(x2).store(s2, 8, all);
    fastrnn::cpu::tanh_act(x2).store(t2, 8, all);
    for (int l = 0; l < 16; ++l) {
      const float x = xs[i + l];
      const float s = fastrnn::sigmoid(x), t = fastrnn::tanh_act(x);
      if (!same(s, s1[l]) || !same(s, s2[l]) || !same(t, t1[l]) || !same(t, t2[l])) {
        if (++failures <= 10) {
          std::printf(
              "x=%.9g (0x%08x): sigmoid scalar %.9g, rows 1/2 %.9g %.9g; tanh scalar %.9g, "
              "rows 1/2 %.9g %.9g\n",
              x, bits_of(x), s, s1[l], s2[l], t, t1[l], t2[l]);
        }
      }
    }
  }
  if (failures > 0) {
    std::printf("%d of %zu inputs differ\n", failures, xs.size());
    return 1;
  }
  std::printf("checked %zu\n", xs.size());
  return 0;
}
