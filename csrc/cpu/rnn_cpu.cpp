// rnn_cpu.cpp — the CPU layer driver: one layer, one direction, a whole sequence.
//
// Forward (the generic path; the fused AVX-512 loop, rnn_fused.h, does it all per step): gates =
// x·W_ihᵀ for all T·N rows (one GEMM); then per step the recurrent GEMM h·W_hhᵀ and one fused
// pointwise pass (rnn_pointwise.inc) that adds the biases, applies the cell and, in
// training, overwrites the gate pre-activations with the activations backward needs.
// Backward: per step (in reverse order of forward's) the pointwise backward pass and the recurrent
// GEMM that carries dh to the previous step; after the loop dx, dW_ih, dW_hh (and dW_hr) as one
// GEMM each, and the bias and peephole gradients as column sums. Products too small to share
// between threads (a one-step call's) run side by side instead (run_jobs): the input projection
// with the first step's recurrent GEMM, and the products after the backward loop with the last
// step's recurrent one.
//
// Sequences that ended (t >= lengths[n]) are masked: their rows are skipped by the pointwise pass,
// their state is carried unchanged, their outputs are zero and their gradient rows are zero.
#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "cpu/blas.h"
#include "cpu/cpu_features.h"
#include "cpu/rnn_fused.h"
#include "cpu/rnn_layout.h"
#include "cpu/rnn_pointwise.h"
#include "cpu/threading.h"
#include "fastrnn/rnn.h"

namespace fastrnn {

int64_t RnnDesc::gates() const {
  switch (mode) {
    case CellMode::kLstm:
      return 4;
    case CellMode::kGru:
      return 3;
    default:
      return 1;
  }
}

int64_t RnnDesc::state_size() const { return proj_size > 0 ? proj_size : hidden_size; }

void RnnDesc::validate() const {
  if (input_size <= 0)
    throw Error("input_size must be positive, got " + std::to_string(input_size));
  if (hidden_size <= 0) {
    throw Error("hidden_size must be positive, got " + std::to_string(hidden_size));
  }
  if (proj_size < 0) throw Error("proj_size must be >= 0, got " + std::to_string(proj_size));
  if (proj_size > 0 && mode != CellMode::kLstm) throw Error("proj_size is only for LSTM");
  if (proj_size >= hidden_size && proj_size > 0) {
    throw Error("proj_size must be smaller than hidden_size, got proj_size=" +
                std::to_string(proj_size) + " hidden_size=" + std::to_string(hidden_size));
  }
  if (peephole && mode != CellMode::kLstm) throw Error("peephole is only for LSTM");
  if (cell_clip > 0 && mode != CellMode::kLstm) throw Error("cell_clip is only for LSTM");
  if (input_size > kMaxBlasExtent) {
    throw Error("input_size = " + std::to_string(input_size) +
                " is too large: it must fit the BLAS's 32-bit indices (<= 2147483647)");
  }
  if (hidden_size > kMaxBlasExtent / gates()) {
    throw Error("hidden_size = " + std::to_string(hidden_size) +
                " is too large: " + std::to_string(gates()) +
                " * hidden_size must fit the BLAS's 32-bit indices (<= 2147483647)");
  }
}

void check_problem_size(const RnnDesc& desc, int64_t T, int64_t N) {
  desc.validate();
  if (T < 1 || N < 1) {
    throw Error("T and N must be positive, got T=" + std::to_string(T) + " N=" + std::to_string(N));
  }
  if (T > kMaxBlasExtent / N) {
    throw Error("T*N = " + std::to_string(T) + "*" + std::to_string(N) +
                " rows is too large: it must fit the BLAS's 32-bit indices (<= 2147483647)");
  }
  // T*N <= 2^31, every width <= 2^31 and I + S < 2^32, so these products cannot overflow int64.
  const int64_t GH = desc.gates() * desc.hidden_size;
  const int64_t widest = std::max({GH, 3 * desc.hidden_size, desc.input_size});
  if (T * N * widest > kMaxElements || GH * (desc.input_size + desc.state_size()) > kMaxElements) {
    throw Error("T=" + std::to_string(T) + " N=" + std::to_string(N) +
                " with input_size=" + std::to_string(desc.input_size) + " hidden_size=" +
                std::to_string(desc.hidden_size) + " needs arrays beyond 2^58 elements");
  }
}

namespace cpu {

template <class T>
const PointwiseKernels<T>& pointwise_kernels() {
  static const PointwiseKernels<T>& table = []() -> const PointwiseKernels<T>& {
    switch (detected_isa()) {
#if FASTRNN_X86_KERNELS
      case Isa::kAvx512:
        return avx512::kernels<T>();
      case Isa::kAvx2:
        return avx2::kernels<T>();
#endif
      default:
        return generic::kernels<T>();
    }
  }();
  return table;
}

namespace {

// Rows whose sequence has a step t; returns null when every row does (no masking needed).
const uint8_t* step_mask(uint8_t* mask, const int64_t* lengths, int64_t t, int64_t N) {
  if (lengths == nullptr) return nullptr;
  bool all = true;
  for (int64_t n = 0; n < N; ++n) {
    mask[n] = t < lengths[n];
    all = all && mask[n];
  }
  return all ? nullptr : mask;
}

// Copies the valid rows of src [N,W] to dst; invalid rows get zero when zero_invalid.
template <class T>
void copy_rows(T* dst, const T* src, int64_t N, int64_t W, const uint8_t* valid,
               bool zero_invalid) {
  if (valid == nullptr) {
    std::memcpy(dst, src, sizeof(T) * N * W);
    return;
  }
  for (int64_t n = 0; n < N; ++n) {
    if (valid[n]) {
      std::memcpy(dst + n * W, src + n * W, sizeof(T) * W);
    } else if (zero_invalid) {
      std::fill(dst + n * W, dst + (n + 1) * W, T(0));
    }
  }
}

template <class T>
void zero_invalid_rows(T* a, int64_t N, int64_t W, const uint8_t* valid) {
  if (valid == nullptr) return;
  for (int64_t n = 0; n < N; ++n) {
    if (!valid[n]) std::fill(a + n * W, a + (n + 1) * W, T(0));
  }
}

// Runs a pointwise kernel over the batch rows, in parallel when the step is large enough to pay.
template <class Args>
void run_rows(void (*kernel)(const Args&, int64_t, int64_t), const Args& args, int64_t N,
              int64_t width) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(width, 1));
  parallel_for(N, grain, [&](int64_t n0, int64_t n1) { kernel(args, n0, n1); });
}

// acc[j] += sum over rows r of a[r*lda + j], j < W.
template <class T>
void add_column_sums(T* acc, const T* a, int64_t rows, int64_t W, int64_t lda) {
  parallel_for(W, 256, [&](int64_t j0, int64_t j1) {
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = a + r * lda;
      for (int64_t j = j0; j < j1; ++j) acc[j] += row[j];
    }
  });
}

// acc[j] += sum over rows r of a[r*lda + j] * b[r*ldb + j], j < W.
template <class T>
void add_column_dots(T* acc, const T* a, int64_t lda, const T* b, int64_t ldb, int64_t rows,
                     int64_t W) {
  parallel_for(W, 256, [&](int64_t j0, int64_t j1) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = j0; j < j1; ++j) acc[j] += a[r * lda + j] * b[r * ldb + j];
    }
  });
}

// C[M, Nc] += Aᵀ·B with A: [K, M] and B: [K, Nc] (strides lda, ldb, ldc): the weight gradients;
// with overwrite C = Aᵀ·B, C's contents ignored.
// Float32 on AVX-512 and AVX2 takes the packed tile GEMM (rnn_weight_grad.inc): its result does
// not depend on the thread count (OpenBLAS's does, where its edge kernels sum in another order),
// and it was measured within 5 % of OpenBLAS's AVX-512 SGEMM and faster than its AVX2 kernels
// (which OpenBLAS runs on an AVX-512 machine when OPENBLAS_CORETYPE says so): bench/BENCHMARKS.md.
template <class T>
void add_weight_grad(T* C, int64_t ldc, const T* A, int64_t lda, const T* B, int64_t ldb, int64_t M,
                     int64_t Nc, int64_t K, bool overwrite) {
  if (K == 0) {  // an empty sum, whatever a BLAS does with beta then
    for (int64_t r = 0; overwrite && r < M; ++r) std::fill(C + r * ldc, C + r * ldc + Nc, T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (fused_kernels_available()) {
      weight_grad_gemm(C, ldc, A, lda, B, ldb, M, Nc, K, overwrite);
      return;
    }
  }
  parallel_gemm<T>(true, false, M, Nc, K, T(1), A, lda, B, ldb, T(overwrite ? 0 : 1), C, ldc);
}

// The gate columns of the step's recurrent product, h·W_hhᵀ forward and dG·W_hh backward: all
// G·H, but for the GRU without reset_after only r's and z's (its n part multiplies r ⊙ h apart).
int64_t recurrent_columns(const RnnDesc& desc) {
  return desc.mode == CellMode::kGru && !desc.reset_after ? 2 * desc.hidden_size
                                                          : desc.gates() * desc.hidden_size;
}

}  // namespace
}  // namespace cpu

int64_t rnn_reserve_size(const RnnDesc& desc, int64_t T, int64_t N) {
  check_problem_size(desc, T, N);
  return cpu::ReserveLayout(desc, T, N).total;
}

int64_t rnn_forward_workspace_size(const RnnDesc& desc, int64_t T, int64_t N, bool training) {
  check_problem_size(desc, T, N);
  return cpu::ForwardLayout(desc, T, N, training).total;
}

int64_t rnn_backward_workspace_size(const RnnDesc& desc, int64_t T, int64_t N, bool with_lengths) {
  check_problem_size(desc, T, N);
  return cpu::BackwardLayout(desc, T, N, with_lengths).total;
}

std::string rnn_cpu_loop_split(const RnnDesc& desc, int64_t batch, bool training) {
  check_problem_size(desc, 1, batch);
  return cpu::fused_loop_applies(desc) ? cpu::fused_loop_split(desc, batch, training) : "not fused";
}

int64_t rnn_cpu_l2_cache_bytes() { return cpu::l2_cache_bytes(); }

int64_t rnn_cpu_fused_step_rows() { return cpu::fused_single_step_rows(); }

template <class T>
void rnn_forward(T* y, T* h_n, T* c_n, T* reserve, T* workspace, const RnnDesc& desc, int64_t steps,
                 int64_t batch, const T* x, const int64_t* lengths, const T* h0, const T* c0,
                 const RnnWeights<T>& w, bool reverse) {
  using namespace cpu;
  check_problem_size(desc, steps, batch);
  const bool training = reserve != nullptr;
  if constexpr (std::is_same_v<T, float>) {
    // One step at a few rows (a layer called a step at a time, as in generation, or a cell's
    // training step): the step kernel, which reads the weights as they are (rnn_step.inc), in
    // training writing the reserve too. Lengths, if given, are all 1 here, so they change
    // nothing.
    if (steps == 1 && fused_step_applies(desc, batch)) {
      float* c_new = c_n ? c_n : workspace + ForwardLayout(desc, 1, batch, training).c;
      if (training) {
        fused_training_step(h_n, c_new, reserve, desc, batch, x, h0, c0, w);
      } else {
        fused_step(h_n, c_new, desc, batch, x, h0, c0, w);
      }
      std::memcpy(y, h_n, sizeof(T) * batch * desc.state_size());
      return;
    }
  }
  const int64_t N = batch, H = desc.hidden_size, S = desc.state_size(), I = desc.input_size;
  const int64_t P = desc.proj_size, G = desc.gates(), GH = G * H;
  const bool lstm = desc.mode == CellMode::kLstm, gru = desc.mode == CellMode::kGru;
  const bool relu = desc.mode == CellMode::kRnnRelu;
  const ReserveLayout rl(desc, steps, N);
  const ForwardLayout fl(desc, steps, N, training);
  const PointwiseKernels<T>& k = pointwise_kernels<T>();

  T* zeros = workspace + fl.zeros;
  std::fill(zeros, zeros + std::max<int64_t>(GH, 3 * H), T(0));
  const T* b_ih = w.b_ih ? w.b_ih : zeros;
  const T* b_hh = w.b_hh ? w.b_hh : zeros;
  const T* w_ch = w.w_ch ? w.w_ch : zeros;
  const T clip = desc.cell_clip > 0 ? T(desc.cell_clip) : std::numeric_limits<T>::infinity();
  uint8_t* mask = reinterpret_cast<uint8_t*>(workspace + fl.valid);

  T* gates = training ? reserve + rl.gates : workspace + fl.xp;
  T* hg = workspace + fl.hg;
  T* h = workspace + fl.h;
  T* c = workspace + fl.c;
  T* hproj = workspace + fl.hproj;
  if (h0)
    std::memcpy(h, h0, sizeof(T) * N * S);
  else
    std::fill(h, h + N * S, T(0));
  if (lstm) {
    if (c0)
      std::memcpy(c, c0, sizeof(T) * N * H);
    else
      std::fill(c, c + N * H, T(0));
  }
  std::fill(workspace + fl.m, workspace + fl.m + N * H, T(0));
  std::fill(workspace + fl.rh, workspace + fl.rh + N * H, T(0));

  if constexpr (std::is_same_v<T, float>) {
    // One step does not repay packing the weights (the step cells' case), but in inference from
    // fused_single_step_rows() rows on it does: 33 on AVX-512 (the step kernel above takes up to
    // 32), 128 on AVX2, where the BLAS products below (their small ones side by side) were
    // faster up to 64 rows (simd_avx512.h, simd_avx2.h; bench/step_paths.py, BENCHMARKS.md "A
    // single inference step"). A training step past the step kernel's rows keeps the BLAS path
    // below, which its backward reads (there packing repays at some sizes, not others).
    if (fused_loop_applies(desc) && (steps > 1 || (!training && N >= fused_single_step_rows()))) {
      fused_forward_loop(y, h, c, reserve, workspace, desc, steps, N, x, lengths, w.w_ih, w.w_hh,
                         b_ih, b_hh, w_ch, clip, reverse);
      std::memcpy(h_n, h, sizeof(T) * N * S);
      if (lstm && c_n) std::memcpy(c_n, c, sizeof(T) * N * H);
      return;
    }
  }

  // The input projection of every step at once; then per step the recurrent product into hg and
  // the cell. The first step's recurrent product reads the initial state alone: where it and the
  // input projection each run on one thread (a one-step call's products), the two run at once.
  const int64_t hg_cols = recurrent_columns(desc);
  auto input_product = [&] {
    parallel_gemm<T>(false, true, steps * N, GH, I, T(1), x, I, w.w_ih, I, T(0), gates, GH);
  };
  auto recurrent_product = [&](const T* h_src) {
    parallel_gemm<T>(false, true, N, hg_cols, S, T(1), h_src, S, w.w_hh, S, T(0), hg, hg_cols);
  };
  const bool first_ahead =
      runs_on_one_thread(2 * steps * N * GH * I) && runs_on_one_thread(2 * N * hg_cols * S);
  if (first_ahead) {
    run_jobs(2, [&](int64_t j) { j == 0 ? input_product() : recurrent_product(h); });
  } else {
    input_product();
  }
  const bool keeps_h_prev = ReserveLayout::keeps_h_prev(desc);
  if (training && !keeps_h_prev) std::memcpy(reserve + rl.h0, h, sizeof(T) * N * S);
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t t = reverse ? steps - 1 - s : s;
    const uint8_t* valid = step_mask(mask, lengths, t, N);
    T* g_t = gates + t * N * GH;
    const T* h_src = h;
    const T* c_src = c;
    if (training && keeps_h_prev) {
      T* hp = reserve + rl.h_prev + t * N * S;
      std::memcpy(hp, h, sizeof(T) * N * S);
      h_src = hp;
      if (lstm) {
        T* cp = reserve + rl.c_prev + t * N * H;
        std::memcpy(cp, c, sizeof(T) * N * H);
        c_src = cp;
      }
    }
    if (s > 0 || !first_ahead) recurrent_product(h_src);
    if (lstm) {
      T* m = P > 0 ? (training ? reserve + rl.m + t * N * H : workspace + fl.m) : h;
      LstmStepForward<T> a{H,    g_t,  hg,    b_ih, b_hh,
                           w_ch, clip, c_src, c,    training ? reserve + rl.c + t * N * H : nullptr,
                           m,    valid};
      run_rows(k.lstm_forward, a, N, GH);
      if (training) zero_invalid_rows(reserve + rl.c + t * N * H, N, H, valid);
      if (P > 0) {
        zero_invalid_rows(m, N, H, valid);
        parallel_gemm<T>(false, true, N, P, H, T(1), m, H, w.w_hr, H, T(0), hproj, P);
        copy_rows(h, hproj, N, P, valid, false);
      }
    } else if (gru && desc.reset_after) {
      GruStepForward<T> a{H,    g_t,   hg, b_ih,
                          b_hh, h_src, h,  training ? reserve + rl.extra + t * N * H : nullptr,
                          valid};
      run_rows(k.gru_forward, a, N, GH);
    } else if (gru) {
      T* rh = training ? reserve + rl.extra + t * N * H : workspace + fl.rh;
      GruResetBeforeGatesForward<T> a1{H, g_t, hg, b_ih, b_hh, h_src, rh, valid};
      run_rows(k.gru_rb_gates_forward, a1, N, GH);
      zero_invalid_rows(rh, N, H, valid);
      parallel_gemm<T>(false, true, N, H, H, T(1), rh, H, w.w_hh + 2 * H * S, S, T(0), hg, H);
      GruResetBeforeOutputForward<T> a2{H, g_t, hg, b_ih, b_hh, h_src, h, valid};
      run_rows(k.gru_rb_output_forward, a2, N, GH);
    } else {
      RnnStepForward<T> a{H, relu, g_t, hg, b_ih, b_hh, h, valid};
      run_rows(k.rnn_forward, a, N, GH);
    }
    copy_rows(y + t * N * S, h, N, S, valid, true);
  }
  std::memcpy(h_n, h, sizeof(T) * N * S);
  if (lstm && c_n) std::memcpy(c_n, c, sizeof(T) * N * H);
}

template <class T>
void rnn_backward(T* dx, T* dh0, T* dc0, const RnnWeightGrads<T>& dw, T* workspace,
                  const RnnDesc& desc, int64_t steps, int64_t batch, const T* dy, const T* dh_n,
                  const T* dc_n, const T* x, const int64_t* lengths, const RnnWeights<T>& w,
                  const T* reserve, bool reverse, bool write_grads) {
  using namespace cpu;
  check_problem_size(desc, steps, batch);
  const int64_t N = batch, H = desc.hidden_size, S = desc.state_size(), I = desc.input_size;
  const int64_t P = desc.proj_size, G = desc.gates(), GH = G * H, TN = steps * N;
  const bool lstm = desc.mode == CellMode::kLstm, gru = desc.mode == CellMode::kGru;
  const bool relu = desc.mode == CellMode::kRnnRelu;
  const ReserveLayout rl(desc, steps, N);
  const BackwardLayout bl(desc, steps, N, lengths != nullptr);
  const PointwiseKernels<T>& k = pointwise_kernels<T>();

  T* zeros = workspace + bl.zeros;
  std::fill(zeros, zeros + std::max<int64_t>(GH, 3 * H), T(0));
  const T* w_ch = w.w_ch ? w.w_ch : zeros;
  const T clip = desc.cell_clip > 0 ? T(desc.cell_clip) : std::numeric_limits<T>::infinity();
  uint8_t* mask = reinterpret_cast<uint8_t*>(workspace + bl.valid);

  const T* gates = reserve + rl.gates;
  const T* h_prev_all = reserve + rl.h_prev;
  T* dg = workspace + bl.dg;
  T* dgh = (gru && desc.reset_after) ? workspace + bl.dgh : dg;
  T* dh = workspace + bl.dh;
  T* dc = workspace + bl.dc;
  T* dprev = workspace + bl.dprev;
  T* dm = workspace + bl.dm;
  T* drh = workspace + bl.drh;
  if (dh_n)
    std::memcpy(dh, dh_n, sizeof(T) * N * S);
  else
    std::fill(dh, dh + N * S, T(0));
  if (lstm) {
    if (dc_n)
      std::memcpy(dc, dc_n, sizeof(T) * N * H);
    else
      std::fill(dc, dc + N * H, T(0));
  }
  std::fill(dprev, dprev + N * S, T(0));

  bool fused = false;
  if constexpr (std::is_same_v<T, float>) {
    if (fused_loop_applies(desc) && steps > 1) {
      fused_backward_loop(dx, dg, dgh, workspace + bl.bias_sum, dh, dc, workspace, desc, steps, N,
                          dy, lengths, w.w_ih, w.w_hh, w_ch, clip, reserve, reverse);
      fused = true;
    }
  }
  // dh_prev = dG_t·W_hh over dG's first dprev_k columns (the GRUs add it to the direct part the
  // cell has written; the GRU with reset_after reads dgh, its n gate's columns times r).
  const int64_t dprev_k = recurrent_columns(desc);
  auto dprev_product = [&](int64_t t) {
    const T* a = dgh + t * N * GH;
    parallel_gemm<T>(false, false, N, S, dprev_k, T(1), a, GH, w.w_hh, S, gru ? T(1) : T(0), dprev,
                     S);
  };
  // The products after the loop read only the finished dG and write apart; where each runs on one
  // thread anyway (a one-step call's), they run at once (run_jobs), and the last step's dh_prev
  // product joins them.
  const bool together = runs_on_one_thread(2 * TN * GH * std::max(I, S)) &&
                        runs_on_one_thread(2 * TN * std::max<int64_t>(P, 1) * H);
  const bool last_dprev_after = together && !fused;
  for (int64_t s = steps - 1; s >= 0 && !fused; --s) {
    const int64_t t = reverse ? steps - 1 - s : s;
    const uint8_t* valid = step_mask(mask, lengths, t, N);
    const T* g_t = gates + t * N * GH;
    const T* hp_t = h_prev_all + t * N * S;
    const T* dy_t = dy + t * N * S;
    T* dg_t = dg + t * N * GH;
    zero_invalid_rows(dg_t, N, GH, valid);
    if (lstm) {
      LstmStepBackward<T> a{H,
                            g_t,
                            reserve + rl.c + t * N * H,
                            reserve + rl.c_prev + t * N * H,
                            w_ch,
                            clip,
                            dh,
                            dy_t,
                            dc,
                            dg_t,
                            valid};
      if (P > 0) {
        T* dh_t = workspace + bl.dh_all + t * N * P;
        for (int64_t i = 0; i < N * P; ++i) dh_t[i] = dh[i] + dy_t[i];
        zero_invalid_rows(dh_t, N, P, valid);
        parallel_gemm<T>(false, false, N, H, P, T(1), dh_t, P, w.w_hr, H, T(0), dm, H);
        a.dm = dm;
        a.dy = nullptr;
      }
      run_rows(k.lstm_backward, a, N, GH);
    } else if (gru && desc.reset_after) {
      T* dgh_t = dgh + t * N * GH;
      zero_invalid_rows(dgh_t, N, GH, valid);
      GruStepBackward<T> a{H,     g_t,  reserve + rl.extra + t * N * H, hp_t, dh, dy_t, dg_t, dgh_t,
                           dprev, valid};
      run_rows(k.gru_backward, a, N, GH);
    } else if (gru) {
      GruResetBeforeOutputBackward<T> a1{H, g_t, hp_t, dh, dy_t, dg_t, dprev, valid};
      run_rows(k.gru_rb_output_backward, a1, N, GH);
      parallel_gemm<T>(false, false, N, H, H, T(1), dg_t + 2 * H, GH, w.w_hh + 2 * H * S, S, T(0),
                       drh, H);
      GruResetBeforeGatesBackward<T> a2{H, g_t, hp_t, drh, dg_t, dprev, valid};
      run_rows(k.gru_rb_gates_backward, a2, N, GH);
    } else {
      RnnStepBackward<T> a{H, relu, g_t, dh, dy_t, dg_t, valid};
      run_rows(k.rnn_backward, a, N, GH);
    }
    if (s > 0 || !last_dprev_after) {
      dprev_product(t);
      copy_rows(dh, dprev, N, S, valid, false);
    }
  }

  // Everything that does not depend on the step order, as whole-sequence products (the fused loop
  // has computed dx and the bias sums already): jobs that read the finished dG and write apart.
  T* sums = workspace + bl.bias_sum;               // [2, G*H]
  const int64_t t_last = reverse ? steps - 1 : 0;  // the loop's last step
  std::vector<std::function<void()>> jobs;
  jobs.reserve(7);
  if (last_dprev_after) jobs.emplace_back([&] { dprev_product(t_last); });
  if (!fused && dx != nullptr) {
    jobs.emplace_back(
        [&] { parallel_gemm<T>(false, false, TN, I, GH, T(1), dg, GH, w.w_ih, I, T(0), dx, I); });
  }
  if (dw.w_ih) {
    jobs.emplace_back([&] {
      // Padded rows of dg are zero, but 0 * NaN is NaN: padded rows of x (which may hold anything)
      // must not enter dW_ih, so the GEMM reads a copy of x whose padded rows are zero.
      const T* x_rows = x;
      if (lengths != nullptr) {
        T* x_real = workspace + bl.x_real;
        for (int64_t t = 0; t < steps; ++t) {
          copy_rows(x_real + t * N * I, x + t * N * I, N, I, step_mask(mask, lengths, t, N), true);
        }
        x_rows = x_real;
      }
      add_weight_grad<T>(dw.w_ih, I, dg, GH, x_rows, I, GH, I, TN, write_grads);
    });
  }
  // The bias gradients: dg's column sums (both biases enter every gate the same way, so one sum
  // serves both), dgh's for b_hh of the GRU (reset_after).
  if (!fused) {
    jobs.emplace_back([&] {
      std::fill(sums, sums + 2 * GH, T(0));
      if (dw.b_ih || dw.b_hh) add_column_sums(sums, dg, TN, GH, GH);
      if (dgh != dg && dw.b_hh) add_column_sums(sums + GH, dgh, TN, GH, GH);
    });
  }
  if (dw.w_hh) {
    jobs.emplace_back([&] {
      if (gru && !desc.reset_after) {
        add_weight_grad<T>(dw.w_hh, S, dg, GH, h_prev_all, S, 2 * H, S, TN, write_grads);
        add_weight_grad<T>(dw.w_hh + 2 * H * S, S, dg + 2 * H, GH, reserve + rl.extra, H, H, H, TN,
                           write_grads);
      } else if (ReserveLayout::keeps_h_prev(desc)) {
        add_weight_grad<T>(dw.w_hh, S, dgh, GH, h_prev_all, S, GH, S, TN, write_grads);
      } else {
        // The vanilla RNN's state entering a step is h0 for the first step in time order and the
        // previous step's saved activation after it (rnn_layout.h): one GEMM with h0, one with
        // the activations shifted by a step. Here G·H = S = H.
        const int64_t first = reverse ? steps - 1 : 0;
        add_weight_grad<T>(dw.w_hh, H, dg + first * N * H, H, reserve + rl.h0, H, H, H, N,
                           write_grads);
        if (steps > 1) {
          const T* dg_rest = dg + (reverse ? 0 : N * H);  // steps 0..T-2 backwards, 1..T-1 forwards
          const T* h_rest = gates + (reverse ? N * H : 0);
          add_weight_grad<T>(dw.w_hh, H, dg_rest, H, h_rest, H, H, H, (steps - 1) * N, false);
        }
      }
    });
  }
  if (P > 0 && dw.w_hr) {
    jobs.emplace_back([&] {
      add_weight_grad<T>(dw.w_hr, H, workspace + bl.dh_all, P, reserve + rl.m, H, P, H, TN,
                         write_grads);
    });
  }
  if (lstm && dw.w_ch) {
    jobs.emplace_back([&] {
      if (write_grads) std::fill(dw.w_ch, dw.w_ch + 3 * H, T(0));
      add_column_dots(dw.w_ch, dg, GH, reserve + rl.c_prev, H, TN, H);             // i: c_prev
      add_column_dots(dw.w_ch + H, dg + H, GH, reserve + rl.c_prev, H, TN, H);     // f: c_prev
      add_column_dots(dw.w_ch + 2 * H, dg + 3 * H, GH, reserve + rl.c, H, TN, H);  // o: c'
    });
  }
  if (together) {
    run_jobs(static_cast<int64_t>(jobs.size()), [&](int64_t j) { jobs[j](); });
  } else {
    for (const auto& job : jobs) job();
  }

  if (last_dprev_after) copy_rows(dh, dprev, N, S, step_mask(mask, lengths, t_last, N), false);
  std::memcpy(dh0, dh, sizeof(T) * N * S);
  if (lstm && dc0) std::memcpy(dc0, dc, sizeof(T) * N * H);
  const T* sums_h = dgh != dg ? sums + GH : sums;
  for (int64_t j = 0; j < GH; ++j) {
    if (dw.b_ih) dw.b_ih[j] = (write_grads ? T(0) : dw.b_ih[j]) + sums[j];
    if (dw.b_hh) dw.b_hh[j] = (write_grads ? T(0) : dw.b_hh[j]) + sums_h[j];
  }
}

#define FASTRNN_INSTANTIATE(T)                                                                     \
  template void rnn_forward<T>(T*, T*, T*, T*, T*, const RnnDesc&, int64_t, int64_t, const T*,     \
                               const int64_t*, const T*, const T*, const RnnWeights<T>&, bool);    \
  template void rnn_backward<T>(T*, T*, T*, const RnnWeightGrads<T>&, T*, const RnnDesc&, int64_t, \
                                int64_t, const T*, const T*, const T*, const T*, const int64_t*,   \
                                const RnnWeights<T>&, const T*, bool, bool);
FASTRNN_INSTANTIATE(float)
FASTRNN_INSTANTIATE(double)
#undef FASTRNN_INSTANTIATE

}  // namespace fastrnn
