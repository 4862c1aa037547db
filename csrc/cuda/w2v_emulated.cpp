// w2v_emulated.cpp — the GPU word2vec kernel under the grid emulator: blocks (sentences) one after
// another on the host arrays, 8 threads per block (so each thread owns several embedding
// elements). Every build compiles it; the tests train with it.
#include "cuda/grid_emulator.h"
#include "cuda/w2v_gpu_driver.h"
#include "fastrnn/word2vec_gpu.h"

namespace fastrnn {
namespace gpu {
namespace {

struct W2vEmulatorBackend {
  int64_t block_dim = 8;

  void run(const W2vSentenceKernel& kernel, int64_t blocks, int64_t /*words*/) const {
    emulate_blocks(kernel, blocks, block_dim);
  }
};

}  // namespace

void emulated_w2v_train_epoch_ids(w2v::TrainState& st, const w2v::TrainConfig& cfg,
                                  const int32_t* ids, const int64_t* offsets, int64_t S,
                                  int64_t epoch) {
  W2vEmulatorBackend be;
  w2v_train_epoch_ids(be, st, cfg, ids, offsets, S, epoch);
}

}  // namespace gpu
}  // namespace fastrnn
