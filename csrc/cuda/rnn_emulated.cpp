// rnn_emulated.cpp — the GPU layer driver instantiated with the grid emulator: the CUDA kernels'
// bodies and the driver's step logic, run on the CPU for the tests (host compiler, every build).
#include <algorithm>
#include <limits>

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

namespace {

// What the device gives the driver: torch.empty memory, whose contents are whatever was there.
// The emulator fills every buffer the driver writes (outputs, reserve, workspace) with NaN first,
// so a read of an element the driver has not written, or an output element it leaves unwritten,
// shows up in the tests instead of passing on the zeros or the previous call's values that the
// host memory happens to hold.
template <class T>
void poison(T* p, int64_t count) {
  if (p != nullptr && count > 0) std::fill(p, p + count, std::numeric_limits<T>::quiet_NaN());
}

}  // namespace

template <class T>
void emulated_rnn_forward(T* y, T* h_n, T* c_n, T* reserve, T* workspace, const RnnDesc& desc,
                          int64_t steps, int64_t batch, const T* x, const int64_t* lengths,
                          const T* h0, const T* c0, const RnnWeights<T>& w, bool reverse) {
  desc.validate();
  const int64_t N = batch, H = desc.hidden_size, S = desc.state_size();
  poison(y, steps * N * S);
  poison(h_n, N * S);
  if (desc.mode == CellMode::kLstm) poison(c_n, N * H);
  if (reserve != nullptr) poison(reserve, cpu::ReserveLayout(desc, steps, N).total);
  poison(workspace, ForwardLayout(desc, steps, N, reserve != nullptr).total);
  EmulatorBackend be;
  rnn_forward(be, y, h_n, c_n, reserve, workspace, desc, steps, batch, x, lengths, h0, c0, w,
              reverse);
}

template <class T>
void emulated_rnn_backward(T* dx, T* dh0, T* dc0, const RnnWeightGrads<T>& dw, T* workspace,
                           const RnnDesc& desc, int64_t steps, int64_t batch, const T* dy,
                           const T* dh_n, const T* dc_n, const T* x, const int64_t* lengths,
                           const RnnWeights<T>& w, const T* reserve, bool reverse) {
  desc.validate();
  const int64_t N = batch, H = desc.hidden_size, S = desc.state_size();
  poison(dx, steps * N * desc.input_size);
  poison(dh0, N * S);
  if (desc.mode == CellMode::kLstm) poison(dc0, N * H);
  poison(workspace, BackwardLayout(desc, steps, N, lengths != nullptr).total);
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
