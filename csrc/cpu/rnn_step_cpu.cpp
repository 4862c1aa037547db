// rnn_step_cpu.cpp — one inference step of a cell (rnn.h: rnn_step). Each thread owns a range of
// hidden units: it computes the G gate slices of x·W_ihᵀ and h·W_hhᵀ for those units (a
// matrix-vector product per gate when N = 1) and applies the cell to them. Projection and
// GRU reset_after=False go through the layer path with T = 1; float32 on AVX-512 and AVX2 CPUs
// takes the fused step (rnn_step.inc).
#include <algorithm>
#include <limits>
#include <type_traits>

#include "cpu/blas.h"
#include "cpu/rnn_fused.h"
#include "cpu/threading.h"
#include "fastrnn/cells.h"
#include "fastrnn/rnn.h"

namespace fastrnn {
namespace {

// The per-gate split pays at a few rows (matrix-vector products); larger batches are one GEMM.
bool step_path_applies(const RnnDesc& d, int64_t N) {
  return N <= 4 && d.proj_size == 0 && !(d.mode == CellMode::kGru && !d.reset_after);
}

}  // namespace

int64_t rnn_step_workspace_size(const RnnDesc& d, int64_t N) {
  check_problem_size(d, 1, N);
  const int64_t GH = d.gates() * d.hidden_size;
  const int64_t own = 2 * N * GH + std::max<int64_t>(GH, 3 * d.hidden_size);
  const int64_t layer = rnn_forward_workspace_size(d, 1, N, false) + N * d.state_size();
  return std::max(own, layer);
}

template <class T>
void rnn_step(T* h_new, T* c_new, T* workspace, const RnnDesc& d, int64_t N, const T* x, const T* h,
              const T* c, const RnnWeights<T>& w) {
  check_problem_size(d, 1, N);
  if constexpr (std::is_same_v<T, float>) {
    if (cpu::fused_step_applies(d, N)) {
      cpu::fused_step(h_new, c_new, d, N, x, h, c, w);
      return;
    }
  }
  if (!step_path_applies(d, N)) {
    T* y = workspace + rnn_forward_workspace_size(d, 1, N, false);
    rnn_forward<T>(y, h_new, c_new, nullptr, workspace, d, 1, N, x, nullptr, h, c, w, false);
    return;
  }
  const int64_t H = d.hidden_size, I = d.input_size, G = d.gates(), GH = G * H;
  T* gx = workspace;           // [N,G*H] x·W_ihᵀ
  T* gh = workspace + N * GH;  // [N,G*H] h·W_hhᵀ
  T* zeros = workspace + 2 * N * GH;
  std::fill(zeros, zeros + std::max<int64_t>(GH, 3 * H), T(0));
  const T* bi = w.b_ih ? w.b_ih : zeros;
  const T* bh = w.b_hh ? w.b_hh : zeros;
  const T* wch = w.w_ch ? w.w_ch : zeros;
  const T clip = d.cell_clip > 0 ? T(d.cell_clip) : std::numeric_limits<T>::infinity();
  const bool relu = d.mode == CellMode::kRnnRelu;

  constexpr int64_t kBlock = 16;
  const int64_t blocks = (H + kBlock - 1) / kBlock;
  const int64_t flops = 2 * N * GH * (I + H);
  const int threads =
      flops < 200000 ? 1 : static_cast<int>(std::min<int64_t>(get_num_threads(), blocks));
  cpu::parallel_region(threads, [&](int tid, int nthreads) {
    const int64_t j0 = std::min(H, blocks * tid / nthreads * kBlock);
    const int64_t j1 = std::min(H, blocks * (tid + 1) / nthreads * kBlock);
    if (j0 >= j1) return;
    for (int64_t g = 0; g < G; ++g) {
      cpu::gemm<T>(false, true, N, j1 - j0, I, T(1), x, I, w.w_ih + (g * H + j0) * I, I, T(0),
                   gx + g * H + j0, GH);
      if (h != nullptr) {
        cpu::gemm<T>(false, true, N, j1 - j0, H, T(1), h, H, w.w_hh + (g * H + j0) * H, H, T(0),
                     gh + g * H + j0, GH);
      } else {
        for (int64_t n = 0; n < N; ++n)
          std::fill(gh + n * GH + g * H + j0, gh + n * GH + g * H + j1, T(0));
      }
    }
    for (int64_t n = 0; n < N; ++n) {
      const T* a = gx + n * GH;
      const T* b = gh + n * GH;
      T* hn = h_new + n * H;
      if (d.mode == CellMode::kLstm) {
        T* cn = c_new + n * H;
        const T* cp = c ? c + n * H : zeros;
#pragma omp simd
        for (int64_t j = j0; j < j1; ++j) {
          T i, f, gg, o, cc, m;
          cells::lstm_forward(
              a[j] + b[j] + bi[j] + bh[j], a[H + j] + b[H + j] + bi[H + j] + bh[H + j],
              a[2 * H + j] + b[2 * H + j] + bi[2 * H + j] + bh[2 * H + j],
              a[3 * H + j] + b[3 * H + j] + bi[3 * H + j] + bh[3 * H + j], c ? cp[j] : T(0), wch[j],
              wch[H + j], wch[2 * H + j], clip, i, f, gg, o, cc, m);
          cn[j] = cc;
          hn[j] = m;
        }
      } else if (d.mode == CellMode::kGru) {
#pragma omp simd
        for (int64_t j = j0; j < j1; ++j) {
          T r, z, nn, hh;
          cells::gru_forward(a[j] + b[j] + bi[j] + bh[j],
                             a[H + j] + b[H + j] + bi[H + j] + bh[H + j],
                             a[2 * H + j] + bi[2 * H + j], b[2 * H + j] + bh[2 * H + j],
                             h ? h[n * H + j] : T(0), r, z, nn, hh);
          hn[j] = hh;
        }
      } else {
#pragma omp simd
        for (int64_t j = j0; j < j1; ++j)
          hn[j] = cells::rnn_forward(a[j] + b[j] + bi[j] + bh[j], relu);
      }
    }
  });
}

template void rnn_step<float>(float*, float*, float*, const RnnDesc&, int64_t, const float*,
                              const float*, const float*, const RnnWeights<float>&);
template void rnn_step<double>(double*, double*, double*, const RnnDesc&, int64_t, const double*,
                               const double*, const double*, const RnnWeights<double>&);

}  // namespace fastrnn
