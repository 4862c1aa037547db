// threading.cpp — a small persistent pool: workers spin briefly, then sleep on a condition
// variable; each job is cut into one contiguous chunk per thread, and the calling thread runs
// chunk 0 itself. A worker woken on its caller's CPU moves off it (see Pool::work). Or, once
// use_openmp_runtime has named one, the threads of an OpenMP runtime already in the process
// (torch's libgomp) run the chunks instead, one per thread of a team.
#include "cpu/threading.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#include <pthread.h>
#endif

#include "cpu/blas.h"
#include "fastrnn/common.h"

namespace fastrnn {
namespace cpu {
namespace {

// Spin iterations (0.3 ms at 23 ns a pause, 0.4-1.6 ms where a pause takes 30-140 ns) a thread
// polls before it sleeps: back-to-back jobs, such as the steps of a cell, or a small layer's
// packing, input products and weight gradients around its one-thread time loop (0.1-0.3 ms),
// then never pay a futex wake-up (on a VM, tens of microseconds: a one-row LSTM layer's training
// step took 0.39 ms with a 0.07 ms spin, 0.32 ms with this one).
constexpr int kSpin = 12000;
// Yields (each well under a microsecond when nothing else wants the CPU) before a caller waiting
// for its workers sleeps.
constexpr int kYields = 2000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// The CPU the calling thread runs on, or -1 where that is not known.
inline int current_cpu() {
#if defined(__linux__)
  return sched_getcpu();
#else
  return -1;
#endif
}

// Moves the calling thread off `cpu` once, if the process may run elsewhere: it narrows the
// thread's allowed CPUs to exclude `cpu` (the OS migrates it at once), then restores them (which
// leaves it where it now is). See Pool::work.
void leave_cpu(int cpu) {
#if defined(__linux__)
  cpu_set_t allowed;
  if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  cpu_set_t others = allowed;
  CPU_CLR(cpu, &others);
  if (CPU_COUNT(&others) == 0) return;
  if (sched_setaffinity(0, sizeof others, &others) != 0) return;
  // Restore the CPUs allowed before; if that fails (the process's own set changed meanwhile),
  // take whatever set it now has rather than stay barred from `cpu`.
  if (sched_setaffinity(0, sizeof allowed, &allowed) != 0) {
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int c = 0; c < CPU_SETSIZE; ++c) CPU_SET(c, &all);
    sched_setaffinity(0, sizeof all, &all);
  }
#else
  (void)cpu;
#endif
}

class Pool {
 public:
  ~Pool() { resize(1); }

  int size() const { return size_.load(std::memory_order_acquire); }

  // Starts threads - 1 workers, or as many as the system allows (a process, thread or memory
  // limit refusing one), and returns the pool's size.
  int resize(int threads) {
    std::lock_guard<std::mutex> job_lock(job_mutex_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true);
      job_.fetch_add(kSequenceStep, std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    stop_.store(false);
    const uint64_t start = job_.load();  // jobs after this one are the workers'
    int size = 1;
    size_.store(size, std::memory_order_release);
    try {
      workers_.reserve(static_cast<size_t>(threads - 1));
      for (; size < threads; ++size) {
        workers_.emplace_back([this, k = size, start] { work(k, start); });
      }
    } catch (const std::exception&) {
      // The system refused a thread (std::system_error) or its memory (std::bad_alloc): run with
      // the workers started; chunk k goes to worker k, so they are a whole pool.
    }
    size_.store(size, std::memory_order_release);
    return size;
  }

  // Returns false (and runs nothing) when another caller holds the pool, or with all_chunks when
  // the pool has fewer threads than `chunks` (else the chunks are cut to the pool's threads).
  bool try_run(int64_t total, int64_t chunks, const std::function<void(int64_t, int64_t)>& fn,
               bool all_chunks = false) {
    std::unique_lock<std::mutex> job_lock(job_mutex_, std::try_to_lock);
    if (!job_lock.owns_lock()) return false;
    if (all_chunks && chunks > size()) return false;
    chunks = std::min<int64_t>(chunks, size());
    fn_ = &fn;
    total_ = total;
    caller_cpu_.store(current_cpu(), std::memory_order_relaxed);
    pending_.store(chunks - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const uint64_t sequence =
          (job_.load(std::memory_order_relaxed) & ~kChunksMask) + kSequenceStep;
      job_.store(sequence | static_cast<uint64_t>(chunks), std::memory_order_release);
      // Spinning workers see the new job word by themselves; only sleepers need a wake-up.
      if (sleepers_ > 0) wake_.notify_all();
    }
    // A chunk that throws on the caller still waits for the workers (they use fn) before the
    // exception leaves.
    std::exception_ptr error;
    try {
      run_chunk(0, chunks);
    } catch (...) {
      error = std::current_exception();
    }
    // The caller spins, then yields, and sleeps only when a worker is very late (a millisecond
    // or more): a thread woken from a sleep is sometimes placed on the CPU of the thread that
    // woke it, and a caller placed on a worker's CPU would share it with that worker's spin for
    // the next jobs.
    for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
      if (spins < kSpin) {
        cpu_relax();
      } else if (spins < kSpin + kYields) {
        std::this_thread::yield();
      } else {
        std::unique_lock<std::mutex> lock(mutex_);
        caller_sleeping_ = true;
        done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
        caller_sleeping_ = false;
        break;
      }
    }
    fn_ = nullptr;
    if (error) std::rethrow_exception(error);
    return true;
  }

 private:
  void run_chunk(int64_t k, int64_t chunks) {
    const int64_t begin = total_ * k / chunks;
    const int64_t end = total_ * (k + 1) / chunks;
    if (begin < end) (*fn_)(begin, end);
  }

  void work(int k, uint64_t seen) {
    for (;;) {
      for (int spins = 0; spins < kSpin && job_.load(std::memory_order_acquire) == seen; ++spins) {
        cpu_relax();
      }
      bool slept = false;
      if (job_.load(std::memory_order_acquire) == seen) {
        slept = true;
        std::unique_lock<std::mutex> lock(mutex_);
        ++sleepers_;
        wake_.wait(lock, [&] { return job_.load(std::memory_order_acquire) != seen; });
        --sleepers_;
      }
      seen = job_.load(std::memory_order_acquire);
      if (stop_.load()) return;
      // A worker without a chunk neither touches the job nor is waited for: by the time it gets
      // here the caller may have posted the next job, so it takes the chunk count from the word
      // it read, never from a field the next job may be rewriting.
      const int64_t chunks = static_cast<int64_t>(seen & kChunksMask);
      if (k >= chunks) continue;
      // Woken from a sleep, a worker is sometimes placed on the very CPU its caller runs on while
      // another idles (seen on a 2-core VM after some 30 ms without jobs): the two then share one
      // core for milliseconds, and a layer runs at one thread's speed or slower. It moves off.
      const int caller_cpu = caller_cpu_.load(std::memory_order_relaxed);
      if (slept && caller_cpu >= 0 && current_cpu() == caller_cpu) leave_cpu(caller_cpu);
      run_chunk(k, chunks);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (caller_sleeping_) done_.notify_one();
      }
    }
  }

  std::mutex job_mutex_;  // one job at a time
  std::mutex mutex_;      // guards the sleeps on wake_ and done_
  std::condition_variable wake_, done_;
  bool caller_sleeping_ = false;  // the caller waits on done_ (guarded by mutex_)
  std::vector<std::thread> workers_;
  std::atomic<int> size_{1};  // workers + the caller, readable without job_mutex_
  // The job: written by the caller before job_ is published, read by the workers that have a
  // chunk of it (the caller waits for all of them, so these stay put while they read them).
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t total_ = 0;
  std::atomic<int> caller_cpu_{-1};  // the CPU the caller posted the job from (-1: unknown)
  std::atomic<int64_t> pending_{0};
  // The job's word: a sequence number (bumped for each job and each resize) above its chunk
  // count, published together so a worker never pairs one job's number with another's count.
  static constexpr uint64_t kChunksMask = (uint64_t{1} << 20) - 1;  // chunks <= threads
  static constexpr uint64_t kSequenceStep = kChunksMask + 1;
  std::atomic<uint64_t> job_{0};
  std::atomic<bool> stop_{false};
  int sleepers_ = 0;  // workers waiting on wake_ (guarded by mutex_)
};

// An OpenMP runtime's entry points (GNU libgomp's ABI), found in a library already loaded.
struct OmpRuntime {
  void (*parallel)(void (*body)(void*), void* data, unsigned threads, unsigned flags);
  int (*thread_num)();
  int (*num_threads)();
  int (*max_threads)();  // the calling thread's team size (torch.set_num_threads sets it)
  std::string path;
};
// The runtime that runs the parallel calls, or null for the pool. Never freed: a call on another
// thread may still be using the one replaced.
std::atomic<const OmpRuntime*> g_omp{nullptr};

// One parallel call on an OpenMP team: thread k of the team runs chunks k, k + team, ...
struct OmpJob {
  const OmpRuntime* runtime;
  const std::function<void(int64_t, int64_t)>* fn;
  int64_t total, chunks;
  bool all_chunks;
  int caller_cpu;  // the CPU of the thread that started the call (-1: unknown)
  std::atomic<bool> short_team{false};
  std::mutex error_mutex;
  std::exception_ptr error;
};

void omp_body(void* data) {
  auto& job = *static_cast<OmpJob*>(data);
  const int64_t team = job.runtime->num_threads(), k0 = job.runtime->thread_num();
  // A team smaller than asked (a call from inside another parallel region, or a thread limit)
  // cannot run a parallel_region, whose threads wait for each other: none of it runs here.
  if (job.all_chunks && team < job.chunks) {
    if (k0 == 0) job.short_team.store(true);
    return;
  }
  // A team thread woken from its sleep may land on its caller's CPU (as the pool's workers may,
  // Pool::work): both would then share one core, a barrier at a time. It moves off.
  if (k0 != 0 && job.caller_cpu >= 0 && current_cpu() == job.caller_cpu) leave_cpu(job.caller_cpu);
  for (int64_t k = k0; k < job.chunks; k += team) {
    const int64_t begin = job.total * k / job.chunks, end = job.total * (k + 1) / job.chunks;
    try {
      if (begin < end) (*job.fn)(begin, end);
    } catch (...) {  // an exception must not leave the runtime's threads
      std::lock_guard<std::mutex> lock(job.error_mutex);
      if (!job.error) job.error = std::current_exception();
    }
  }
}

std::atomic<int> g_threads{0};  // 0 = not set yet: the pool's default
std::atomic<Pool*> g_pool{nullptr};
std::mutex g_set_threads;  // set_num_threads: the pool's size and g_threads change together

#if defined(__unix__) || defined(__APPLE__)
// A child forked from a process whose pool had started has only the forking thread: the pool's
// workers (and whatever locks they or another caller held) stayed behind in the parent. The
// child leaves that pool untouched and makes its own at its first parallel call. Registered as
// the library loads, so a fork at any moment finds it in place.
// Nor does it use the OpenMP runtime: GNU libgomp's threads stayed behind too, and its next
// parallel call in the child would wait for them forever.
void forget_pool_in_child() {
  g_pool.store(nullptr, std::memory_order_relaxed);
  g_omp.store(nullptr, std::memory_order_relaxed);
}
[[maybe_unused]] const int g_fork_handler = pthread_atfork(nullptr, nullptr, forget_pool_in_child);
#endif

constexpr int kMaxThreads = 4096;  // far below the pool's 20-bit chunk count

// The CPUs this process may run on (its affinity mask, which taskset, a container's cpuset or a
// job scheduler narrow; torch counts physical cores instead), else the machine's.
int usable_cpus() {
#if defined(__linux__)
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) > 0) {
    return CPU_COUNT(&allowed);
  }
#endif
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// The thread count an environment variable holds (digits, then the end or, where `list`, a
// comma), or 0 when it is unset or holds anything else or a count outside 1..kMaxThreads.
int threads_variable(const char* name, bool list) {
  const char* value = std::getenv(name);
  if (value == nullptr) return 0;
  int n = 0;
  const char* c = value;
  for (; *c >= '0' && *c <= '9' && n <= kMaxThreads; ++c) n = 10 * n + (*c - '0');
  const bool whole = c != value && (*c == '\0' || (list && *c == ','));
  return whole && n >= 1 && n <= kMaxThreads ? n : 0;
}

// The default thread count: FASTRNN_NUM_THREADS, else OMP_NUM_THREADS (its first value: torch,
// oneDNN and the BLAS libraries follow it, and torchrun sets it to 1 when a node runs several
// processes), else usable_cpus().
int default_threads() {
  if (const int n = threads_variable("FASTRNN_NUM_THREADS", false)) return n;
  if (const int n = threads_variable("OMP_NUM_THREADS", true)) return n;
  return usable_cpus();
}

Pool& pool() {
  Pool* p = g_pool.load(std::memory_order_acquire);
  if (p != nullptr) return *p;
  blas_set_num_threads(1);  // all parallelism is ours (see parallel_gemm)
  // Never destroyed: workers must not be joined during static teardown (or in a forked child).
  auto* made = new Pool();
  const int set = g_threads.load();
  // Fewer threads than asked (the system refused some) is a smaller pool, not an error here.
  made->resize(set > 0 ? set : default_threads());
  if (!g_pool.compare_exchange_strong(p, made, std::memory_order_acq_rel)) {
    delete made;  // another thread made the pool first (joins this one's workers)
    return *p;
  }
  return *made;
}

// Set on a thread while it runs run_jobs' jobs: their parallel calls run on it alone (on the
// pool the job lock already refuses them, but a team thread of an OpenMP runtime would start a
// nested team of its own).
thread_local bool t_in_job = false;

// Runs fn over [0, total) in `chunks` chunks (at most get_num_threads()) on the OpenMP runtime
// when one is set and its team for this thread has get_num_threads() threads, else on the pool;
// returns false (and runs nothing) as Pool::try_run does, and inside run_jobs' jobs. Only a team
// of the size the runtime's own parallel regions use on this thread: another size would make
// libgomp start or end threads at every switch between torch's calls and fastrnn's, and it cannot
// report a thread it fails to start (it exits the process), where the pool raises.
bool run_chunks(int64_t total, int64_t chunks, const std::function<void(int64_t, int64_t)>& fn,
                bool all_chunks) {
  if (t_in_job) return false;
  const OmpRuntime* runtime = g_omp.load(std::memory_order_acquire);
  const int team = get_num_threads();
  if (runtime == nullptr || runtime->max_threads() != team) {
    return pool().try_run(total, chunks, fn, all_chunks);
  }
  OmpJob job{runtime, &fn, total, chunks, all_chunks, current_cpu()};
  runtime->parallel(omp_body, &job, static_cast<unsigned>(team), 0);
  if (job.error) std::rethrow_exception(job.error);
  return !job.short_team.load();
}

}  // namespace

float* thread_buffer(int64_t floats) {
  thread_local std::vector<float> buffer;
  if (static_cast<int64_t>(buffer.size()) < floats + 16) buffer.resize(floats + 16);
  const uintptr_t at = reinterpret_cast<uintptr_t>(buffer.data());
  return buffer.data() + ((64 - at % 64) % 64) / sizeof(float);  // 64-byte aligned
}

void parallel_for(int64_t total, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (total <= 0) return;
  const int threads = get_num_threads();
  const int64_t chunks = std::min<int64_t>(threads, total / std::max<int64_t>(grain, 1));
  if (chunks <= 1 || !run_chunks(total, chunks, fn, false)) fn(0, total);
}

void parallel_region(int threads, const std::function<void(int, int)>& fn) {
  // All `threads` threads or the caller alone: callers size their barriers and splits by the
  // count they planned with, and a set_num_threads on another thread may have shrunk the pool
  // since (fewer threads would leave work undone or a barrier waiting).
  auto chunk = [&](int64_t begin, int64_t) { fn(static_cast<int>(begin), threads); };
  if (threads <= 1 || !run_chunks(threads, threads, chunk, /*all_chunks=*/true)) fn(0, 1);
}

void run_jobs(int64_t count, const std::function<void(int64_t)>& job) {
  if (count <= 0) return;
  const int threads = static_cast<int>(std::min<int64_t>(get_num_threads(), count));
  std::atomic<int64_t> next{0};
  parallel_region(threads, [&](int, int) {
    struct InJob {  // restores the flag however the jobs end
      const bool outer = t_in_job;
      InJob() { t_in_job = true; }
      ~InJob() { t_in_job = outer; }
    } in_job;
    for (int64_t j = next.fetch_add(1, std::memory_order_relaxed); j < count;
         j = next.fetch_add(1, std::memory_order_relaxed)) {
      job(j);
    }
  });
}

void SpinBarrier::wait() {
  const int generation = generation_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) == threads_ - 1) {
    arrived_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    return;
  }
  for (int spins = 0; generation_.load(std::memory_order_acquire) == generation; ++spins) {
    if (spins < kSpin) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

template <class T>
void parallel_gemm(bool trans_a, bool trans_b, int64_t M, int64_t Nc, int64_t K, T alpha,
                   const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  // The GEMM is cut into pieces by its shape alone, never by the thread count, and each piece is
  // one BLAS call, also with one thread: a BLAS may choose its kernel by a call's shape
  // (OpenBLAS's Haswell SGEMM sums in an order that depends on it), so pieces that followed the
  // thread count would make the results follow it too. The pieces split the longer of M and Nc,
  // so each piece's repacking of the other operand stays small against its arithmetic.
  constexpr int64_t kMaxPieces = 64;
  constexpr int64_t kMinPieceSide = 32;
  const bool by_rows = M >= Nc;
  const int64_t side = by_rows ? M : Nc;
  const int64_t pieces = std::max<int64_t>(
      1, std::min({2 * M * Nc * K / kPieceFlops, side / kMinPieceSide, kMaxPieces}));
  parallel_for(pieces, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t s0 = side * p / pieces, s1 = side * (p + 1) / pieces;
      if (by_rows) {
        const T* a = trans_a ? A + s0 : A + s0 * lda;
        gemm<T>(trans_a, trans_b, s1 - s0, Nc, K, alpha, a, lda, B, ldb, beta, C + s0 * ldc, ldc);
      } else {
        const T* b = trans_b ? B + s0 * ldb : B + s0;
        gemm<T>(trans_a, trans_b, M, s1 - s0, K, alpha, A, lda, b, ldb, beta, C + s0, ldc);
      }
    }
  });
}
template void parallel_gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*,
                                   int64_t, const float*, int64_t, float, float*, int64_t);
template void parallel_gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                                    int64_t, const double*, int64_t, double, double*, int64_t);

}  // namespace cpu

void set_num_threads(int n) {
  if (n < 1 || n > cpu::kMaxThreads) {
    throw Error("num_threads must be in 1.." + std::to_string(cpu::kMaxThreads) + ", got " +
                std::to_string(n));
  }
  std::lock_guard<std::mutex> lock(cpu::g_set_threads);  // two callers at once: one pool size
  const int started = cpu::pool().resize(n);
  cpu::g_threads = started;
  if (started < n) {
    throw std::runtime_error("set_num_threads(" + std::to_string(n) + "): the system refused to " +
                             "start more than " + std::to_string(started) +
                             " threads; fastrnn runs with " + std::to_string(started));
  }
}

int get_num_threads() {
  const int set = cpu::g_threads.load();
  return set > 0 ? set : cpu::pool().size();
}

int default_num_threads() { return cpu::default_threads(); }

bool use_openmp_runtime(const std::string& path) {
  if (path.empty()) {
    cpu::g_omp.store(nullptr, std::memory_order_release);
    return true;
  }
#if defined(__unix__) || defined(__APPLE__)
  // RTLD_NOLOAD: only a library the process has loaded already (it keeps its reference).
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (lib == nullptr) return false;
  auto* runtime = new cpu::OmpRuntime{
      reinterpret_cast<decltype(cpu::OmpRuntime::parallel)>(dlsym(lib, "GOMP_parallel")),
      reinterpret_cast<int (*)()>(dlsym(lib, "omp_get_thread_num")),
      reinterpret_cast<int (*)()>(dlsym(lib, "omp_get_num_threads")),
      reinterpret_cast<int (*)()>(dlsym(lib, "omp_get_max_threads")), path};
  if (runtime->parallel == nullptr || runtime->thread_num == nullptr ||
      runtime->num_threads == nullptr || runtime->max_threads == nullptr) {
    delete runtime;
    return false;
  }
  cpu::g_omp.store(runtime, std::memory_order_release);
  return true;
#else
  return false;
#endif
}

std::string openmp_runtime() {
  const cpu::OmpRuntime* runtime = cpu::g_omp.load(std::memory_order_acquire);
  return runtime == nullptr ? std::string() : runtime->path;
}

}  // namespace fastrnn
