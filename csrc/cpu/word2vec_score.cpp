// word2vec_score.cpp — Word2Vec.score: gensim's log-probability of sentences under a
// hierarchical-softmax model (its score_sentence_sg and score_sentence_cbow), the sentences
// handed to worker threads in jobs of `chunksize`. A sentence's score depends on that sentence
// alone and is summed in one fixed order, so it does not depend on the workers or chunksize.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/worker_threads.h"
#include "fastrnn/common.h"
#include "fastrnn/word2vec.h"

namespace fastrnn {
namespace w2v {
namespace {

constexpr double kMaxExp = 6.0;  // a node whose ±f is outside (-6, 6) adds nothing (gensim)
constexpr int kLogTable = 1000;  // gensim's log σ table
constexpr int kLogScale = kLogTable / 6 / 2;  // gensim's index scale, 83 in integer arithmetic

// gensim's table [1000]: float32 log σ(x) at x = (k / 1000 · 2 − 1) · 6, rounded as it rounds.
std::vector<float> log_sigmoid_table() {
  std::vector<float> t(kLogTable);
  for (int k = 0; k < kLogTable; ++k) {
    const float x = (static_cast<float>(k) / static_cast<float>(kLogTable) * 2.0f - 1.0f) * 6.0f;
    const float e = static_cast<float>(std::exp(static_cast<double>(x)));
    t[k] = static_cast<float>(std::log(static_cast<double>(e / (e + 1.0f))));
  }
  return t;
}

// gensim's log σ(x) read from the table; 0 when x is saturated (or NaN).
inline double log_sigmoid(const float* table, double x) {
  if (!(std::fabs(x) < kMaxExp)) return 0.0;
  return table[static_cast<int>((x + kMaxExp) * kLogScale)];
}

// The float32 dot of a [E] and b [E], in eight partial sums (a fixed order).
inline float dot(const float* a, const float* b, int64_t E) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= E; k += 8) {
    for (int l = 0; l < 8; ++l) s[l] += a[k + l] * b[k + l];
  }
  for (; k < E; ++k) s[0] += a[k] * b[k];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

// Adds the nodes of word w's path, each against the input h [E], to the sentence's total (in
// float32, node by node, as gensim sums).
inline void add_path_score(float& total, const ScoreModel& m, const float* table, int32_t w,
                           const float* h) {
  for (int64_t k = m.code_offsets[w]; k < m.code_offsets[w + 1]; ++k) {
    const double f = dot(h, m.syn1 + static_cast<int64_t>(m.points[k]) * m.E, m.E);
    total += static_cast<float>(log_sigmoid(table, m.codes[k] ? -f : f));
  }
}

// One sentence's score; words: [n] (n <= kMaxSentence), h: [E] scratch.
float score_one(const ScoreModel& m, const float* table, const int32_t* words, int64_t n,
                float* h) {
  const auto has_path = [&](int32_t w) { return m.code_offsets[w + 1] > m.code_offsets[w]; };
  float total = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    if (!has_path(words[i])) continue;
    const int64_t lo = std::max<int64_t>(0, i - m.window), hi = std::min(n, i + m.window + 1);
    if (m.sg) {  // the centre's path against each other word of the window in turn
      for (int64_t j = lo; j < hi; ++j) {
        if (j != i && has_path(words[j])) {
          add_path_score(total, m, table, words[i], m.syn0 + int64_t{words[j]} * m.E);
        }
      }
      continue;
    }
    std::fill(h, h + m.E, 0.0f);  // CBOW: the window's sum (or mean) against the centre's path
    float count = 0.0f;
    for (int64_t j = lo; j < hi; ++j) {
      if (j == i || !has_path(words[j])) continue;
      const float* v = m.syn0 + int64_t{words[j]} * m.E;
      for (int64_t e = 0; e < m.E; ++e) h[e] += v[e];
      count += 1.0f;
    }
    if (m.cbow_mean && count > 0.5f) {
      const float inv = 1.0f / count;
      for (int64_t e = 0; e < m.E; ++e) h[e] *= inv;
    }
    add_path_score(total, m, table, words[i], h);
  }
  return total;
}

}  // namespace

void score_sentences(float* scores, const ScoreModel& m, const int32_t* ids, const int64_t* offsets,
                     int64_t S, int workers, int64_t chunksize) {
  if (workers < 1 || chunksize < 1) throw Error("score: workers and chunksize must be positive");
  static const std::vector<float> table = log_sigmoid_table();
  const int64_t jobs = S / chunksize + (S % chunksize != 0);  // no overflow near INT64_MAX
  std::atomic<int64_t> next{0};
  const int threads = static_cast<int>(std::min<int64_t>(workers, std::max<int64_t>(jobs, 1)));
  // [threads, stride]: a cache line or more between two threads' rows (CBOW writes them often)
  const int64_t stride = (m.E + 15) / 16 * 16 + 16;
  std::vector<float> scratch(static_cast<size_t>(threads * stride));
  const auto work = [&](int w) {
    float* h = scratch.data() + w * stride;
    for (int64_t job; (job = next.fetch_add(1, std::memory_order_relaxed)) < jobs;) {
      for (int64_t s = job * chunksize; s < std::min(S, (job + 1) * chunksize); ++s) {
        const int64_t n = std::min(offsets[s + 1] - offsets[s], kMaxSentence);
        scores[s] = score_one(m, table.data(), ids + offsets[s], n, h);
      }
    }
  };
  run_workers(threads, work);
}

}  // namespace w2v
}  // namespace fastrnn
