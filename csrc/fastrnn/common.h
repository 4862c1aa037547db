// common.h — what every part of the C++ core shares: the error type, the shape letters, the
// host/device marker for inline math, and the threading and build-information knobs.
//
// Shape letters used in every comment: T time steps, N batch, I input features, H hidden units,
// P projection size, S recurrent state size (P with projection, else H), G gates per cell
// (RNN 1, GRU 3, LSTM 4), V vocabulary, E embedding size. Arrays are row-major, last axis
// contiguous.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#if defined(__CUDACC__)
#define FASTRNN_HD __host__ __device__ __forceinline__
#else
#define FASTRNN_HD inline
#endif

namespace fastrnn {

// Raised for a request the core cannot honour (bad sizes, sizes that overflow the BLAS's 32-bit
// indices). The bindings turn it into ValueError.
class Error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Worker threads the library uses (its own pool and the BLAS's); 1 runs everything on the caller.
// The default is FASTRNN_NUM_THREADS, else OMP_NUM_THREADS, when set to a count in 1..4096, else
// the CPUs the process may run on (its affinity mask).
// When the system refuses to start them all, the pool keeps those it started and this throws
// std::runtime_error saying how many (get_num_threads then returns that count).
void set_num_threads(int n);
// The default of set_num_threads as the environment and the affinity mask give it now (starts no
// pool): what other parallel parts (word2vec's workers) take as their default.
int default_num_threads();
int get_num_threads();
// Runs the parallel work on the threads of the OpenMP runtime (GNU libgomp's ABI) at `path`, a
// library the process has loaded already (torch's, so that its threads, which spin for
// milliseconds after each of torch's parallel ops, run fastrnn's work rather than compete with
// its own pool for the cores), with get_num_threads() threads; "" returns to the pool. Returns
// false, changing nothing, when no such library is loaded or it lacks those entry points.
bool use_openmp_runtime(const std::string& path);
// The path use_openmp_runtime set, or "" while the pool runs the parallel work.
std::string openmp_runtime();

// Build and machine facts for show_config().
std::string blas_version();  // the loaded OpenBLAS's config string (its version, ISA, threads)
std::string simd_level();  // instruction set of the pointwise kernels in use: avx512, avx2, generic
bool cuda_compiled();      // CUDA sources were compiled into this build
int cuda_device_count();   // CUDA devices visible now (0 without a driver or a device)
std::string
cuda_runtime_info();  // what the CUDA runtime said (version or the reason for no device)

}  // namespace fastrnn
