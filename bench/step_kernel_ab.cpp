// step_kernel_ab.cpp — times two builds of the step kernel (csrc/cpu/rnn_step.inc) in one process,
// alternating, for bench/step_kernel_ab.py, which compiles the two into the namespaces ab_base
// and ab_head and links them with this file and a build's libfastrnn_core.a.
//
//   step_kernel_ab MODE H N OFFSET ROUNDS  ->  prints "<base µs> <head µs>", the medians over
//   ROUNDS
//
// One float32 inference step of N rows, I = H, on one thread; the weights start OFFSET bytes past
// a 64-byte boundary, x, h and c on one. Each round times both builds, in turn (which one goes
// first alternates), for as many calls as make about 4 M flops (at least 20).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fastrnn/common.h"
#include "fastrnn/rnn.h"

namespace fastrnn {
namespace cpu {
#define FASTRNN_AB_DECLARE(NS)                                                                \
  namespace NS {                                                                              \
  void fused_step(float* h_new, float* c_new, const RnnDesc& desc, int64_t N, const float* x, \
                  const float* h, const float* c, const RnnWeights<float>& w);                \
  }
FASTRNN_AB_DECLARE(ab_base)
FASTRNN_AB_DECLARE(ab_head)
#undef FASTRNN_AB_DECLARE
}  // namespace cpu
}  // namespace fastrnn

namespace {

using fastrnn::CellMode;

// n floats from a uniform draw, starting `offset` bytes past a 64-byte boundary (kept alive by
// `keep`).
float* drawn(std::vector<std::vector<float>>& keep, std::mt19937& rng, int64_t n, int offset) {
  keep.emplace_back(static_cast<size_t>(n + 32));
  float* base = keep.back().data();
  const auto misalign = reinterpret_cast<uintptr_t>(base) % 64;
  float* p = base + ((64 - misalign) % 64 + offset) / sizeof(float);
  std::uniform_real_distribution<float> u(-0.1f, 0.1f);
  for (int64_t i = 0; i < n; ++i) p[i] = u(rng);
  return p;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s MODE H N OFFSET ROUNDS\n", argv[0]);
    return 2;
  }
  fastrnn::RnnDesc d;
  const std::string mode = argv[1];
  d.mode = mode == "lstm" ? CellMode::kLstm : mode == "gru" ? CellMode::kGru : CellMode::kRnnTanh;
  const int64_t H = std::atoll(argv[2]), N = std::atoll(argv[3]);
  const int offset = std::atoi(argv[4]), rounds = std::atoi(argv[5]);
  if (H < 1 || N < 1 || N > 16 || offset < 0 || offset > 60 || offset % 4 || rounds < 1) {
    std::fprintf(stderr, "bad arguments: H >= 1, 1 <= N <= 16, OFFSET 0-60 (x4), ROUNDS >= 1\n");
    return 2;
  }
  d.input_size = H;
  d.hidden_size = H;
  const int64_t G = d.gates();
  std::mt19937 rng(1);
  std::vector<std::vector<float>> keep;
  fastrnn::RnnWeights<float> w{};
  w.w_ih = drawn(keep, rng, G * H * H, offset);
  w.w_hh = drawn(keep, rng, G * H * H, offset);
  w.b_ih = drawn(keep, rng, G * H, 0);
  w.b_hh = drawn(keep, rng, G * H, 0);
  const float* x = drawn(keep, rng, N * H, 0);
  const float* h = drawn(keep, rng, N * H, 0);
  const float* c = drawn(keep, rng, N * H, 0);
  float* h_new = drawn(keep, rng, N * H, 0);
  float* c_new = drawn(keep, rng, N * H, 0);
  fastrnn::set_num_threads(1);
  using Step = decltype(&fastrnn::cpu::ab_base::fused_step);
  const Step steps[2] = {fastrnn::cpu::ab_base::fused_step, fastrnn::cpu::ab_head::fused_step};
  const int64_t calls = std::max<int64_t>(20, 4000000 / (2 * N * G * H * 2 * H));
  std::vector<double> times[2];
  for (int r = 0; r < rounds; ++r) {
    for (int i = 0; i < 2; ++i) {
      const int which = r % 2 ? 1 - i : i;
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t k = 0; k < calls; ++k) steps[which](h_new, c_new, d, N, x, h, c, w);
      const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - t0;
      times[which].push_back(took.count() / static_cast<double>(calls));
    }
  }
  std::printf("%.3f %.3f\n", median(times[0]), median(times[1]));
  return 0;
}
