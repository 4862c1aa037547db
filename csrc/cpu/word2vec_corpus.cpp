// word2vec_corpus.cpp — reading corpora: lines of a plain text file by byte range (a line belongs
// to the range holding its first byte), text chunks to id corpora, and counting a file's
// in-vocabulary words with several threads.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

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

void for_each_line(const std::string& path, int64_t begin, int64_t end,
                   const std::function<void(const char*, int64_t)>& on_line) {
  if (begin >= end) return;
  File f = open_file(path);
  constexpr int64_t kBlock = 1 << 20;
  std::vector<char> buf(kBlock);
  int64_t head = 0, tail = 0;  // unconsumed bytes are buf[head, tail)
  int64_t pos = begin;         // file offset of buf[head]
  bool eof = false;
  auto refill = [&]() {
    if (head > 0) {
      std::memmove(buf.data(), buf.data() + head, static_cast<size_t>(tail - head));
      tail -= head;
      head = 0;
    }
    if (tail == static_cast<int64_t>(buf.size())) buf.resize(buf.size() * 2);
    const size_t got = std::fread(buf.data() + tail, 1, buf.size() - tail, f.get());
    if (got == 0) eof = true;
    tail += static_cast<int64_t>(got);
  };
  if (begin > 0) {
    // Start after the first '\n' at or after begin - 1: a line starting before begin is not ours.
    if (std::fseek(f.get(), begin - 1, SEEK_SET) != 0) throw Error("cannot seek in '" + path + "'");
    pos = begin - 1;
    for (;;) {
      if (head == tail) {
        if (eof) return;
        refill();
        continue;
      }
      const char c = buf[head++];
      ++pos;
      if (c == '\n') break;
    }
  }
  if (pos >= end) return;
  int64_t scan = head;
  for (;;) {
    const void* nl = scan < tail ? std::memchr(buf.data() + scan, '\n', tail - scan) : nullptr;
    if (nl != nullptr) {
      const int64_t i = static_cast<const char*>(nl) - buf.data();
      on_line(buf.data() + head, i - head);
      pos += i + 1 - head;
      head = scan = i + 1;
      if (pos >= end) return;
      continue;
    }
    if (eof) {
      if (tail > head) on_line(buf.data() + head, tail - head);
      return;
    }
    const int64_t scanned = tail - head;
    refill();
    scan = head + scanned;
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
  const int64_t size = file_size(path);
  if (workers < 1) workers = 1;
  std::vector<int64_t> counts(workers, 0);
  std::vector<std::thread> threads;
  std::vector<std::string> errors(workers);
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      try {
        int64_t& c = counts[w];
        for_each_line(path, size * w / workers, size * (w + 1) / workers,
                      [&](const char* s, int64_t n) {
                        for_each_token(s, n, [&](std::string_view t) { c += vocab.find(t) >= 0; });
                      });
      } catch (const std::exception& e) {
        errors[w] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) {
    if (!e.empty()) throw Error(e);
  }
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  return total;
}

}  // namespace w2v
}  // namespace fastrnn
