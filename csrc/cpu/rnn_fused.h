// rnn_fused.h — the fused float32 time loop for AVX-512 and AVX2 CPUs: per step, each thread
// multiplies x_t and the state by slices of [W_ih | W_hh] (packed once per call, so every step
// streams them from cache without repacking), its own share first and then any a slower thread has
// not reached, and applies the cell to the gate tile while it is still in registers or L1; backward
// likewise, dx included, leaving only the weight gradients to whole-sequence GEMMs. Threads stay
// inside one parallel region for the whole sequence and meet at one spin barrier per step. Handles
// rnn_tanh, rnn_relu, lstm (peepholes and cell clip included, no projection) and gru with
// reset_after=True; the generic path (rnn_cpu.cpp) handles everything else. Also the single
// inference step at a few rows (rnn_step.inc).
#pragma once

#include <cstdint>

#include "cpu/rnn_layout.h"
#include "fastrnn/rnn.h"

namespace fastrnn {
namespace cpu {

// True when this CPU and this layer can use the fused loop.
bool fused_loop_applies(const RnnDesc& desc);

// How the fused loop shares `batch` rows among the threads set, in training (forward and
// backward) or inference: "rows" (each thread its own rows for the whole sequence), "units" (each
// step's unit blocks) or "one thread". For the tests.
const char* fused_loop_split(const RnnDesc& desc, int64_t batch, bool training);

// The whole of rnn_forward's time loop, the input projection included. x: [T,N,I]; y: [T,N,H];
// h: [N,S] initial state in, final state out; c: [N,H] likewise (LSTM); reserve: null for
// inference, else the training reserve (its gates array receives the activations). b_ih, b_hh:
// [G*H]; w_ch: [3,H]; all non-null.
void fused_forward_loop(float* y, float* h, float* c, float* reserve, float* workspace,
                        const RnnDesc& desc, int64_t steps, int64_t batch, const float* x,
                        const int64_t* lengths, const float* w_ih, const float* w_hh,
                        const float* b_ih, const float* b_hh, const float* w_ch, float clip,
                        bool reverse);

// The time loop of rnn_backward, the input gradient included. dx: [T,N,I] receives dG·W_ih (null:
// not computed); dg:
// [T,N,G*H] and dgh (GRU: [T,N,G*H], else == dg) receive the pre-activation gradients and
// dg_sums: [2,G*H] their column sums (the bias gradients: dg's, then dgh's for the GRU); dh:
// [N,S] and dc: [N,H] hold dh_n, dc_n in and dh0, dc0 out.
void fused_backward_loop(float* dx, float* dg, float* dgh, float* dg_sums, float* dh, float* dc,
                         float* workspace, const RnnDesc& desc, int64_t steps, int64_t batch,
                         const float* dy, const int64_t* lengths, const float* w_ih,
                         const float* w_hh, const float* w_ch, float clip, const float* reserve,
                         bool reverse);

// C[M, Nc] += Aᵀ·B for the weight gradients (rnn_weight_grad.inc), or C = Aᵀ·B with overwrite
// (C's contents ignored): A: [K, M] with row stride lda, B: [K, Nc] with row stride ldb, C: [M, Nc]
// with row stride ldc; nothing for K = 0. Only where fused_kernels_available().
void weight_grad_gemm(float* C, int64_t ldc, const float* A, int64_t lda, const float* B,
                      int64_t ldb, int64_t M, int64_t Nc, int64_t K, bool overwrite);

// Rows up to which a single step takes the step kernel (fused_step in inference,
// fused_training_step in training), which reads the weights as they are (in groups of 16 rows),
// rather than the BLAS products or the fused loop, which both pack them first. On the Intel
// AVX-512 VM (2 MB of L2 a core; 2026-12-08, a cell's inference step, alternating calls in one
// process) the step kernel was 1.0-2.3x as fast as the BLAS products at 24 rows and as the fused
// loop at 32, LSTM, GRU and RNN at H = 64-512 on one thread and two (0.98x at one point), and at
// H = 1024 and 2048 0.9-1.7x at 12-32 rows; past 32 rows it lost to the fused loop at some sizes
// (LSTM at H = 64-128 on one thread from 48 rows, at H = 512 on two). The AVX2 build
// (FASTRNN_ISA=avx2 with OpenBLAS's Haswell kernels on that CPU) gained alike at 24-32 rows. A
// one-step training forward through it was 1.0-1.5x as fast with its backward (bench/BENCHMARKS.md,
// the Intel section's "Twenty-fourth session").
constexpr int64_t kStepKernelRows = 32;

// True when this CPU and this cell can use fused_step for N rows (float32, AVX-512 or AVX2, N <=
// kStepKernelRows, no projection, GRU only with reset_after=True).
bool fused_step_applies(const RnnDesc& desc, int64_t N);

// One inference step (rnn_step, and rnn_forward with T = 1; rnn_step.inc) at any number of rows
// (fused_step_applies says where it is the fastest path). x: [N,I]; h: [N,H] or null for zeros;
// c: [N,H] or null (LSTM); h_new: [N,H]; c_new: [N,H] (LSTM).
void fused_step(float* h_new, float* c_new, const RnnDesc& desc, int64_t N, const float* x,
                const float* h, const float* c, const RnnWeights<float>& w);

// fused_step for a one-step training forward (rnn_forward with T = 1), which also writes the
// training reserve (rnn_layout.h, T = 1) that rnn_backward reads.
void fused_training_step(float* h_new, float* c_new, float* reserve, const RnnDesc& desc, int64_t N,
                         const float* x, const float* h, const float* c,
                         const RnnWeights<float>& w);

// True when this CPU has the kernels above: AVX-512 or AVX2, in a build with the x86 kernels.
bool fused_kernels_available();

// Rows from which a single inference step (T = 1) repays packing the weights for the fused loop
// (the instruction set's kFusedStepRows); INT64_MAX without the fused kernels.
int64_t fused_single_step_rows();

// The kernels above compiled for one instruction set (rnn_fused.inc, rnn_weight_grad.inc,
// rnn_step.inc), which the functions above call.
struct FusedKernels {
  decltype(fused_forward_loop)* forward;
  decltype(fused_backward_loop)* backward;
  decltype(fused_loop_split)* split;
  decltype(weight_grad_gemm)* weight_grad;
  decltype(fused_step)* step;
  decltype(fused_training_step)* training_step;
  int64_t single_step_rows;
};
namespace avx512 {
const FusedKernels& fused_kernels();  // rnn_fused.inc, from the functions below and its own
void weight_grad_gemm(float* C, int64_t ldc, const float* A, int64_t lda, const float* B,
                      int64_t ldb, int64_t M, int64_t Nc, int64_t K, bool overwrite);
void fused_step(float* h_new, float* c_new, const RnnDesc& desc, int64_t N, const float* x,
                const float* h, const float* c, const RnnWeights<float>& w);
void fused_training_step(float* h_new, float* c_new, float* reserve, const RnnDesc& desc, int64_t N,
                         const float* x, const float* h, const float* c,
                         const RnnWeights<float>& w);
}  // namespace avx512
namespace avx2 {
const FusedKernels& fused_kernels();
void weight_grad_gemm(float* C, int64_t ldc, const float* A, int64_t lda, const float* B,
                      int64_t ldb, int64_t M, int64_t Nc, int64_t K, bool overwrite);
void fused_step(float* h_new, float* c_new, const RnnDesc& desc, int64_t N, const float* x,
                const float* h, const float* c, const RnnWeights<float>& w);
void fused_training_step(float* h_new, float* c_new, float* reserve, const RnnDesc& desc, int64_t N,
                         const float* x, const float* h, const float* c,
                         const RnnWeights<float>& w);
}  // namespace avx2

}  // namespace cpu
}  // namespace fastrnn
