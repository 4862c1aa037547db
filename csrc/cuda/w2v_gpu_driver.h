// w2v_gpu_driver.h — one epoch of GPU word2vec over an id corpus, written once over a Backend
// that runs the sentence kernel (w2v_kernels.cuh) for the epoch's sentence pieces in launches
// (w2v_launch_plan.h): the CUDA backend (w2v_cuda.cu) copies the weights and tables to the device,
// runs each launch (one block per piece) and copies the weights back; the emulator backend
// (w2v_emulated.cpp) runs the blocks one after another on the host arrays (deterministic, for the
// tests).
//
// The host subsamples each sentence (pieces of at most kMaxSentence words) and gives it its
// learning rate (by the exact word count before it in the run, as the CPU trainer does: linear
// decay by words processed, whichever launch the piece falls in) and its own random state (from
// seed, epoch and sentence), so the result does not depend on the order blocks run in, nor on how
// the epoch is cut into launches, except through Hogwild's races.
//
// Backend interface: run(kernel, plan, words) with the kernel's pointers all host memory and its
// per-piece arrays covering the epoch; launch l runs w2v_launch_kernel(kernel, plan[l]) on
// plan[l + 1] - plan[l] blocks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cuda/w2v_kernels.cuh"
#include "cuda/w2v_launch_plan.h"
#include "fastrnn/common.h"
#include "fastrnn/word2vec.h"
#include "fastrnn/word2vec_gpu.h"

namespace fastrnn {
namespace gpu {

inline uint64_t w2v_mix(uint64_t x) {  // splitmix64's finaliser
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline void check_w2v_gpu_config(const w2v::TrainConfig& cfg) {
  if (cfg.negative < 0 || (!cfg.hs && cfg.negative == 0)) {
    throw Error("word2vec on the GPU: negative must be positive without hs");
  }
  if (cfg.hs && cfg.max_code > kW2vMaxPath) {
    throw Error(
        "word2vec on the GPU supports hs (hierarchical softmax) with Huffman paths of up "
        "to " +
        std::to_string(kW2vMaxPath) + " nodes; this vocabulary's longest has " +
        std::to_string(cfg.max_code) + ": train it on the CPU");
  }
  if (cfg.window > kW2vMaxWindow || cfg.negative > kW2vMaxNegative) {
    throw Error("word2vec on the GPU supports window <= " + std::to_string(kW2vMaxWindow) +
                " and negative <= " + std::to_string(kW2vMaxNegative) + ", got window=" +
                std::to_string(cfg.window) + " negative=" + std::to_string(cfg.negative));
  }
}

// The epoch kernel's view from piece `first` on: its block b is the epoch's piece first + b.
inline W2vSentenceKernel w2v_launch_kernel(const W2vSentenceKernel& epoch, int64_t first) {
  W2vSentenceKernel k = epoch;
  k.offsets += first;
  k.alphas += first;
  k.seeds += first;
  if (k.losses != nullptr) k.losses += first;
  return k;
}

// ids: [W]; offsets: [S+1]. Updates st's weights, progress and loss like w2v::train_epoch_ids, in
// launches of at most launch_words kept words (w2v_launch_plan); returns what each launch ran.
template <class Backend>
std::vector<W2vLaunch> w2v_train_epoch_ids(Backend& be, w2v::TrainState& st,
                                           const w2v::TrainConfig& cfg, const int32_t* ids,
                                           const int64_t* offsets, int64_t S, int64_t epoch,
                                           int64_t launch_words) {
  check_w2v_gpu_config(cfg);
  std::vector<int32_t> words;
  std::vector<int64_t> starts{0};
  std::vector<float> alphas;
  std::vector<uint64_t> seeds;
  const int64_t base = st.words_done.load();
  int64_t local = 0, trained = 0;
  for (int64_t s = 0; s < S; ++s) {
    const float alpha = w2v::learning_rate(cfg, base + local, st.total_words);
    uint64_t rng = w2v_mix(w2v_mix(w2v_mix(cfg.seed) ^ static_cast<uint64_t>(epoch)) ^
                           static_cast<uint64_t>(s)) |
                   1;
    const int32_t* w = ids + offsets[s];
    const int64_t n = offsets[s + 1] - offsets[s];
    for (int64_t p = 0; p < n; p += w2v::kMaxSentence) {
      const int64_t m = std::min(w2v::kMaxSentence, n - p);
      const size_t before = words.size();
      for (int64_t j = p; j < p + m; ++j) {
        const uint32_t r = static_cast<uint32_t>(w2v_random(&rng) >> 32);
        if (r <= st.keep[w[j]]) words.push_back(w[j]);
      }
      const int64_t k = static_cast<int64_t>(words.size() - before);
      trained += k;
      if (k > 1) {
        starts.push_back(static_cast<int64_t>(words.size()));
        alphas.push_back(alpha);
        seeds.push_back(w2v_random(&rng) | 1);
      } else {
        words.resize(before);
      }
    }
    local += n;
  }
  const std::vector<int64_t> plan = w2v_launch_plan(starts, launch_words);
  std::vector<W2vLaunch> launches;
  for (size_t l = 0; l + 1 < plan.size(); ++l) {
    const int64_t first = plan[l], end = plan[l + 1];
    launches.push_back(
        W2vLaunch{end - first, starts[end] - starts[first], alphas[first], alphas[end - 1]});
  }
  const int64_t blocks = static_cast<int64_t>(alphas.size());
  if (blocks > 0) {
    std::vector<double> losses(blocks, 0.0);
    W2vSentenceKernel k{};
    k.sg = cfg.sg;
    k.syn0 = st.syn0;
    k.lockf = st.lockf;
    k.syn1neg = st.syn1neg;
    k.syn1 = st.syn1;
    k.code_offsets = st.code_offsets;
    k.codes = st.codes;
    k.points = st.points;
    k.hs = cfg.hs;
    k.max_code = cfg.max_code;
    k.V = st.V;
    k.E = cfg.E;
    k.window = cfg.window;
    k.negative = cfg.negative;
    k.cbow_mean = cfg.cbow_mean;
    k.shrink_windows = cfg.shrink_windows;
    k.compute_loss = cfg.compute_loss;
    k.ns_threshold = st.sampler != nullptr ? st.sampler->thresholds() : nullptr;
    k.ns_alias = st.sampler != nullptr ? st.sampler->aliases() : nullptr;
    k.words = words.data();
    k.offsets = starts.data();
    k.alphas = alphas.data();
    k.seeds = seeds.data();
    k.losses = cfg.compute_loss ? losses.data() : nullptr;
    be.run(k, plan, static_cast<int64_t>(words.size()), st.stop);
    for (double l : losses) st.loss += l;
  }
  if (st.stop.load(std::memory_order_relaxed)) return launches;  // cut short: not all trained
  st.words_done.fetch_add(local);
  st.trained_words.fetch_add(trained);
  return launches;
}

}  // namespace gpu
}  // namespace fastrnn
