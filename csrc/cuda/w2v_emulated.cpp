// w2v_emulated.cpp — the GPU word2vec kernel under the grid emulator: each launch's blocks
// (sentence pieces) one after another on the host arrays, 8 threads per block (so each thread owns
// several embedding elements). Every build compiles it; the tests train with it.
#include <atomic>
#include <vector>

#include "cuda/grid_emulator.h"
#include "cuda/w2v_gpu_driver.h"
#include "fastrnn/word2vec_gpu.h"

namespace fastrnn {
namespace gpu {
namespace {

struct W2vEmulatorBackend {
  int64_t block_dim = 8;

  void run(const W2vSentenceKernel& kernel, const std::vector<int64_t>& plan, int64_t /*words*/,
           const std::atomic<bool>& stop) const {
    for (size_t l = 0; l + 1 < plan.size() && !stop.load(std::memory_order_relaxed); ++l) {
      emulate_blocks(w2v_launch_kernel(kernel, plan[l]), plan[l + 1] - plan[l], block_dim);
    }
  }
};

}  // namespace

std::vector<W2vLaunch> emulated_w2v_train_epoch_ids(w2v::TrainState& st,
                                                    const w2v::TrainConfig& cfg, const int32_t* ids,
                                                    const int64_t* offsets, int64_t S,
                                                    int64_t epoch, int64_t launch_words) {
  W2vEmulatorBackend be;
  return w2v_train_epoch_ids(be, st, cfg, ids, offsets, S, epoch, launch_words);
}

}  // namespace gpu
}  // namespace fastrnn
