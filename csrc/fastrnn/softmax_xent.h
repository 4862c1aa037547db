// softmax_xent.h — fused softmax cross-entropy over the rows of a logits matrix, forward and
// backward, for language-model and classifier heads. A row m counts when mask[m] is set (or no
// mask is given) and targets[m] != ignore_index; rows that do not count give zero loss and zero
// gradient. Numerically stable: log-sum-exp with the row maximum subtracted.
#pragma once

#include <cstdint>

namespace fastrnn {

// Writes each row's statistics (its maximum and the log of the sum of exp(x - max); log-sum-exp =
// max + logsum, kept apart so that large logits lose no precision) and its loss (in nats; 0 for
// rows that do not count), and returns the number of rows that count. Every counted target must
// be in [0, V) (the caller checks).
// stats: [M,2] (max, logsum)  row_loss: [M]  logits: [M,V]  targets: [M]  mask: [M] or null
template <class T>
int64_t softmax_xent_forward(T* stats, double* row_loss, const T* logits, const int64_t* targets,
                             const uint8_t* mask, int64_t M, int64_t V, int64_t ignore_index);

// dlogits = scale * (softmax(logits) - onehot(target)) on counted rows, 0 elsewhere; scale is
// the upstream gradient of the loss, divided by the count for a mean.
// dlogits: [M,V]  logits: [M,V]  stats: [M,2] (from the forward)  targets: [M]  mask: [M] or null
template <class T>
void softmax_xent_backward(T* dlogits, const T* logits, const T* stats, const int64_t* targets,
                           const uint8_t* mask, int64_t M, int64_t V, int64_t ignore_index,
                           T scale);

}  // namespace fastrnn
