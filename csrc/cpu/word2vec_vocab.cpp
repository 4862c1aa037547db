// word2vec_vocab.cpp — the vocabulary: a string hash index (open addressing, linear probing) and
// the word counter with gensim's pruning rule for max_vocab_size.
#include <cstring>

#include "fastrnn/word2vec.h"

namespace fastrnn {
namespace w2v {
namespace {

uint64_t hash_bytes(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (s.size() * 0xC2B2AE3D27D4EB4Full);
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t k;
    std::memcpy(&k, p, 8);
    h = (h ^ (k * 0xFF51AFD7ED558CCDull)) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  uint64_t k = 0;
  std::memcpy(&k, p, n);
  h = (h ^ (k * 0xFF51AFD7ED558CCDull)) * 0x9E3779B97F4A7C15ull;
  h ^= h >> 32;
  h *= 0xC4CEB9FE1A85EC53ull;
  return h ^ (h >> 29);
}

}  // namespace

int32_t StringIndex::find(std::string_view s) const {
  if (slots_.empty()) return -1;
  const uint64_t h = hash_bytes(s);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const int32_t id = slots_[i];
    if (id < 0) return -1;
    if (hashes_[id] == h && keys_[id] == s) return id;
  }
}

int32_t StringIndex::insert(std::string_view s) {
  if ((keys_.size() + 1) * 2 > slots_.size()) grow();
  const uint64_t h = hash_bytes(s);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const int32_t id = slots_[i];
    if (id < 0) {
      const int32_t fresh = static_cast<int32_t>(keys_.size());
      keys_.emplace_back(s);
      hashes_.push_back(h);
      slots_[i] = fresh;
      return fresh;
    }
    if (hashes_[id] == h && keys_[id] == s) return id;
  }
}

void StringIndex::grow() {
  const size_t cap = slots_.empty() ? 64 : slots_.size() * 2;
  slots_.assign(cap, -1);
  const size_t mask = cap - 1;
  for (size_t id = 0; id < keys_.size(); ++id) {
    size_t i = hashes_[id] & mask;
    while (slots_[i] >= 0) i = (i + 1) & mask;
    slots_[i] = static_cast<int32_t>(id);
  }
}

void StringIndex::clear() {
  keys_.clear();
  hashes_.clear();
  slots_.clear();
}

VocabCounter::VocabCounter(int64_t max_vocab_size) : max_vocab_size_(max_vocab_size) {}

void VocabCounter::add_word(std::string_view w) {
  const int32_t id = index.insert(w);
  if (id == static_cast<int32_t>(counts.size())) counts.push_back(0);
  ++counts[id];
  ++total_words;
  if (recording) recorded_ids.push_back(id);
}

void VocabCounter::end_sentence() {
  ++sentences;
  if (recording) recorded_offsets.push_back(static_cast<int64_t>(recorded_ids.size()));
  if (max_vocab_size_ > 0 && index.size() > max_vocab_size_) prune();
}

// gensim's prune_vocab: drop words with count < min_reduce, keep the survivors' order.
void VocabCounter::prune() {
  StringIndex kept;
  std::vector<int64_t> kept_counts;
  for (int32_t i = 0; i < static_cast<int32_t>(index.size()); ++i) {
    if (counts[i] >= min_reduce) {
      kept.insert(index.key(i));
      kept_counts.push_back(counts[i]);
    }
  }
  index = std::move(kept);
  counts = std::move(kept_counts);
  ++min_reduce;
  recording = false;
  recorded_ids = {};
  recorded_offsets = {0};
}

void VocabCounter::add_text(const char* data, int64_t n) {
  int64_t start = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (data[i] != '\n') continue;
    if (!carry_.empty()) {
      carry_.append(data + start, static_cast<size_t>(i - start));
      add_line(carry_.data(), static_cast<int64_t>(carry_.size()));
      carry_.clear();
    } else {
      add_line(data + start, i - start);
    }
    start = i + 1;
  }
  carry_.append(data + start, static_cast<size_t>(n - start));
}

void VocabCounter::finish_text() {
  if (!carry_.empty()) {
    add_line(carry_.data(), static_cast<int64_t>(carry_.size()));
    carry_.clear();
  }
}

// A line of text counts as the sentences gensim's LineSentence makes of it: none when blank,
// else one per kMaxSentence tokens (a longer line is yielded in pieces).
void VocabCounter::add_line(const char* s, int64_t n) {
  int64_t tokens = 0;
  for_each_token(s, n, [this, &tokens](std::string_view w) {
    add_word(w);
    ++tokens;
  });
  if (tokens == 0) return;
  end_sentence();
  sentences += (tokens - 1) / kMaxSentence;
}

void VocabCounter::count_file(const std::string& path) {
  for_each_line(path, 0, file_size(path), [this](const char* s, int64_t n) { add_line(s, n); });
}

}  // namespace w2v
}  // namespace fastrnn
