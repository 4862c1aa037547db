// threading.h — the library's own worker pool for the pointwise passes (the BLAS has its own,
// used only while the pool is idle, so the two never oversubscribe the cores).
#pragma once

#include <cstdint>
#include <functional>

namespace fastrnn {
namespace cpu {

// Runs fn(begin, end) over [0, total) split into at most get_num_threads() contiguous chunks of at
// least `grain` items. Runs inline on the caller when the work is small, when one thread is set,
// or when another caller is using the pool (so concurrent Python threads are safe).
void parallel_for(int64_t total, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace cpu
}  // namespace fastrnn
