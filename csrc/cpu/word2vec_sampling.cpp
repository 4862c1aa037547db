// word2vec_sampling.cpp — the two sampling tables: the alias table that draws negatives from
// unigram^exponent, and word2vec.c's subsampling keep thresholds (computed as gensim does).
#include <cmath>
#include <vector>

#include "fastrnn/common.h"
#include "fastrnn/word2vec.h"

namespace fastrnn {
namespace w2v {

// Vose's alias method: column i is kept with probability threshold[i] / 2^32, else alias[i].
NegativeSampler::NegativeSampler(const int64_t* counts, int64_t V, double exponent)
    : V_(V), threshold_(V), alias_(V) {
  if (V < 1) throw Error("NegativeSampler: empty vocabulary");
  std::vector<double> p(V);
  double sum = 0;
  for (int64_t i = 0; i < V; ++i) sum += p[i] = std::pow(static_cast<double>(counts[i]), exponent);
  if (!(sum > 0) || !std::isfinite(sum)) throw Error("NegativeSampler: counts must be positive");
  std::vector<int32_t> small, large;
  for (int64_t i = 0; i < V; ++i) {
    p[i] = p[i] / sum * static_cast<double>(V);
    (p[i] < 1.0 ? small : large).push_back(static_cast<int32_t>(i));
  }
  auto set = [this](int32_t i, double prob, int32_t alias) {
    const double t = std::ldexp(prob, 32);
    threshold_[i] = t >= 4294967295.0 ? 4294967295u : static_cast<uint32_t>(t);
    alias_[i] = alias;
  };
  while (!small.empty() && !large.empty()) {
    const int32_t s = small.back(), l = large.back();
    small.pop_back();
    set(s, p[s], l);
    p[l] -= 1.0 - p[s];
    if (p[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  for (int32_t i : large) set(i, 1.0, i);
  for (int32_t i : small) set(i, 1.0, i);  // rounding leftovers
}

std::vector<double> NegativeSampler::probabilities() const {
  std::vector<double> p(V_, 0.0);
  for (int64_t i = 0; i < V_; ++i) {
    const double keep = threshold_[i] == 4294967295u ? 1.0 : std::ldexp(threshold_[i], -32);
    p[i] += keep / V_;
    p[alias_[i]] += (1.0 - keep) / V_;
  }
  return p;
}

void subsample_thresholds(uint32_t* keep, const int64_t* counts, int64_t V, double sample) {
  double total = 0;
  for (int64_t i = 0; i < V; ++i) total += static_cast<double>(counts[i]);
  double t;
  if (sample <= 0) {
    t = total;
  } else if (sample < 1.0) {
    t = sample * total;
  } else {
    t = std::floor(sample * (3.0 + std::sqrt(5.0)) / 2.0);
  }
  for (int64_t i = 0; i < V; ++i) {
    const double c = static_cast<double>(counts[i]);
    double p = sample <= 0 ? 1.0 : (std::sqrt(c / t) + 1.0) * (t / c);
    if (!(p < 1.0)) p = 1.0;
    const double scaled = std::ldexp(p, 32);
    keep[i] = scaled >= 4294967295.0 ? 4294967295u : static_cast<uint32_t>(scaled);
  }
}

}  // namespace w2v
}  // namespace fastrnn
