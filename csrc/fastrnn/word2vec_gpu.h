// word2vec_gpu.h — one epoch of word2vec by the GPU sentence kernel (csrc/cuda/w2v_gpu_driver.h):
// the arguments and effects of w2v::train_epoch_ids (cfg.workers unused; window <= 32,
// negative <= 31, hierarchical softmax's Huffman paths at most 32 nodes long).
//
// An epoch runs as several kernel launches of at most launch_words kept words each (whole
// sentence pieces, at least one per launch), so that no launch outlives a display GPU's watchdog
// (about 2 s on Windows and under an X server); each piece's learning rate comes from the words
// before its sentence in the run, whichever launch it falls in. The call returns what each launch
// ran.
//
// emulated_*: the kernel's blocks run one after another on the host arrays (every build;
// deterministic), for the tests. cuda_*: on the current CUDA device (CUDA builds only); the call
// copies the weights to the device and back and returns when the epoch is done.
#pragma once

#include <cstdint>
#include <vector>

#include "fastrnn/word2vec.h"

namespace fastrnn {
namespace gpu {

// Kept words per launch by default. A launch lasts about (its words / the blocks resident on the
// device) positions of about 5-10 µs each (seven block barriers and their global-memory reads),
// with at least its longest piece (w2v::kMaxSentence positions, 50-100 ms): on a 28-SM GPU holding
// 3 blocks per SM (a block's scratch is ~32 KiB of shared memory at window 5, negative 5), 2^20
// words are 60-125 ms, some 20 times under the watchdog's 2 s, while a full launch's pieces (104
// or more) still fill such a device.
constexpr int64_t kW2vLaunchWords = int64_t{1} << 20;
// The largest launch_words: a launch's pieces (2 words or more each, or a single piece) then
// never pass a grid's 2^31 - 1 blocks.
constexpr int64_t kW2vMaxLaunchWords = (int64_t{1} << 31) - 1;

// One kernel launch of an epoch: its sentence pieces (blocks), their kept words, and the learning
// rates of its first and last pieces.
struct W2vLaunch {
  int64_t pieces = 0, words = 0;
  float first_alpha = 0.0f, last_alpha = 0.0f;
};

// launch_words: 1..kW2vMaxLaunchWords.
std::vector<W2vLaunch> emulated_w2v_train_epoch_ids(w2v::TrainState& st,
                                                    const w2v::TrainConfig& cfg, const int32_t* ids,
                                                    const int64_t* offsets, int64_t S,
                                                    int64_t epoch, int64_t launch_words);

#if defined(FASTRNN_WITH_CUDA)
std::vector<W2vLaunch> cuda_w2v_train_epoch_ids(w2v::TrainState& st, const w2v::TrainConfig& cfg,
                                                const int32_t* ids, const int64_t* offsets,
                                                int64_t S, int64_t epoch, int64_t launch_words);
#endif

}  // namespace gpu
}  // namespace fastrnn
