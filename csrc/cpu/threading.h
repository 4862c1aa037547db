// threading.h — the library's own worker pool. It is the only source of parallelism: the BLAS is
// kept at one thread, large GEMMs are split across the pool (parallel_gemm) and small independent
// ones run side by side on it (run_jobs), so BLAS threads and ours never compete for the cores.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

namespace fastrnn {
namespace cpu {

// Runs fn(begin, end) over [0, total) split into at most get_num_threads() contiguous chunks of at
// least `grain` items. Runs inline on the caller when the work is small, when one thread is set,
// or when another caller is using the pool (so concurrent Python threads are safe). On an OpenMP
// runtime (use_openmp_runtime) each calling thread runs the chunks on a team of its own.
void parallel_for(int64_t total, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Runs fn(thread, threads) once on each of `threads` pool threads (the caller is thread 0), or
// fn(0, 1) on the caller alone when the pool is busy or has fewer threads now (a set_num_threads
// on another thread): the count passed to fn is the one used.
void parallel_region(int threads, const std::function<void(int, int)>& fn);

// Runs job(0) .. job(count - 1), which must not depend on each other, at once on the pool's
// threads: each thread takes the next job no thread has taken yet, so a thread the host deschedules
// holds up only the job it is in. A job's own parallel calls (parallel_for, parallel_gemm) run on
// its thread alone, so this pays where each job is too small to share (below twice kPieceFlops:
// the products of a one-step layer call). On the caller alone, in order, when the pool is busy or
// one thread is set. A job must not throw (a worker that throws ends the process, as in
// parallel_for).
void run_jobs(int64_t count, const std::function<void(int64_t)>& job);

// A buffer of at least `floats` floats, 64-byte aligned, of the calling thread's own, reused across
// steps and calls (each call may move it: the pointer of an earlier call is then stale). Defined
// in threading.cpp, compiled without instruction-set flags: an inline definition put a copy of
// std::vector<float>'s growth code in each kernel's translation unit, and a link that took the
// AVX-512 one ran it on an AVX2 CPU (SIGILL in a sanitizer build).
float* thread_buffer(int64_t floats);

// A reusable barrier for the threads of one parallel_region: spins briefly, then yields.
class SpinBarrier {
 public:
  explicit SpinBarrier(int threads) : threads_(threads) {}
  void wait();

 private:
  const int threads_;
  std::atomic<int> arrived_{0};
  std::atomic<int> generation_{0};
};

// Hands out the blocks of each phase of a parallel_region (a time step, say) to its threads:
// each thread takes its own share in ascending order, then the still unclaimed blocks of the
// other shares from their ends. So a thread that the OS (or, on a VM, the host) has descheduled
// holds the others up for at most the one block it is in, not for its whole share; when all run
// alike, each keeps its own share (and the weights of its blocks stay in its core's cache).
// Which thread runs a block must not change its result. Phases are numbered from 0, the same by
// every thread, and each phase's blocks are handed out once.
class BlockClaims {
 public:
  explicit BlockClaims(int64_t blocks) : blocks_(blocks), slots_(new Slot[blocks]) {}

  // Calls fn(block) for each block that thread `tid` of `threads` claims in phase `phase`.
  template <class F>
  void run(int tid, int threads, int64_t phase, F&& fn) {
    const int64_t mark = phase + 1;
    auto claim = [&](int64_t b) {  // the first thread to mark a block in this phase has it
      return slots_[b].phase.exchange(mark, std::memory_order_relaxed) != mark;
    };
    auto share = [&](int t, int64_t& b0, int64_t& b1) {
      b0 = blocks_ * t / threads;
      b1 = blocks_ * (t + 1) / threads;
    };
    int64_t b0, b1;
    share(tid, b0, b1);
    for (int64_t b = b0; b < b1 && claim(b); ++b) fn(b);
    for (int other = 1; other < threads; ++other) {
      share((tid + other) % threads, b0, b1);
      for (int64_t b = b1 - 1; b >= b0 && claim(b); --b) fn(b);
    }
  }

 private:
  struct alignas(64) Slot {  // one cache line each: the owner and a thief touch only their own
    std::atomic<int64_t> phase{0};
  };
  const int64_t blocks_;
  std::unique_ptr<Slot[]> slots_;
};

// The flops of one of parallel_gemm's pieces (about): a product below twice this is one piece and
// runs on one thread.
constexpr int64_t kPieceFlops = int64_t{4} << 20;

// Whether a product of this many flops runs on one thread anyway (one piece of parallel_gemm; the
// weight-gradient GEMM splits at about the same size), so that independent ones gain from
// run_jobs.
inline bool runs_on_one_thread(int64_t flops) { return flops < 2 * kPieceFlops; }

// The row-major GEMM of blas.h, cut (when large enough) into pieces along M or Nc that the pool's
// threads share; the pieces depend on the shape only, so the result does not depend on the
// thread count.
template <class T>
void parallel_gemm(bool trans_a, bool trans_b, int64_t M, int64_t Nc, int64_t K, T alpha,
                   const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace cpu
}  // namespace fastrnn
