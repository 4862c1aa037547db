// rnn_pointwise.h — the fused pointwise pass of one time step for each cell, forward and backward,
// over a range of batch rows [n0, n1). One implementation (rnn_pointwise.inc) is compiled once per
// instruction set; pointwise_kernels<T>() returns the table for this CPU.
//
// Every step array is [N, width] with contiguous rows. Rows whose `valid` flag is 0 (a sequence
// already ended) are skipped entirely; the layer driver handles them. Absent biases, peepholes are
// passed as zero vectors and "no clip" as +inf, so the inner loops have no branches.
#pragma once

#include <cstdint>

namespace fastrnn {
namespace cpu {

template <class T>
struct RnnStepForward {
  int64_t H;
  bool relu;
  T* gates;              // [N,H] in: x·W_ihᵀ; out: h' (the saved activation), or h for
                         // rows past their sequence's end
  const T* hg;           // [N,H] h·W_hhᵀ
  const T* b_ih;         // [H]
  const T* b_hh;         // [H]
  T* h;                  // [N,H] in: h; out: h'
  const uint8_t* valid;  // [N] or null
};

template <class T>
struct RnnStepBackward {
  int64_t H;
  bool relu;
  const T* act;  // [N,H] saved h'
  const T* dh;   // [N,H] gradient carried from the next step
  const T* dy;   // [N,H] output gradient of this step
  T* dgates;     // [N,H] out: gradient of the pre-activation
  const uint8_t* valid;
};

template <class T>
struct LstmStepForward {
  int64_t H;
  T* gates;         // [N,4H] in: x·W_ihᵀ; out: activations i, f, g, o
  const T* hg;      // [N,4H] h·W_hhᵀ
  const T* b_ih;    // [4H]
  const T* b_hh;    // [4H]
  const T* w_ch;    // [3,H] peepholes (zeros when absent)
  T clip;           // +inf when absent
  const T* c_prev;  // [N,H]
  T* c;             // [N,H] out (may alias c_prev)
  T* c_save;        // [N,H] out, or null
  T* m;             // [N,H] out: o·tanh(c)
  const uint8_t* valid;
};

template <class T>
struct LstmStepBackward {
  int64_t H;
  const T* gates;   // [N,4H] saved activations
  const T* c;       // [N,H] saved c'
  const T* c_prev;  // [N,H] saved c
  const T* w_ch;    // [3,H]
  T clip;
  const T* dm;  // [N,H] gradient of m (carried dh when dy is given)
  const T* dy;  // [N,H] added to dm, or null
  T* dc;        // [N,H] in: from the next step; out: to the previous step
  T* dgates;    // [N,4H] out
  const uint8_t* valid;
};

template <class T>
struct GruStepForward {  // reset_after=True
  int64_t H;
  T* gates;         // [N,3H] in: x·W_ihᵀ; out: activations r, z, n
  const T* hg;      // [N,3H] h·W_hhᵀ
  const T* b_ih;    // [3H]
  const T* b_hh;    // [3H]
  const T* h_prev;  // [N,H]
  T* h;             // [N,H] out (may alias h_prev)
  T* hn_save;       // [N,H] out: W_hn h + b_hn, or null
  const uint8_t* valid;
};

template <class T>
struct GruStepBackward {
  int64_t H;
  const T* gates;   // [N,3H] saved r, z, n
  const T* hn;      // [N,H] saved W_hn h + b_hn
  const T* h_prev;  // [N,H]
  const T* dh;      // [N,H]
  const T* dy;      // [N,H]
  T* dgates_x;      // [N,3H] out: gradient of the input-side pre-activations
  T* dgates_h;      // [N,3H] out: gradient of h·W_hhᵀ + b_hh
  T* dh_prev;       // [N,H] out: direct part of h_prev's gradient (may alias dh)
  const uint8_t* valid;
};

template <class T>
struct GruResetBeforeGatesForward {  // reset_after=False, phase 1
  int64_t H;
  T* gates;         // [N,3H] in: x·W_ihᵀ; out: r, z written (n block untouched)
  const T* hg;      // [N,2H] h·W_h{r,z}ᵀ
  const T* b_ih;    // [3H]
  const T* b_hh;    // [3H]
  const T* h_prev;  // [N,H]
  T* rh;            // [N,H] out: r·h
  const uint8_t* valid;
};

template <class T>
struct GruResetBeforeOutputForward {  // phase 2
  int64_t H;
  T* gates;         // [N,3H] in: n block x·W_inᵀ; out: n
  const T* hn;      // [N,H] (r·h)·W_hnᵀ
  const T* b_ih;    // [3H]
  const T* b_hh;    // [3H]
  const T* h_prev;  // [N,H]
  T* h;             // [N,H] out (may alias h_prev)
  const uint8_t* valid;
};

template <class T>
struct GruResetBeforeOutputBackward {
  int64_t H;
  const T* gates;   // [N,3H]
  const T* h_prev;  // [N,H]
  const T* dh;      // [N,H]
  const T* dy;      // [N,H]
  T* dgates;        // [N,3H] out: z and n blocks
  T* dh_prev;       // [N,H] out: direct part (may alias dh)
  const uint8_t* valid;
};

template <class T>
struct GruResetBeforeGatesBackward {
  int64_t H;
  const T* gates;   // [N,3H]
  const T* h_prev;  // [N,H]
  const T* drh;     // [N,H] gradient of r·h
  T* dgates;        // [N,3H] out: r block
  T* dh_prev;       // [N,H] in/out: += drh·r
  const uint8_t* valid;
};

template <class T>
struct PointwiseKernels {
  void (*rnn_forward)(const RnnStepForward<T>&, int64_t n0, int64_t n1);
  void (*rnn_backward)(const RnnStepBackward<T>&, int64_t n0, int64_t n1);
  void (*lstm_forward)(const LstmStepForward<T>&, int64_t n0, int64_t n1);
  void (*lstm_backward)(const LstmStepBackward<T>&, int64_t n0, int64_t n1);
  void (*gru_forward)(const GruStepForward<T>&, int64_t n0, int64_t n1);
  void (*gru_backward)(const GruStepBackward<T>&, int64_t n0, int64_t n1);
  void (*gru_rb_gates_forward)(const GruResetBeforeGatesForward<T>&, int64_t n0, int64_t n1);
  void (*gru_rb_output_forward)(const GruResetBeforeOutputForward<T>&, int64_t n0, int64_t n1);
  void (*gru_rb_output_backward)(const GruResetBeforeOutputBackward<T>&, int64_t n0, int64_t n1);
  void (*gru_rb_gates_backward)(const GruResetBeforeGatesBackward<T>&, int64_t n0, int64_t n1);
};

template <class T>
const PointwiseKernels<T>& pointwise_kernels();

// One table per instruction set, defined by the per-ISA translation units.
namespace generic {
template <class T>
const PointwiseKernels<T>& kernels();
}
namespace avx2 {
template <class T>
const PointwiseKernels<T>& kernels();
}
namespace avx512 {
template <class T>
const PointwiseKernels<T>& kernels();
}

}  // namespace cpu
}  // namespace fastrnn
