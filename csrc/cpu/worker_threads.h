// worker_threads.h — word2vec's worker threads (the trainer, the corpus word count, score): one
// std::thread a worker for the length of one call, as gensim's workers. A thread the system
// refuses to start (std::system_error or std::bad_alloc: a process or memory limit) does not end
// the call: its worker's share runs on the calling thread after the others have started, so the
// work is done in full, only with fewer threads. The first worker's exception (by worker number) is
// rethrown as it was once all have ended.
#pragma once

#include <exception>
#include <thread>
#include <vector>

namespace fastrnn {
namespace w2v {

// Runs body(w) for w in 0..workers-1, each on its own thread where the system allows (worker 0
// and any refused worker on the caller's).
template <class F>
void run_workers(int workers, F&& body) {
  if (workers == 1) {  // the caller's thread alone
    body(0);
    return;
  }
  std::vector<std::exception_ptr> errors(workers);  // storing one allocates nothing
  const auto guarded = [&](int w) {
    try {
      body(w);
    } catch (...) {
      errors[w] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  int started = 1;  // worker 0 is the caller
  try {
    threads.reserve(workers - 1);
    for (; started < workers; ++started) threads.emplace_back(guarded, started);
  } catch (const std::exception&) {  // std::system_error, or std::bad_alloc for a thread's state
  }
  guarded(0);
  for (int w = started; w < workers; ++w) guarded(w);
  for (auto& t : threads) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace w2v
}  // namespace fastrnn
