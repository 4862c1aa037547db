// word2vec.h — the word2vec core: counting a vocabulary (from tokens, text chunks or a plain text
// file), the final vocabulary's string index, the sampling tables (negatives from unigram^exponent
// by an alias table; word2vec.c's subsampling keep thresholds), corpora held as integer ids, and
// hierarchical softmax's Huffman tree, and the trainer (skip-gram and CBOW; negative sampling,
// hierarchical softmax or both) whose Hogwild worker threads update shared
// weights without locks, over an id corpus or over per-thread pieces of a plain text file.
//
// Shape letters: V vocabulary, E embedding size, W words in an id corpus, S sentences.
// Text is split into sentences at '\n' and into tokens at ASCII whitespace; a sentence longer
// than kMaxSentence words (after dropping out-of-vocabulary words) is trained as several.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace fastrnn {
namespace w2v {

constexpr int64_t kMaxSentence = 10000;  // words per training sentence (gensim's batch size)

// ---- word2vec_vocab.cpp ----

// An open-addressing hash index from strings to their insertion number 0..size()-1.
class StringIndex {
 public:
  int32_t find(std::string_view s) const;  // -1 when absent
  int32_t insert(std::string_view s);      // the existing or new number
  int64_t size() const { return static_cast<int64_t>(keys_.size()); }
  const std::string& key(int32_t i) const { return keys_[i]; }
  void clear();

 private:
  void grow();
  std::vector<std::string> keys_;
  std::vector<uint64_t> hashes_;  // hash of keys_[i]
  std::vector<int32_t> slots_;    // capacity (a power of two); -1 = empty
};

// Counts words in first-seen order, as gensim's scan_vocab does, pruning the rarest words
// (count < min_reduce, then min_reduce + 1, ...) whenever more than max_vocab_size are held at
// the end of a sentence.
class VocabCounter {
 public:
  explicit VocabCounter(int64_t max_vocab_size = 0);  // 0: no limit
  void add_word(std::string_view w);
  void end_sentence();  // prunes, as gensim does, at the end of a sentence
  // A chunk of text; a line may continue in the next chunk. finish_text() ends the last line.
  void add_text(const char* data, int64_t n);
  void finish_text();
  void count_file(const std::string& path);  // a plain text file, whole

  int64_t total_words = 0;  // tokens seen, including pruned ones
  int64_t sentences = 0;    // token lists seen, or lines as gensim's LineSentence yields them
  int64_t min_reduce = 1;   // the next pruning threshold
  StringIndex index;
  std::vector<int64_t> counts;  // [size] by index number

  // When recording, the corpus is also kept as index numbers (so a corpus read once for the
  // vocabulary need not be read again to train): sentence s is
  // recorded_ids[recorded_offsets[s] : recorded_offsets[s+1]]. Pruning renumbers the index and
  // stops the recording (recording becomes false, the record is cleared).
  bool recording = false;
  std::vector<int32_t> recorded_ids;
  std::vector<int64_t> recorded_offsets{0};

 private:
  void add_line(const char* s, int64_t n);  // one line of text, without its '\n'
  void prune();
  int64_t max_vocab_size_;
  std::string carry_;  // an unfinished line of add_text
};

// The final vocabulary: word i is index.key(i).
struct Vocab {
  StringIndex index;
  int32_t find(std::string_view w) const { return index.find(w); }
  int64_t size() const { return index.size(); }
};

// ---- word2vec_sampling.cpp ----

// Negatives drawn with probability count^exponent / sum (Walker's alias method: O(V) memory,
// O(1) per draw, exact).
class NegativeSampler {
 public:
  NegativeSampler() = default;
  NegativeSampler(const int64_t* counts, int64_t V, double exponent);  // counts: [V]
  // r: 64 random bits (the high 32 choose the column, the low 32 the coin).
  int32_t draw(uint64_t r) const {
    const uint32_t col = static_cast<uint32_t>(((r >> 32) * static_cast<uint64_t>(V_)) >> 32);
    return static_cast<uint32_t>(r) < threshold_[col] ? static_cast<int32_t>(col) : alias_[col];
  }
  int64_t size() const { return V_; }
  // The alias table, for the GPU trainer's draws on the device: [V] each.
  const uint32_t* thresholds() const { return threshold_.data(); }
  const int32_t* aliases() const { return alias_.data(); }
  // Probability of drawing each word, for tests: [V].
  std::vector<double> probabilities() const;

 private:
  int64_t V_ = 0;
  std::vector<uint32_t> threshold_;  // [V] keep the column when coin < threshold (2^32 scale)
  std::vector<int32_t> alias_;       // [V]
};

// word2vec.c's keep probability min(1, (sqrt(c / t) + 1) t / c), t = sample * total (sample <= 1)
// or t = sample (a count, sample > 1), as gensim computes it; sample = 0 keeps every word. A word
// is kept when a uniform 32-bit draw <= its threshold.
// keep: [V] out; counts: [V].
void subsample_thresholds(uint32_t* keep, const int64_t* counts, int64_t V, double sample);

// ---- word2vec_huffman.cpp ----

// Hierarchical softmax's binary tree over V words, as gensim builds it from their counts (equal
// counts merged as gensim's heap merges them): word i's path from the root is
// codes[offsets[i] : offsets[i+1]] (0 left, 1 right) through the inner nodes
// points[offsets[i] : offsets[i+1]] (0..V-2, the rows of syn1 they use).
struct HuffmanTree {
  std::vector<int64_t> offsets;  // [V+1]
  std::vector<uint8_t> codes;    // [offsets[V]]
  std::vector<int32_t> points;   // [offsets[V]]
  int64_t max_depth = 0;         // the longest path
};
HuffmanTree huffman_tree(const int64_t* counts, int64_t V);  // counts: [V], each >= 0

// ---- word2vec_corpus.cpp ----

// A plain text file cut into `parts` pieces for as many readers: bounds [parts+1], piece w is
// bytes [bounds[w], bounds[w+1]), bounds[0] = 0 and bounds[parts] = the file's size. Each cut
// lies near size * w / parts: just after a '\n', or at the end of the file (which ends the last
// line, '\n' or not), when one comes within kLineWindow bytes, so lines stay whole, else (a longer
// line: text8 is one line of 100 MB) just after an ASCII whitespace byte, between two tokens (no
// UTF-8 sequence holds an ASCII byte, so no token is cut). Pieces never overlap, never skip a
// byte, and some may be empty.
constexpr int64_t kLineWindow = 1 << 20;
std::vector<int64_t> file_pieces(const std::string& path, int parts);

// Calls on_line(begin, length) for each line (without '\n') of the piece [begin, end) of a plain
// text file, begin and end from file_pieces; a piece cut inside a line gives its part of that line
// as a line. Reads in 1 MiB blocks; stops before reading another once *stop (when given) is set.
void for_each_line(const std::string& path, int64_t begin, int64_t end,
                   const std::function<void(const char*, int64_t)>& on_line,
                   const std::atomic<bool>* stop = nullptr);
int64_t file_size(const std::string& path);

// Bytes of the whitespace character at s[i] of s[0, n) (0 when it is none): what Python's
// str.split() splits on, so a corpus file gives the tokens LineSentence (and gensim) give —
// ASCII space, \t..\r and \x1c..\x1f, and the UTF-8 of U+0085, U+00A0, U+1680,
// U+2000..U+200A, U+2028, U+2029, U+202F, U+205F and U+3000.
// Whether an ASCII byte is whitespace to str.split(); whitespace_bytes adds the UTF-8 ones.
inline bool ascii_whitespace(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}
inline int whitespace_bytes(const char* s, int64_t i, int64_t n) {
  const auto at = [&](int64_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = at(0);
  if (c < 0x80) return ascii_whitespace(c) ? 1 : 0;
  if (c == 0xC2) return i + 1 < n && (at(1) == 0x85 || at(1) == 0xA0) ? 2 : 0;
  if ((c != 0xE1 && c != 0xE2 && c != 0xE3) || i + 2 >= n) return 0;
  const unsigned char c1 = at(1), c2 = at(2);
  const bool space = (c == 0xE1 && c1 == 0x9A && c2 == 0x80) ||                   // U+1680
                     (c == 0xE2 && c1 == 0x80 &&                                  // U+2000..
                      (c2 <= 0x8A || c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAF)) ||  // ..U+202F
                     (c == 0xE2 && c1 == 0x81 && c2 == 0x9F) ||                   // U+205F
                     (c == 0xE3 && c1 == 0x80 && c2 == 0x80);                     // U+3000
  return space ? 3 : 0;
}

// Calls on_token(token) for each whitespace-separated token of a line.
template <class F>
void for_each_token(const char* s, int64_t n, F&& on_token) {
  int64_t i = 0;
  while (i < n) {
    for (int w; i < n && (w = whitespace_bytes(s, i, n)) > 0;) i += w;
    const int64_t b = i;
    while (i < n && whitespace_bytes(s, i, n) == 0) ++i;
    if (i > b) on_token(std::string_view(s + b, static_cast<size_t>(i - b)));
  }
}

// A corpus as in-vocabulary word ids: sentence s is ids[offsets[s] : offsets[s+1]].
// Out-of-vocabulary tokens are dropped; empty sentences are dropped; sentences longer than
// kMaxSentence are split.
struct IdCorpus {
  std::vector<int32_t> ids;         // [W]
  std::vector<int64_t> offsets{0};  // [S+1]
  int64_t raw_words = 0;            // tokens seen, in vocabulary or not
  int64_t raw_sentences = 0;        // lines or token lists seen
  int64_t sentence_start = 0;       // start of the sentence being built

  void add_id(int32_t id) {
    ids.push_back(id);
    if (static_cast<int64_t>(ids.size()) - sentence_start == kMaxSentence) close_sentence();
  }
  void end_sentence() {
    close_sentence();
    ++raw_sentences;
  }
  void close_sentence() {
    if (static_cast<int64_t>(ids.size()) > sentence_start) {
      offsets.push_back(static_cast<int64_t>(ids.size()));
      sentence_start = static_cast<int64_t>(ids.size());
    }
  }
};

// Feeds text chunks (lines may span chunks) into an IdCorpus.
class IdCorpusBuilder {
 public:
  explicit IdCorpusBuilder(const Vocab& vocab) : vocab_(vocab) {}
  void add_text(const char* data, int64_t n);
  void finish_text();
  IdCorpus corpus;

 private:
  void add_line(const char* s, int64_t n);
  const Vocab& vocab_;
  std::string carry_;
};

// In-vocabulary words of a plain text file, counted by `workers` threads over its pieces.
int64_t count_file_words(const Vocab& vocab, const std::string& path, int workers);

// ---- word2vec_trainer.cpp ----

struct TrainConfig {
  bool sg = false;  // skip-gram (true) or CBOW
  int64_t E = 100;  // vector size
  int window = 5;
  int negative = 5;            // negatives per position; 0: no negative sampling (then hs)
  bool hs = false;             // hierarchical softmax (with TrainState's tree)
  int max_code = 0;            // the tree's longest path (hs)
  bool cbow_mean = true;       // CBOW input is the mean (true) or sum of the context vectors
  bool shrink_windows = true;  // effective window drawn uniformly from 1..window per position
  bool compute_loss = false;
  double alpha = 0.025;       // learning rate at progress 0 ...
  double min_alpha = 0.0001;  // ... and at progress 1
  // Words a job holds (gensim's batch_words), 1..kMaxSentence: a job closes after the sentence
  // that brings it to batch_words words.
  int64_t batch_words = kMaxSentence;
  int workers = 1;
  uint64_t seed = 1;
};

// The learning rate after `done` of a run's `total` words, as gensim's _get_next_alpha: linear
// from alpha to min_alpha, never below min_alpha.
inline float learning_rate(const TrainConfig& cfg, int64_t done, int64_t total) {
  const double progress = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  return static_cast<float>(
      std::max(cfg.min_alpha, cfg.alpha + (cfg.min_alpha - cfg.alpha) * progress));
}

// What the workers share. Weights are updated in place without locks (Hogwild).
struct TrainState {
  float* syn0 = nullptr;     // [V,E] input (word) vectors
  float* syn1neg = nullptr;  // [V,E] output vectors of negative sampling (null: negative = 0)
  // Hierarchical softmax: the inner nodes' output vectors and each word's path (HuffmanTree's
  // arrays).
  float* syn1 = nullptr;                  // [V,E] (rows 0..V-2 used)
  const int64_t* code_offsets = nullptr;  // [V+1]
  const uint8_t* codes = nullptr;         // [code_offsets[V]]
  const int32_t* points = nullptr;        // [code_offsets[V]]
  int64_t V = 0;
  const NegativeSampler* sampler = nullptr;
  const uint32_t* keep = nullptr;  // [V] subsampling thresholds
  // [V] each word's lock factor (gensim's vectors_lockf): its input-vector updates are scaled by
  // it (0: the vector stays as it is); null: 1 for every word.
  const float* lockf = nullptr;
  // Progress in in-vocabulary words before subsampling, over all epochs: the learning rate is
  // learning_rate(cfg, words_done, total_words).
  std::atomic<int64_t> words_done{0};
  int64_t total_words = 1;
  std::atomic<int64_t> trained_words{0};  // words kept by subsampling (effective words)
  std::atomic<int64_t> file_tokens{0};    // tokens read by train_epoch_file, known or not
  double loss = 0.0;                      // sum of the negative log-likelihoods (compute_loss)
  // Set by another thread to end an epoch early (Ctrl-C in Python): the CPU workers finish the
  // job they are in and take no other; the GPU paths, the launch they are in.
  std::atomic<bool> stop{false};
};

// One epoch over an id corpus: jobs of ~batch_words words are taken in order by the workers; a
// job's random stream depends only on (seed, epoch, job), so workers = 1 is reproducible.
// ids: [W]; offsets: [S+1].
void train_epoch_ids(TrainState& st, const TrainConfig& cfg, const int32_t* ids,
                     const int64_t* offsets, int64_t S, int64_t epoch);

// One epoch over a plain text file: worker w reads piece w of file_pieces(path, workers), each
// line (or part of a line, when a cut falls inside one) a sentence.
void train_epoch_file(TrainState& st, const TrainConfig& cfg, const Vocab& vocab,
                      const std::string& path, int64_t epoch);

// ---- word2vec_score.cpp ----

// A hierarchical-softmax model as score_sentences reads it.
struct ScoreModel {
  const float* syn0 = nullptr;            // [V,E] input vectors
  const float* syn1 = nullptr;            // [V,E] inner nodes' output vectors
  const int64_t* code_offsets = nullptr;  // [V+1] each word's path (HuffmanTree's arrays)
  const uint8_t* codes = nullptr;         // [code_offsets[V]]
  const int32_t* points = nullptr;        // [code_offsets[V]]
  int64_t E = 0;
  int window = 0;
  bool sg = false;
  bool cbow_mean = true;
};

// gensim's Word2Vec.score: scores [S], the log-probability of each sentence
// ids[offsets[s]:offsets[s+1]] (its first kMaxSentence words) under the model: over the words
// with a path, log σ(±f) of each node on the centre word's path (+ for code 0), f the dot of the
// node's syn1 row with each other word of the window (skip-gram) or their sum or mean (CBOW); a
// node with |f| >= 6 adds nothing, log σ is read from gensim's 1000-entry table. Sentences are
// shared by `workers` threads in jobs of `chunksize`; the scores do not depend on either.
void score_sentences(float* scores, const ScoreModel& m, const int32_t* ids, const int64_t* offsets,
                     int64_t S, int workers, int64_t chunksize);

}  // namespace w2v
}  // namespace fastrnn
