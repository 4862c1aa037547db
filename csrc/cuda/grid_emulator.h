// grid_emulator.h — the GPU driver's backend on the CPU, for tests without a GPU: kernel bodies
// run serially for every block and thread of a small grid (few blocks of few threads, so the
// grid-stride loops, partial blocks and several blocks are all exercised; blocks and threads in
// descending order, so a body that relied on a lower-numbered thread having run first would show
// it), GEMMs are the cuBLAS backend's column-major calls done by a plain reference loop, and
// memory is host memory.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "cuda/column_major_gemm.h"
#include "cuda/kernel_index.h"
#include "cuda/rnn_kernels.cuh"

namespace fastrnn {
namespace gpu {

struct EmulatorBackend {
  int64_t block_dim = 32;  // threads per block
  int64_t max_blocks = 3;  // grid size cap: larger problems loop (grid-stride)

  template <class Body>
  void launch(const Body& body) const {
    if (body.count <= 0) return;
    const int64_t blocks = std::min(max_blocks, (body.count + block_dim - 1) / block_dim);
    for (int64_t b = blocks - 1; b >= 0; --b) {
      for (int64_t th = block_dim - 1; th >= 0; --th) {
        run_elements(body, KernelIndex{b, th, block_dim, blocks});
      }
    }
  }

  template <class T>
  void gemm(bool trans_a, bool trans_b, int64_t M, int64_t Nc, int64_t K, T alpha, const T* A,
            int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) const {
    reference_column_major_gemm(as_column_major(trans_a, trans_b, M, Nc, K, A, lda, B, ldb, C, ldc),
                                alpha, beta);
  }

  template <class T>
  void zero(T* p, int64_t count) const {
    std::fill(p, p + count, T(0));
  }

  template <class T>
  void copy(T* dst, const T* src, int64_t count) const {
    if (count > 0) std::memcpy(dst, src, sizeof(T) * count);
  }
};

// Runs a block kernel (one that keeps a per-block State and a float scratch in shared memory
// and has barriers between its phases) on the host: block after block, and within a block each
// phase for every thread (descending) before the next phase, as __syncthreads orders them.
// Shared memory starts each block as garbage, as on the device (NaN scratch, a State of 0xFF
// bytes), so a read of shared memory the kernel has not written shows up in its results.
// Body: State, kPhases, scratch_floats(block_dim), positions(block), start/phase/finish.
template <class Body>
void emulate_blocks(const Body& body, int64_t blocks, int64_t block_dim) {
  using State = typename Body::State;
  static_assert(std::is_trivially_copyable<State>::value, "State lives in shared memory");
  std::vector<float> scratch(static_cast<size_t>(body.scratch_floats(block_dim)));
  for (int64_t b = 0; b < blocks; ++b) {
    std::fill(scratch.begin(), scratch.end(), std::numeric_limits<float>::quiet_NaN());
    State state;
    std::memset(static_cast<void*>(&state), 0xFF, sizeof state);
    auto index = [&](int64_t th) { return KernelIndex{b, th, block_dim, blocks}; };
    for (int64_t th = block_dim - 1; th >= 0; --th) body.start(index(th), state);
    const int64_t n = body.positions(b);
    for (int64_t i = 0; i < n; ++i) {
      for (int p = 0; p < Body::kPhases; ++p) {
        for (int64_t th = block_dim - 1; th >= 0; --th) {
          body.phase(p, index(th), state, scratch.data(), i);
        }
      }
    }
    for (int64_t th = block_dim - 1; th >= 0; --th) body.finish(index(th), state);
  }
}

}  // namespace gpu
}  // namespace fastrnn
