// kernel_index.h — where one GPU thread stands in a one-dimensional launch: the (blockIdx.x,
// threadIdx.x, blockDim.x, gridDim.x) a kernel body reads. The CUDA launcher fills it from the
// built-in variables; the grid emulator (grid_emulator.h) fills it for every block and thread in
// turn on the CPU, so the same body runs in both places.
#pragma once

#include <cstdint>

#include "fastrnn/common.h"

namespace fastrnn {
namespace gpu {

struct KernelIndex {
  int64_t block = 0;      // blockIdx.x
  int64_t thread = 0;     // threadIdx.x
  int64_t block_dim = 1;  // blockDim.x
  int64_t grid_dim = 1;   // gridDim.x

  // Grid-stride loop: this thread's first element and the step to its next one.
  FASTRNN_HD int64_t first() const { return block * block_dim + thread; }
  FASTRNN_HD int64_t stride() const { return block_dim * grid_dim; }
};

}  // namespace gpu
}  // namespace fastrnn
