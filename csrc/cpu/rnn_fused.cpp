// rnn_fused.cpp — which fused time loop, weight-gradient GEMM and few-row step a layer or cell
// runs: those compiled for this CPU's instruction set (rnn_fused_*.cpp, rnn_weight_grad_*.cpp,
// rnn_step_*.cpp), for the cases they handle (rnn_fused.h).
#include "cpu/rnn_fused.h"

#include <limits>

#include "cpu/cpu_features.h"
#include "fastrnn/common.h"

namespace fastrnn {
namespace cpu {
namespace {

#if FASTRNN_X86_KERNELS
const FusedKernels& kernels() {
  return detected_isa() == Isa::kAvx512 ? avx512::fused_kernels() : avx2::fused_kernels();
}
#else
[[noreturn]] const FusedKernels& kernels() {  // unreachable: fused_kernels_available() is false
  throw Error("fastrnn was built without its x86 kernels (FASTRNN_X86_KERNELS=OFF)");
}
#endif

}  // namespace

bool fused_kernels_available() {
  // A build without the x86 kernels detects neither (cpu_features.cpp).
  const Isa isa = detected_isa();
  return isa == Isa::kAvx512 || isa == Isa::kAvx2;
}

int64_t fused_single_step_rows() {
  return fused_kernels_available() ? kernels().single_step_rows
                                   : std::numeric_limits<int64_t>::max();
}

bool fused_loop_applies(const RnnDesc& d) {
  if (!fused_kernels_available()) return false;
  if (d.proj_size > 0) return false;
  if (d.mode == CellMode::kGru && !d.reset_after) return false;
  return true;
}

const char* fused_loop_split(const RnnDesc& d, int64_t batch, bool training) {
  return kernels().split(d, batch, training);
}

void fused_forward_loop(float* y, float* h, float* c, float* reserve, float* workspace,
                        const RnnDesc& d, int64_t steps, int64_t batch, const float* x,
                        const int64_t* lengths, const float* w_ih, const float* w_hh,
                        const float* b_ih, const float* b_hh, const float* w_ch, float clip,
                        bool reverse) {
  kernels().forward(y, h, c, reserve, workspace, d, steps, batch, x, lengths, w_ih, w_hh, b_ih,
                    b_hh, w_ch, clip, reverse);
}

void fused_backward_loop(float* dx, float* dg, float* dgh, float* dg_sums, float* dh, float* dc,
                         float* workspace, const RnnDesc& d, int64_t steps, int64_t batch,
                         const float* dy, const int64_t* lengths, const float* w_ih,
                         const float* w_hh, const float* w_ch, float clip, const float* reserve,
                         bool reverse) {
  kernels().backward(dx, dg, dgh, dg_sums, dh, dc, workspace, d, steps, batch, dy, lengths, w_ih,
                     w_hh, w_ch, clip, reserve, reverse);
}

void weight_grad_gemm(float* C, int64_t ldc, const float* A, int64_t lda, const float* B,
                      int64_t ldb, int64_t M, int64_t Nc, int64_t K, bool overwrite) {
  kernels().weight_grad(C, ldc, A, lda, B, ldb, M, Nc, K, overwrite);
}

bool fused_step_applies(const RnnDesc& d, int64_t N) {
  return fused_kernels_available() && N <= kStepKernelRows && d.proj_size == 0 &&
         !(d.mode == CellMode::kGru && !d.reset_after);
}

void fused_step(float* h_new, float* c_new, const RnnDesc& d, int64_t N, const float* x,
                const float* h, const float* c, const RnnWeights<float>& w) {
  kernels().step(h_new, c_new, d, N, x, h, c, w);
}

void fused_training_step(float* h_new, float* c_new, float* reserve, const RnnDesc& d, int64_t N,
                         const float* x, const float* h, const float* c,
                         const RnnWeights<float>& w) {
  kernels().training_step(h_new, c_new, reserve, d, N, x, h, c, w);
}

}  // namespace cpu
}  // namespace fastrnn
