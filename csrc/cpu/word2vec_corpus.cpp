// word2vec_corpus.cpp — reading corpora: a plain text file cut into pieces for the workers (at
// line ends, or between tokens of a very long line) and read line by line, text chunks to id
// corpora, and counting a file's in-vocabulary words with several threads.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "cpu/worker_threads.h"
#include "fastrnn/common.h"
#include "fastrnn/word2vec.h"

namespace fastrnn {
namespace w2v {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

File open_file(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  return f;
}

}  // namespace

int64_t file_size(const std::string& path) {
  File f = open_file(path);
  if (std::fseek(f.get(), 0, SEEK_END) != 0) throw Error("cannot seek in '" + path + "'");
  return static_cast<int64_t>(std::ftell(f.get()));
}

namespace {

constexpr int64_t kBlock = 1 << 20;  // bytes read at a time

// The piece boundary at or after byte b of a file of `size` bytes (see file_pieces).
int64_t piece_boundary(std::FILE* f, const std::string& path, int64_t b, int64_t size) {
  if (b <= 0) return 0;
  if (b >= size) return size;
  if (std::fseek(f, b - 1, SEEK_SET) != 0) throw Error("cannot seek in '" + path + "'");
  std::vector<unsigned char> buf(kBlock);
  int64_t pos = b - 1;    // file offset of buf[0]
  int64_t first_ws = -1;  // offset of the first ASCII whitespace byte at or after b - 1
  for (;;) {
    const size_t got = std::fread(buf.data(), 1, buf.size(), f);
    // The end of the file ends its last line as a '\n' would: reached with a whitespace byte
    // seen, it lies within the window (else the loop returned at the window's end).
    if (got == 0) return size;
    for (size_t i = 0; i < got; ++i) {
      const int64_t at = pos + static_cast<int64_t>(i);
      if (buf[i] == '\n' && at < b - 1 + kLineWindow) return at + 1;
      if (first_ws < 0 && ascii_whitespace(buf[i])) first_ws = at;
      if (first_ws >= 0 && at + 1 >= b - 1 + kLineWindow) return first_ws + 1;
    }
    pos += static_cast<int64_t>(got);
  }
}

}  // namespace

std::vector<int64_t> file_pieces(const std::string& path, int parts) {
  if (parts < 1) parts = 1;
  const int64_t size = file_size(path);
  File f = open_file(path);
  std::vector<int64_t> bounds(parts + 1);
  for (int w = 0; w <= parts; ++w) {
    bounds[w] = piece_boundary(f.get(), path, size * w / parts, size);
  }
  return bounds;
}

void for_each_line(const std::string& path, int64_t begin, int64_t end,
                   const std::function<void(const char*, int64_t)>& on_line,
                   const std::atomic<bool>* stop) {
  if (begin >= end) return;
  File f = open_file(path);
  if (std::fseek(f.get(), begin, SEEK_SET) != 0) throw Error("cannot seek in '" + path + "'");
  std::vector<char> buf(kBlock);
  int64_t head = 0, tail = 0;  // unconsumed bytes are buf[head, tail)
  int64_t left = end - begin;  // bytes of the piece not yet read
  for (;;) {
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) return;
    if (head > 0) {  // keep the unfinished line at the front
      std::memmove(buf.data(), buf.data() + head, static_cast<size_t>(tail - head));
      tail -= head;
      head = 0;
    }
    if (tail == static_cast<int64_t>(buf.size())) buf.resize(buf.size() * 2);
    const size_t want = static_cast<size_t>(std::min<int64_t>(left, buf.size() - tail));
    const size_t got = want > 0 ? std::fread(buf.data() + tail, 1, want, f.get()) : 0;
    if (got == 0) {  // the piece (or the file) is over: its last line may lack a '\n'
      if (tail > head) on_line(buf.data() + head, tail - head);
      return;
    }
    int64_t scan = tail;
    tail += static_cast<int64_t>(got);
    left -= static_cast<int64_t>(got);
    while (const void* nl = std::memchr(buf.data() + scan, '\n', tail - scan)) {
      const int64_t i = static_cast<const char*>(nl) - buf.data();
      on_line(buf.data() + head, i - head);
      head = scan = i + 1;
    }
  }
}

void IdCorpusBuilder::add_line(const char* s, int64_t n) {
  for_each_token(s, n, [this](std::string_view w) {
    ++corpus.raw_words;
    const int32_t id = vocab_.find(w);
    if (id >= 0) corpus.add_id(id);
  });
  corpus.end_sentence();
}

void IdCorpusBuilder::add_text(const char* data, int64_t n) {
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

void IdCorpusBuilder::finish_text() {
  if (!carry_.empty()) {
    add_line(carry_.data(), static_cast<int64_t>(carry_.size()));
    carry_.clear();
  }
}

int64_t count_file_words(const Vocab& vocab, const std::string& path, int workers) {
  if (workers < 1) workers = 1;
  const std::vector<int64_t> pieces = file_pieces(path, workers);
  std::vector<int64_t> counts(workers, 0);
  run_workers(workers, [&](int w) {
    int64_t& c = counts[w];
    for_each_line(path, pieces[w], pieces[w + 1], [&](const char* s, int64_t n) {
      for_each_token(s, n, [&](std::string_view t) { c += vocab.find(t) >= 0; });
    });
  });
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  return total;
}

}  // namespace w2v
}  // namespace fastrnn
