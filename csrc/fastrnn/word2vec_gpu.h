// word2vec_gpu.h — one epoch of word2vec by the GPU sentence kernel (csrc/cuda/w2v_gpu_driver.h):
// the arguments and effects of w2v::train_epoch_ids (cfg.workers unused; window <= 32,
// negative <= 31, hierarchical softmax's Huffman paths at most 32 nodes long).
//
// emulated_*: the kernel's blocks run one after another on the host arrays (every build;
// deterministic), for the tests. cuda_*: on the current CUDA device (CUDA builds only); the call
// copies the weights to the device and back and returns when the epoch is done.
#pragma once

#include <cstdint>

#include "fastrnn/word2vec.h"

namespace fastrnn {
namespace gpu {

void emulated_w2v_train_epoch_ids(w2v::TrainState& st, const w2v::TrainConfig& cfg,
                                  const int32_t* ids, const int64_t* offsets, int64_t S,
                                  int64_t epoch);

#if defined(FASTRNN_WITH_CUDA)
void cuda_w2v_train_epoch_ids(w2v::TrainState& st, const w2v::TrainConfig& cfg, const int32_t* ids,
                              const int64_t* offsets, int64_t S, int64_t epoch);
#endif

}  // namespace gpu
}  // namespace fastrnn
