// w2v_kernels.cuh — the body of the GPU word2vec kernel (negative sampling, hierarchical softmax
// or both; skip-gram or CBOW): one block trains one sentence, position after position; its
// threads split the embedding axis (thread k owns elements k, k + blockDim, ...). Both nvcc
// (w2v_cuda.cu) and the host compiler (the grid emulator, w2v_emulated.cpp) compile it.
//
// A position runs in seven phases with a block-wide barrier after each (so the emulator can run
// each phase for every thread in turn): (0) thread 0 draws the context (a shrunk window) and the
// targets (the centre word and `negative` shared negatives, a draw equal to the centre skipped);
// then two stages of three phases, hierarchical softmax's (targets: the inner nodes on the centre
// word's Huffman path, rows of syn1, label 1 − code) and negative sampling's, as gensim orders
// them (a stage without targets does nothing): (1) every thread computes its part of the dot
// products (skip-gram: every context row with every target row; CBOW: the context mean, from the
// vectors as the previous stage left them, with every target row); (2) the parts are summed in
// thread order (deterministic) and turned into scaled gradients (label − σ(f))·alpha, zero where
// |f| >= kMaxExp as in gensim; (3) every thread updates its slice of the rows: skip-gram
// dX = G·Y and Y += Gᵀ·X from the rows before the update (pWord2Vec), CBOW word2vec.c's rule.
// Blocks update the shared weights without locks (Hogwild, as the CPU workers do).
#pragma once

#include <cmath>
#include <cstdint>

#include "cuda/kernel_index.h"
#include "fastrnn/common.h"

namespace fastrnn {
namespace gpu {

constexpr int kW2vMaxWindow = 32;    // GPU path limits (context rows kept per thread)
constexpr int kW2vMaxNegative = 31;  // targets = 1 + negative <= 32
constexpr int kW2vMaxPath = 32;      // hierarchical softmax: the longest Huffman path
constexpr float kW2vMaxExp = 6.0f;

// xorshift64* (as the CPU trainer's w2v_next).
FASTRNN_HD uint64_t w2v_random(uint64_t* r) {
  uint64_t x = *r;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *r = x;
  return x * 2685821657736338717ull;
}

// What one block keeps between phases (in shared memory on the device), beside its float
// scratch (W2vSentenceKernel::Scratch).
struct W2vBlockState {
  uint64_t rng;
  double loss;
  int C, T;  // context rows and targets at this position
  int ctx[2 * kW2vMaxWindow];
  int tgt[kW2vMaxNegative + 1];
};

struct W2vSentenceKernel {
  using State = W2vBlockState;
  static constexpr int kPhases = 7;

  bool sg;
  float* syn0;                  // [V,E]
  float* syn1neg;               // [V,E] (negative > 0)
  float* syn1;                  // [V,E] the tree's inner nodes (hs)
  const int64_t* code_offsets;  // [V+1] each word's Huffman path (w2v::HuffmanTree), hs only
  const uint8_t* codes;         // [code_offsets[V]]
  const int32_t* points;        // [code_offsets[V]]
  int64_t V, E;
  int window, negative;
  bool hs;
  int max_code;  // the longest path (hs), <= kW2vMaxPath
  bool cbow_mean, shrink_windows, compute_loss;
  const float* lockf;            // [V] scales of the input-vector updates, or null: 1
  const uint32_t* ns_threshold;  // [V] alias table: keep the column when coin < threshold
  const int32_t* ns_alias;       // [V]
  const int32_t* words;          // kept words of all sentences
  const int64_t* offsets;        // [blocks+1] sentence b is words[offsets[b]:offsets[b+1]]
  const float* alphas;           // [blocks] learning rate of each sentence
  const uint64_t* seeds;         // [blocks] nonzero random state of each sentence
  double* losses;                // [blocks] out: each sentence's loss (compute_loss)

  // The block's float scratch, with Q = 2·window·max(1 + negative, max_code) (context rows ×
  // targets at most):
  // part [blockDim, Q] each thread's part of the dot products; grad [Q] the scaled gradients and
  // logit [Q] the dot products, [C,T] (skip-gram) or [T] (CBOW); h [E] the CBOW context mean.
  struct Scratch {
    float *part, *grad, *logit, *h;
  };
  FASTRNN_HD int64_t pairs() const {
    const int targets = hs && max_code > negative + 1 ? max_code : negative + 1;
    return int64_t{2} * window * targets;
  }
  FASTRNN_HD int64_t scratch_floats(int64_t block_dim) const {
    return (block_dim + 2) * pairs() + E;
  }
  FASTRNN_HD Scratch scratch_of(float* base, int64_t block_dim) const {
    const int64_t Q = pairs();
    return Scratch{base, base + block_dim * Q, base + (block_dim + 1) * Q,
                   base + (block_dim + 2) * Q};
  }

  FASTRNN_HD int64_t positions(int64_t block) const { return offsets[block + 1] - offsets[block]; }

  FASTRNN_HD void start(const KernelIndex& k, W2vBlockState& s) const {
    if (k.thread != 0) return;
    s.rng = seeds[k.block];
    s.loss = 0.0;
  }

  FASTRNN_HD void finish(const KernelIndex& k, const W2vBlockState& s) const {
    if (k.thread == 0 && losses != nullptr) losses[k.block] = s.loss;
  }

  FASTRNN_HD void phase(int p, const KernelIndex& k, W2vBlockState& s, float* base,
                        int64_t i) const {
    if (p == 0) {
      draw(k, s, i);
      return;
    }
    const Targets t = targets((p - 1) / 3, k, s, i);
    if (t.T == 0) return;
    const Scratch scratch = scratch_of(base, k.block_dim);
    switch ((p - 1) % 3) {
      case 0:
        partial_dots(k, s, t, scratch);
        break;
      case 1:
        gradients(k, s, t, scratch);
        break;
      default:
        update(k, s, t, scratch);
        break;
    }
  }

 private:
  // A stage's targets: T rows of `out`; hs (stage 0): the centre word's path, label 1 − code;
  // negative sampling (stage 1): the drawn targets, label 1 for the first.
  struct Targets {
    float* out;
    const int32_t* rows;
    const uint8_t* codes;  // hs: [T]; null: negative sampling's labels
    int T;
    FASTRNN_HD float label(int t) const {
      return codes != nullptr ? 1.0f - static_cast<float>(codes[t]) : (t == 0 ? 1.0f : 0.0f);
    }
  };

  FASTRNN_HD Targets targets(int stage, const KernelIndex& k, const W2vBlockState& s,
                             int64_t i) const {
    if (stage == 0) {
      if (!hs) return Targets{nullptr, nullptr, nullptr, 0};
      const int32_t centre = words[offsets[k.block] + i];
      const int64_t b = code_offsets[centre];
      return Targets{syn1, points + b, codes + b, static_cast<int>(code_offsets[centre + 1] - b)};
    }
    if (negative == 0) return Targets{nullptr, nullptr, nullptr, 0};
    return Targets{syn1neg, s.tgt, nullptr, s.T};
  }

  FASTRNN_HD int32_t draw_negative(uint64_t r) const {
    const uint32_t col = static_cast<uint32_t>(((r >> 32) * static_cast<uint64_t>(V)) >> 32);
    return static_cast<uint32_t>(r) < ns_threshold[col] ? static_cast<int32_t>(col) : ns_alias[col];
  }

  FASTRNN_HD void draw(const KernelIndex& k, W2vBlockState& s, int64_t i) const {
    if (k.thread != 0) return;
    const int32_t* w = words + offsets[k.block];
    const int64_t n = positions(k.block);
    int reach = window;
    if (shrink_windows) reach -= static_cast<int>((w2v_random(&s.rng) >> 33) % window);
    const int64_t j0 = i - reach < 0 ? 0 : i - reach;
    const int64_t j1 = i + reach + 1 > n ? n : i + reach + 1;
    int c = 0;
    for (int64_t j = j0; j < j1; ++j) {
      if (j != i) s.ctx[c++] = w[j];
    }
    s.C = c;
    s.tgt[0] = w[i];
    int t = 1;
    for (int q = 0; q < negative; ++q) {
      const int32_t d = draw_negative(w2v_random(&s.rng));
      if (d != w[i]) s.tgt[t++] = d;
    }
    s.T = t;
  }

  // part[thread·R·T + r·T + t]: this thread's part of row r's dot with target t (R = C rows for
  // skip-gram, 1 for CBOW).
  FASTRNN_HD void partial_dots(const KernelIndex& k, const W2vBlockState& s, const Targets& tg,
                               const Scratch& scratch) const {
    const int C = s.C, T = tg.T, R = sg ? C : 1;
    if (C == 0) return;
    float* part = scratch.part + k.thread * R * T;
    float* h = scratch.h;
    if (!sg) {  // the context mean (or sum), this thread's slice
      const float scale = cbow_mean ? 1.0f / static_cast<float>(C) : 1.0f;
      for (int64_t e = k.thread; e < E; e += k.block_dim) {
        float a = 0.0f;
        for (int c = 0; c < C; ++c) a += syn0[int64_t{s.ctx[c]} * E + e];
        h[e] = a * scale;
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) {
        const float* y = tg.out + int64_t{tg.rows[t]} * E;
        float a = 0.0f;
        for (int64_t e = k.thread; e < E; e += k.block_dim) {
          a += (sg ? syn0[int64_t{s.ctx[r]} * E + e] : h[e]) * y[e];
        }
        part[r * T + t] = a;
      }
    }
  }

  FASTRNN_HD void gradients(const KernelIndex& k, const W2vBlockState& s, const Targets& tg,
                            const Scratch& scratch) const {
    const int C = s.C, T = tg.T, RT = (sg ? C : 1) * T;
    if (C == 0) return;
    const float alpha = alphas[k.block];
    for (int q = static_cast<int>(k.thread); q < RT; q += static_cast<int>(k.block_dim)) {
      float f = 0.0f;
      for (int64_t th = 0; th < k.block_dim; ++th) f += scratch.part[th * RT + q];
      const float label = tg.label(q % T);
      scratch.logit[q] = f;
      scratch.grad[q] =
          (f > -kW2vMaxExp && f < kW2vMaxExp) ? (label - 1.0f / (1.0f + expf(-f))) * alpha : 0.0f;
    }
  }

  FASTRNN_HD static double softplus_neg(double x) {  // −log σ(x)
    return x > 0 ? log1p(exp(-x)) : -x + log1p(exp(x));
  }

  // −log σ(±f) of a pair (+ for label 1); hierarchical softmax, as gensim, counts only the pairs
  // whose logit is not saturated.
  FASTRNN_HD double pair_loss(const Targets& tg, int t, float f) const {
    if (tg.codes != nullptr && !(f > -kW2vMaxExp && f < kW2vMaxExp)) return 0.0;
    return softplus_neg(tg.label(t) > 0.5f ? f : -f);
  }

  FASTRNN_HD void update(const KernelIndex& k, W2vBlockState& s, const Targets& tg,
                         const Scratch& scratch) const {
    const int C = s.C, T = tg.T;
    if (C == 0) return;
    if (compute_loss && k.thread == 0) {
      for (int q = 0; q < (sg ? C : 1) * T; ++q) s.loss += pair_loss(tg, q % T, scratch.logit[q]);
    }
    const float* h = scratch.h;
    const float* grad = scratch.grad;
    for (int64_t e = k.thread; e < E; e += k.block_dim) {
      float y_old[kW2vMaxPath > kW2vMaxNegative + 1 ? kW2vMaxPath : kW2vMaxNegative + 1];
      for (int t = 0; t < T; ++t) y_old[t] = tg.out[int64_t{tg.rows[t]} * E + e];
      if (sg) {
        float x_old[2 * kW2vMaxWindow];
        for (int c = 0; c < C; ++c) x_old[c] = syn0[int64_t{s.ctx[c]} * E + e];
        for (int t = 0; t < T; ++t) {  // Y += Gᵀ·X (rows before the update)
          float d = 0.0f;
          for (int c = 0; c < C; ++c) d += grad[c * T + t] * x_old[c];
          tg.out[int64_t{tg.rows[t]} * E + e] += d;
        }
        for (int c = 0; c < C; ++c) {  // X += G·Y, scaled by the word's lock factor
          float d = 0.0f;
          for (int t = 0; t < T; ++t) d += grad[c * T + t] * y_old[t];
          syn0[int64_t{s.ctx[c]} * E + e] += lockf != nullptr ? lockf[s.ctx[c]] * d : d;
        }
      } else {
        float err = 0.0f;
        for (int t = 0; t < T; ++t) {
          err += grad[t] * y_old[t];
          tg.out[int64_t{tg.rows[t]} * E + e] += grad[t] * h[e];
        }
        const float err_scale = cbow_mean ? 1.0f : 1.0f / static_cast<float>(C);
        for (int c = 0; c < C; ++c) {
          const float lock = lockf != nullptr ? lockf[s.ctx[c]] : 1.0f;
          syn0[int64_t{s.ctx[c]} * E + e] += err_scale * lock * err;
        }
      }
    }
  }
};

}  // namespace gpu
}  // namespace fastrnn
