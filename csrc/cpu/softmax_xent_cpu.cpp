// softmax_xent_cpu.cpp — the fused softmax cross-entropy on the CPU: rows split over fastrnn's
// pool, one pass for the row maximum and one for the sum of exponentials, the backward
// recomputing softmax from the saved row max and log-sum. The C library's exp is used: the
// polynomial exp of activations.h measured no faster here (the row reductions do not vectorise
// without reassociation, and the loss is 1-3 % of a language model's step).
#include <algorithm>
#include <cmath>

#include "cpu/threading.h"
#include "fastrnn/softmax_xent.h"

namespace fastrnn {
namespace {

inline bool counts(const int64_t* targets, const uint8_t* mask, int64_t m, int64_t ignore_index) {
  return (mask == nullptr || mask[m] != 0) && targets[m] != ignore_index;
}

// Rows per chunk so that each chunk has at least ~16k elements of work.
inline int64_t row_grain(int64_t V) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(V, 1));
}

}  // namespace

template <class T>
int64_t softmax_xent_forward(T* stats, double* row_loss, const T* logits, const int64_t* targets,
                             const uint8_t* mask, int64_t M, int64_t V, int64_t ignore_index) {
  cpu::parallel_for(M, row_grain(V), [&](int64_t begin, int64_t end) {
    for (int64_t m = begin; m < end; ++m) {
      if (!counts(targets, mask, m, ignore_index)) {
        stats[2 * m] = stats[2 * m + 1] = T(0);
        row_loss[m] = 0.0;
        continue;
      }
      const T* x = logits + m * V;  // x: [V]
      T mx = x[0];
      for (int64_t v = 1; v < V; ++v) mx = std::max(mx, x[v]);
      T sum = T(0);
      for (int64_t v = 0; v < V; ++v) sum += std::exp(x[v] - mx);
      const T logsum = std::log(sum);
      stats[2 * m] = mx;
      stats[2 * m + 1] = logsum;
      row_loss[m] = static_cast<double>(logsum) +
                    (static_cast<double>(mx) - static_cast<double>(x[targets[m]]));
    }
  });
  int64_t count = 0;
  for (int64_t m = 0; m < M; ++m) count += counts(targets, mask, m, ignore_index) ? 1 : 0;
  return count;
}

template <class T>
void softmax_xent_backward(T* dlogits, const T* logits, const T* stats, const int64_t* targets,
                           const uint8_t* mask, int64_t M, int64_t V, int64_t ignore_index,
                           T scale) {
  cpu::parallel_for(M, row_grain(V), [&](int64_t begin, int64_t end) {
    for (int64_t m = begin; m < end; ++m) {
      T* d = dlogits + m * V;  // d: [V]
      if (!counts(targets, mask, m, ignore_index)) {
        std::fill(d, d + V, T(0));
        continue;
      }
      const T* x = logits + m * V;  // x: [V]
      const T mx = stats[2 * m], logsum = stats[2 * m + 1];
      for (int64_t v = 0; v < V; ++v) d[v] = scale * std::exp((x[v] - mx) - logsum);
      d[targets[m]] -= scale;
    }
  });
}

template int64_t softmax_xent_forward<float>(float*, double*, const float*, const int64_t*,
                                             const uint8_t*, int64_t, int64_t, int64_t);
template int64_t softmax_xent_forward<double>(double*, double*, const double*, const int64_t*,
                                              const uint8_t*, int64_t, int64_t, int64_t);
template void softmax_xent_backward<float>(float*, const float*, const float*, const int64_t*,
                                           const uint8_t*, int64_t, int64_t, int64_t, float);
template void softmax_xent_backward<double>(double*, const double*, const double*, const int64_t*,
                                            const uint8_t*, int64_t, int64_t, int64_t, double);

}  // namespace fastrnn
