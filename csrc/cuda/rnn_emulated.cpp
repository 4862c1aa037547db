// rnn_emulated.cpp — the GPU layer driver instantiated with the grid emulator: the CUDA kernels'
// bodies and the driver's step logic, run on the CPU for the tests (host compiler, every build).
#include "cuda/grid_emulator.h"
#include "cuda/rnn_gpu_driver.h"
#include "fastrnn/rnn_gpu.h"

namespace fastrnn {
namespace gpu {

int64_t rnn_forward_workspace_size(const RnnDesc& desc, int64_t T, int64_t N, bool training) {
  return ForwardLayout(desc, T, N, training).total;
}

int64_t rnn_backward_workspace_size(const RnnDesc& desc, int64_t T, int64_t N, bool with_lengths) {
  return BackwardLayout(desc, T, N, with_lengths).total;
}

template <class T>
void emulated_rnn_forward(T* y, T* h_n, T* c_n, T* reserve, T* workspace, const RnnDesc& desc,
                          int64_t steps, int64_t batch, const T* x, const int64_t* lengths,
                          const T* h0, const T* c0, const RnnWeights<T>& w, bool reverse) {
  EmulatorBackend be;
  rnn_forward(be, y, h_n, c_n, reserve, workspace, desc, steps, batch, x, lengths, h0, c0, w,
              reverse);
}

template <class T>
void emulated_rnn_backward(T* dx, T* dh0, T* dc0, const RnnWeightGrads<T>& dw, T* workspace,
                           const RnnDesc& desc, int64_t steps, int64_t batch, const T* dy,
                           const T* dh_n, const T* dc_n, const T* x, const int64_t* lengths,
                           const RnnWeights<T>& w, const T* reserve, bool reverse) {
  EmulatorBackend be;
  rnn_backward(be, dx, dh0, dc0, dw, workspace, desc, steps, batch, dy, dh_n, dc_n, x, lengths, w,
               reserve, reverse);
}

#define FASTRNN_INSTANTIATE(T)                                                                     \
  template void emulated_rnn_forward<T>(T*, T*, T*, T*, T*, const RnnDesc&, int64_t, int64_t,      \
                                        const T*, const int64_t*, const T*, const T*,              \
                                        const RnnWeights<T>&, bool);                               \
  template void emulated_rnn_backward<T>(T*, T*, T*, const RnnWeightGrads<T>&, T*, const RnnDesc&, \
                                         int64_t, int64_t, const T*, const T*, const T*, const T*, \
                                         const int64_t*, const RnnWeights<T>&, const T*, bool);
FASTRNN_INSTANTIATE(float)
FASTRNN_INSTANTIATE(double)
#undef FASTRNN_INSTANTIATE

}  // namespace gpu
}  // namespace fastrnn
