// w2v_launch_plan.h — how the GPU word2vec cuts an epoch's sentence pieces into kernel launches:
// consecutive pieces, as many as fit in launch_words kept words, at least one (a piece longer than
// launch_words runs alone). Every block of a launch is one piece, so a launch's grid holds at most
// max(1, launch_words / 2) blocks (a piece keeps 2 words or more): with launch_words <=
// kW2vMaxLaunchWords the grid size fits gridDim.x (2^31 - 1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fastrnn/common.h"
#include "fastrnn/word2vec_gpu.h"

namespace fastrnn {
namespace gpu {

// starts: [P+1], piece p is words [starts[p], starts[p+1]). Returns [L+1]: launch l runs pieces
// [plan[l], plan[l+1]) (L = 0 without pieces).
inline std::vector<int64_t> w2v_launch_plan(const std::vector<int64_t>& starts,
                                            int64_t launch_words) {
  if (launch_words < 1 || launch_words > kW2vMaxLaunchWords) {
    throw Error("word2vec on the GPU: launch_words must be in 1.." +
                std::to_string(kW2vMaxLaunchWords) + ", got " + std::to_string(launch_words));
  }
  const int64_t P = static_cast<int64_t>(starts.size()) - 1;
  std::vector<int64_t> plan{0};
  for (int64_t p = 0; p < P; ++p) {
    if (p > plan.back() && starts[p + 1] - starts[plan.back()] > launch_words) plan.push_back(p);
  }
  if (P > 0) plan.push_back(P);
  return plan;
}

}  // namespace gpu
}  // namespace fastrnn
