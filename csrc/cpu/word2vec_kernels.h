// word2vec_kernels.h — the per-sentence training kernels (skip-gram and CBOW with negative
// sampling, hierarchical softmax or both). One implementation (word2vec_kernels.inc) is compiled
// once per instruction set; w2v_kernels() returns the table for this CPU.
#pragma once

#include <algorithm>
#include <cstdint>

#include "fastrnn/word2vec.h"

namespace fastrnn {
namespace cpu {

// As in gensim: a pair whose logit lies outside (-kW2vMaxExp, kW2vMaxExp) gives no update.
constexpr float kW2vMaxExp = 6.0f;
constexpr int kW2vSigmoidTable = 4096;  // sigmoid table entries over that interval

struct W2vKernelArgs {
  float* syn0;                  // [V,E] input vectors
  float* syn1neg;               // [V,E] output vectors of negative sampling (null: negative = 0)
  float* syn1;                  // [V,E] output vectors of the tree's inner nodes (hs)
  const int64_t* code_offsets;  // [V+1] each word's path (w2v::HuffmanTree), hs only
  const uint8_t* codes;         // [code_offsets[V]]
  const int32_t* points;        // [code_offsets[V]]
  int64_t E;
  int window;
  int negative;  // 0: no negative sampling
  bool hs;
  int max_code;  // the longest path (hs)
  bool cbow_mean;
  bool shrink_windows;
  bool compute_loss;
  const w2v::NegativeSampler* sampler;
  const float* sigmoid;  // [kW2vSigmoidTable + 1]
  const float* lockf;    // [V] scales of the input-vector updates, or null (w2v::TrainState)
};

// The most context words of a position: 2·window, but no more than a trained sentence (at most
// w2v::kMaxSentence words) holds, so a window past any sentence needs no more scratch.
inline int64_t w2v_max_context(int window) {
  return 2 * std::min<int64_t>(window, w2v::kMaxSentence - 1);
}

// The most output rows one update of a position uses: the centre word and its negatives, or the
// inner nodes on the centre word's path (max_code: the tree's longest path, 0 without hs).
inline int64_t w2v_max_targets(int negative, int max_code) {
  return std::max<int64_t>(negative + int64_t{1}, max_code);
}

// Sizes of a worker's scratch for the kernels.
inline int64_t w2v_scratch_floats(int64_t E, int window, int negative, int max_code) {
  const int64_t C = w2v_max_context(window), T = w2v_max_targets(negative, max_code);
  return (C + 2) * ((E + 15) / 16 * 16) + 2 * C * T + 2 * T + 64;
}
inline int64_t w2v_scratch_ints(int window, int negative) {
  return w2v_max_context(window) + 2 * int64_t{negative} + 4;
}
inline int64_t w2v_scratch_pointers(int window, int negative, int max_code) {
  return w2v_max_context(window) + w2v_max_targets(negative, max_code) + 2;
}

// Trains one (already subsampled) sentence. words: [n]; rng: the worker's w2v_next state;
// loss: accumulates -log σ terms when compute_loss; f/i/pscratch: the sizes above.
using W2vSentenceFn = void (*)(const W2vKernelArgs& a, const int32_t* words, int64_t n, float alpha,
                               uint64_t* rng, double* loss, float* fscratch, int32_t* iscratch,
                               const float** pscratch);

struct W2vKernels {
  W2vSentenceFn sg;
  W2vSentenceFn cbow;
};

const W2vKernels& w2v_kernels();

namespace generic {
const W2vKernels& w2v_kernels();
}
namespace avx2 {
const W2vKernels& w2v_kernels();
}
namespace avx512 {
const W2vKernels& w2v_kernels();
}

// xorshift64*: 64 random bits per call; the state must not be 0.
inline uint64_t w2v_next(uint64_t* r) {
  uint64_t x = *r;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *r = x;
  return x * 2685821657736338717ull;
}

}  // namespace cpu
}  // namespace fastrnn
