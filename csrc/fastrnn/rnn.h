// rnn.h — the layer API of the C++ core: one recurrent layer, one direction, a whole sequence.
//
// A call runs T steps of one cell over N sequences. Inside: the input projection of all T·N rows
// as one GEMM before the time loop; per step one recurrent GEMM and one fused pointwise pass; in
// backward the weight gradients as one GEMM each after the loop. Training forward saves what
// backward needs in `reserve`; backward reads it and leaves it intact. Scratch memory is the
// caller's `workspace`. Sizes are in elements of the array type.
#pragma once

#include <cstdint>
#include <string>

#include "fastrnn/common.h"

namespace fastrnn {

enum class CellMode { kRnnTanh, kRnnRelu, kLstm, kGru };

struct RnnDesc {
  CellMode mode = CellMode::kLstm;
  int64_t input_size = 0;   // I
  int64_t hidden_size = 0;  // H
  int64_t proj_size = 0;    // P (LSTM only; 0 = no projection)
  bool bias = true;
  bool reset_after = true;  // GRU only
  bool peephole = false;    // LSTM only
  double cell_clip = 0.0;   // LSTM only; <= 0 = no clip

  int64_t gates() const;       // G
  int64_t state_size() const;  // S: P with projection, else H
  void validate() const;       // throws Error naming the bad field
};

// Parameters in PyTorch's layout and gate order. Absent ones are null.
template <class T>
struct RnnWeights {
  const T* w_ih = nullptr;  // [G*H, I]
  const T* w_hh = nullptr;  // [G*H, S]
  const T* b_ih = nullptr;  // [G*H]
  const T* b_hh = nullptr;  // [G*H]
  const T* w_hr = nullptr;  // [P, H]
  const T* w_ch = nullptr;  // [3, H] peepholes, rows i, f, o
};

// Parameter gradients, accumulated into (+=). Null entries are skipped.
template <class T>
struct RnnWeightGrads {
  T* w_ih = nullptr;
  T* w_hh = nullptr;
  T* b_ih = nullptr;
  T* b_hh = nullptr;
  T* w_hr = nullptr;
  T* w_ch = nullptr;
};

// Sizes the CPU core accepts: GEMM extents (I, G*H, T*N rows) fit the BLAS's 32-bit indices, and
// no array exceeds kMaxElements elements (so no size arithmetic can overflow int64).
constexpr int64_t kMaxBlasExtent = 2147483647;
constexpr int64_t kMaxElements = int64_t{1} << 58;

// Throws Error, naming the sizes, unless desc is valid and T steps of N sequences fit the limits
// above. Every entry point below calls it before touching memory.
void check_problem_size(const RnnDesc& desc, int64_t T, int64_t N);

int64_t rnn_reserve_size(const RnnDesc& desc, int64_t T, int64_t N);
int64_t rnn_forward_workspace_size(const RnnDesc& desc, int64_t T, int64_t N, bool training);
// with_lengths: whether backward will be given lengths (it then needs room for a masked copy of x).
int64_t rnn_backward_workspace_size(const RnnDesc& desc, int64_t T, int64_t N, bool with_lengths);

// y: [T,N,S] out (zero past each sequence's end); h_n: [N,S] out; c_n: [N,H] out (LSTM, else null).
// reserve: [rnn_reserve_size] for training, null for inference. workspace:
// [rnn_forward_workspace_size]. x: [T,N,I]; lengths: [N] in 1..T or null (all T); h0: [N,S] or null
// (zeros); c0: [N,H] or null. reverse: run time backwards (from each sequence's last real step).
template <class T>
void rnn_forward(T* y, T* h_n, T* c_n, T* reserve, T* workspace, const RnnDesc& desc, int64_t steps,
                 int64_t batch, const T* x, const int64_t* lengths, const T* h0, const T* c0,
                 const RnnWeights<T>& w, bool reverse);

// dx: [T,N,I] out, or null when the input gradient is not wanted (its GEMM is skipped); dh0: [N,S]
// out; dc0: [N,H] out (LSTM); dw: added to, or with write_grads written (their arrays' contents are
// then ignored, so fresh arrays need no zeroing).
// workspace: [rnn_backward_workspace_size]. dy: [T,N,S]; dh_n: [N,S] or null; dc_n: [N,H] or null.
// x, lengths, w, reverse: as given to the training forward; reserve: what it saved (read only).
template <class T>
void rnn_backward(T* dx, T* dh0, T* dc0, const RnnWeightGrads<T>& dw, T* workspace,
                  const RnnDesc& desc, int64_t steps, int64_t batch, const T* dy, const T* dh_n,
                  const T* dc_n, const T* x, const int64_t* lengths, const RnnWeights<T>& w,
                  const T* reserve, bool reverse, bool write_grads = false);

// How the CPU time loop of a float32 layer's forward, in training or inference, shares `batch`
// rows among the threads set: "rows" (each thread runs the whole sequence for its own rows),
// "units" (each step's unit blocks, a barrier per step), "one thread", or "not fused" (the generic
// loop). For tests and benchmarks, with these limits: it tells the plan of a sequence of two or
// more steps (one step is never fused); the backward plans like the training forward but may use
// fewer threads at H <= 32; and it cannot know that the pool is busy with another caller's job at
// call time (the loop then runs on one thread).
std::string rnn_cpu_loop_split(const RnnDesc& desc, int64_t batch, bool training);

// Bytes of one core's L2 cache as the CPU loop's plan takes it (by rows when the weights take at
// most half of it; in training up to 8 times it and 8 MB): for tests that pick sizes on either
// side.
int64_t rnn_cpu_l2_cache_bytes();

// Rows from which a single float32 inference step (T = 1) takes the fused loop on this CPU (33 on
// AVX-512, past the step kernel's 32; 128 on AVX2; INT64_MAX without the fused kernels): for
// tests.
int64_t rnn_cpu_fused_step_rows();

// One inference step of a cell, the step cells' path: threads split the hidden units and each
// multiplies only its share of the weight rows, read in place (no packing), so at small N a step
// streams the weights once from its core's cache.
// h_new: [N,S] out; c_new: [N,H] out (LSTM). workspace: [rnn_step_workspace_size].
// x: [N,I]; h: [N,S] or null (zeros); c: [N,H] or null.
int64_t rnn_step_workspace_size(const RnnDesc& desc, int64_t batch);
template <class T>
void rnn_step(T* h_new, T* c_new, T* workspace, const RnnDesc& desc, int64_t batch, const T* x,
              const T* h, const T* c, const RnnWeights<T>& w);

}  // namespace fastrnn
