// word2vec_trainer.cpp — the Hogwild trainer: worker threads take jobs of about batch_words
// words (in order from an id corpus, or from their own piece of a text file), subsample
// each sentence, and run the sentence kernels with the learning rate of the global progress.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <string>
#include <vector>

#include "cpu/cpu_features.h"
#include "cpu/word2vec_kernels.h"
#include "cpu/worker_threads.h"
#include "fastrnn/common.h"
#include "fastrnn/word2vec.h"

namespace fastrnn {
namespace cpu {

const W2vKernels& w2v_kernels() {
  static const W2vKernels& k = []() -> const W2vKernels& {
    switch (detected_isa()) {
#if FASTRNN_X86_KERNELS
      case Isa::kAvx512:
        return avx512::w2v_kernels();
      case Isa::kAvx2:
        return avx2::w2v_kernels();
#endif
      default:
        return generic::w2v_kernels();
    }
  }();
  return k;
}

}  // namespace cpu

namespace w2v {
namespace {

const float* sigmoid_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(cpu::kW2vSigmoidTable + 1);
    for (int i = 0; i <= cpu::kW2vSigmoidTable; ++i) {
      // The centre of bucket i, so truncation in the lookup gives round-to-nearest.
      const double x =
          (i + 0.5) * (2.0 * cpu::kW2vMaxExp / cpu::kW2vSigmoidTable) - cpu::kW2vMaxExp;
      t[i] = static_cast<float>(1.0 / (1.0 + std::exp(-x)));
    }
    return t;
  }();
  return table.data();
}

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t stream_seed(uint64_t seed, int64_t epoch, int64_t stream) {
  const uint64_t s = splitmix(splitmix(splitmix(seed) ^ static_cast<uint64_t>(epoch)) ^
                              static_cast<uint64_t>(stream));
  return s == 0 ? 1 : s;
}

// One worker's reusable state.
struct Worker {
  Worker(const TrainState& st, const TrainConfig& cfg, uint64_t seed)
      : fscratch(cpu::w2v_scratch_floats(cfg.E, cfg.window, cfg.negative, cfg.max_code)),
        iscratch(cpu::w2v_scratch_ints(cfg.window, cfg.negative)),
        pscratch(cpu::w2v_scratch_pointers(cfg.window, cfg.negative, cfg.max_code)),
        kept(kMaxSentence),
        rng(seed) {
    args.syn0 = st.syn0;
    args.syn1neg = st.syn1neg;
    args.syn1 = st.syn1;
    args.code_offsets = st.code_offsets;
    args.codes = st.codes;
    args.points = st.points;
    args.hs = cfg.hs;
    args.max_code = cfg.max_code;
    args.lockf = st.lockf;
    args.E = cfg.E;
    args.window = cfg.window;
    args.negative = cfg.negative;
    args.cbow_mean = cfg.cbow_mean;
    args.shrink_windows = cfg.shrink_windows;
    args.compute_loss = cfg.compute_loss;
    args.sampler = st.sampler;
    args.sigmoid = sigmoid_table();
    fn = cfg.sg ? cpu::w2v_kernels().sg : cpu::w2v_kernels().cbow;
  }

  // Trains sentences ids[offsets[s]:offsets[s+1]] for s in [s0, s1) and adds their words to the
  // shared progress.
  void run(TrainState& st, const TrainConfig& cfg, const int32_t* ids, const int64_t* offsets,
           int64_t s0, int64_t s1) {
    const int64_t base = st.words_done.load(std::memory_order_relaxed);
    int64_t local = 0, trained = 0;
    for (int64_t s = s0; s < s1; ++s) {
      const float alpha = learning_rate(cfg, base + local, st.total_words);
      const int32_t* w = ids + offsets[s];
      const int64_t n = offsets[s + 1] - offsets[s];
      for (int64_t p = 0; p < n; p += kMaxSentence) {  // pieces of at most kMaxSentence words
        const int64_t m = std::min(kMaxSentence, n - p);
        int64_t k = 0;
        for (int64_t j = p; j < p + m; ++j) {
          const uint32_t r = static_cast<uint32_t>(cpu::w2v_next(&rng) >> 32);
          if (r <= st.keep[w[j]]) kept[k++] = w[j];
        }
        if (k > 1)
          fn(args, kept.data(), k, alpha, &rng, &loss, fscratch.data(), iscratch.data(),
             pscratch.data());
        trained += k;
      }
      local += n;
    }
    st.words_done.fetch_add(local, std::memory_order_relaxed);
    st.trained_words.fetch_add(trained, std::memory_order_relaxed);
  }

  cpu::W2vKernelArgs args;
  cpu::W2vSentenceFn fn;
  std::vector<float> fscratch;
  std::vector<int32_t> iscratch;
  std::vector<const float*> pscratch;
  std::vector<int32_t> kept;
  uint64_t rng;
  double loss = 0.0;
};

void check(const TrainState& st, const TrainConfig& cfg) {
  if (st.syn0 == nullptr || st.keep == nullptr ||
      (cfg.negative > 0 && (st.syn1neg == nullptr || st.sampler == nullptr)))
    throw Error("word2vec trainer: weights and tables must be set");
  if (cfg.E < 1 || cfg.window < 1 || cfg.negative < 0 || cfg.workers < 1)
    throw Error("word2vec trainer: E, window and workers must be positive, negative >= 0");
  if (!cfg.hs && cfg.negative == 0)
    throw Error("word2vec trainer: negative must be positive without hs");
  if (cfg.hs && (st.syn1 == nullptr || st.code_offsets == nullptr || st.codes == nullptr ||
                 st.points == nullptr || cfg.max_code < 0))
    throw Error("word2vec trainer: hs needs syn1 and the Huffman tree");
  if (cfg.batch_words < 1 || cfg.batch_words > kMaxSentence)
    throw Error("word2vec trainer: batch_words must be in 1..kMaxSentence");
  if (st.sampler != nullptr && st.sampler->size() != st.V)
    throw Error("word2vec trainer: sampler size != V");
  if (st.total_words < 1) throw Error("word2vec trainer: total_words must be positive");
}

}  // namespace

void train_epoch_ids(TrainState& st, const TrainConfig& cfg, const int32_t* ids,
                     const int64_t* offsets, int64_t S, int64_t epoch) {
  check(st, cfg);
  // Jobs: runs of whole sentences of at least batch_words words (the last may be shorter).
  std::vector<int64_t> jobs{0};
  for (int64_t s = 0, words = 0; s < S; ++s) {
    words += offsets[s + 1] - offsets[s];
    if (words >= cfg.batch_words || s + 1 == S) {
      jobs.push_back(s + 1);
      words = 0;
    }
  }
  const int64_t J = static_cast<int64_t>(jobs.size()) - 1;
  std::atomic<int64_t> next{0};
  std::mutex mu;
  run_workers(cfg.workers, [&](int) {
    Worker wk(st, cfg, 1);
    for (int64_t j; !st.stop.load(std::memory_order_relaxed) && (j = next.fetch_add(1)) < J;) {
      wk.rng = stream_seed(cfg.seed, epoch, j);
      wk.run(st, cfg, ids, offsets, jobs[j], jobs[j + 1]);
    }
    std::lock_guard<std::mutex> lock(mu);
    st.loss += wk.loss;
  });
}

void train_epoch_file(TrainState& st, const TrainConfig& cfg, const Vocab& vocab,
                      const std::string& path, int64_t epoch) {
  check(st, cfg);
  if (vocab.size() != st.V) throw Error("word2vec trainer: vocabulary size != V");
  const std::vector<int64_t> pieces = file_pieces(path, cfg.workers);
  std::mutex mu;
  run_workers(cfg.workers, [&](int w) {
    Worker wk(st, cfg, stream_seed(cfg.seed, epoch, -1 - int64_t{w}));
    IdCorpus job;
    int64_t tokens = 0;
    auto flush = [&] {
      job.close_sentence();
      const int64_t S = static_cast<int64_t>(job.offsets.size()) - 1;
      if (S > 0 && !st.stop.load(std::memory_order_relaxed)) {
        wk.run(st, cfg, job.ids.data(), job.offsets.data(), 0, S);
      }
      job.ids.clear();
      job.offsets.assign(1, 0);
      job.sentence_start = 0;
    };
    const auto on_line = [&](const char* s, int64_t n) {
      for_each_token(s, n, [&](std::string_view t) {
        ++tokens;
        const int32_t id = vocab.find(t);
        if (id < 0) return;
        job.add_id(id);
        // Inside a line of many sentences (a one-line corpus such as text8), a job also ends
        // after the sentence that brings it to batch_words words, so the shared progress (and
        // the learning rate) moves during the line, not only after it.
        const int64_t size = static_cast<int64_t>(job.ids.size());
        if (job.sentence_start == size && size >= cfg.batch_words) flush();
      });
      job.end_sentence();
      if (static_cast<int64_t>(job.ids.size()) >= cfg.batch_words) flush();
    };
    for_each_line(path, pieces[w], pieces[w + 1], on_line, &st.stop);
    flush();
    st.file_tokens.fetch_add(tokens, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(mu);
    st.loss += wk.loss;
  });
}

}  // namespace w2v
}  // namespace fastrnn
