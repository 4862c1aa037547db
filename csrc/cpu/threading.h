// threading.h — the library's own worker pool. It is the only source of parallelism: the BLAS is
// kept at one thread and large GEMMs are split across the pool (parallel_gemm), so BLAS threads
// and ours never compete for the cores.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

namespace fastrnn {
namespace cpu {

// Runs fn(begin, end) over [0, total) split into at most get_num_threads() contiguous chunks of at
// least `grain` items. Runs inline on the caller when the work is small, when one thread is set,
// or when another caller is using the pool (so concurrent Python threads are safe).
void parallel_for(int64_t total, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Runs fn(thread, threads) once on each of up to `threads` pool threads (the caller is thread 0);
// `threads` passed to fn is the count actually used (1 when the pool is busy).
void parallel_region(int threads, const std::function<void(int, int)>& fn);

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

// The row-major GEMM of blas.h with the M rows split across the pool when large enough.
template <class T>
void parallel_gemm(bool trans_a, bool trans_b, int64_t M, int64_t Nc, int64_t K, T alpha,
                   const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace cpu
}  // namespace fastrnn
