// native_test.cpp — a plain C++ test program for the C++ core, built with AddressSanitizer,
// UndefinedBehaviorSanitizer and LeakSanitizer (CMake option FASTRNN_SANITIZE, driven by
// tests/test_sanitizers.py). It runs every layer mode's forward and backward (with and without
// lengths, both directions, one and two threads), the one-step cell path, fastrnn.nn's linear and
// softmax cross-entropy kernels and word2vec training on a tiny corpus, and checks each result
// against an independent scalar reference written here (forward), central finite differences
// (backward, float64), the float64 result (float32) and each other (thread counts). Workspaces and
// reserves are filled with NaN before each call, so a read of memory the core did not write shows
// up as a NaN in a checked result. It also checks the worker pool and the GPU driver's per-thread
// handle pool (with a stand-in handle type).
//
// Exit status 0 when every check passes; each failure prints one line.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cpu/threading.h"
#include "cuda/cublas_api.h"
#include "cuda/handle_pool.h"
#include "fastrnn/common.h"
#include "fastrnn/linear.h"
#include "fastrnn/rnn.h"
#include "fastrnn/softmax_xent.h"
#include "fastrnn/word2vec.h"

namespace {

using fastrnn::CellMode;
using fastrnn::RnnDesc;

int failures = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::printf("FAIL %s\n", what.c_str());
  }
}

// max |a - b| / (atol + rtol |b|) <= 1, NaN anywhere fails.
template <class A, class B>
bool close(const std::vector<A>& a, const std::vector<B>& b, double rtol, double atol) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const double x = a[i], y = b[i];
    if (!(std::fabs(x - y) <= atol + rtol * std::fabs(y))) return false;
  }
  return true;
}

template <class T>
std::vector<T> poisoned(int64_t n) {
  return std::vector<T>(static_cast<size_t>(n), std::numeric_limits<T>::quiet_NaN());
}

double sigm(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// One layer's parameters and inputs in float64.
struct Case {
  RnnDesc d;
  int64_t T, N;
  bool reverse, with_lengths;
  std::vector<double> x, w_ih, w_hh, b_ih, b_hh, w_hr, w_ch, h0, c0, dy, dh_n, dc_n;
  std::vector<int64_t> lengths;
};

Case make_case(CellMode mode, bool peephole, double clip, bool reset_after, int64_t proj,
               bool reverse, bool with_lengths, uint32_t seed, int64_t N = 7, int64_t H = 19) {
  Case c;
  c.d.mode = mode;
  c.d.input_size = 5;
  c.d.hidden_size = H;  // 19: not a multiple of the 16-unit block
  c.d.proj_size = proj;
  c.d.peephole = peephole;
  c.d.cell_clip = clip;
  c.d.reset_after = reset_after;
  c.T = 6;
  c.N = N;
  c.reverse = reverse;
  c.with_lengths = with_lengths;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-0.6, 0.6);
  auto draw = [&](int64_t n) {
    std::vector<double> v(static_cast<size_t>(n));
    for (double& e : v) e = u(rng);
    return v;
  };
  const int64_t S = c.d.state_size(), GH = c.d.gates() * H, I = 5;
  c.x = draw(c.T * c.N * I);
  c.w_ih = draw(GH * I);
  c.w_hh = draw(GH * S);
  c.b_ih = draw(GH);
  c.b_hh = draw(GH);
  if (proj > 0) c.w_hr = draw(proj * H);
  if (peephole) c.w_ch = draw(3 * H);
  c.h0 = draw(c.N * S);
  c.c0 = draw(c.N * H);
  c.dy = draw(c.T * c.N * S);
  c.dh_n = draw(c.N * S);
  c.dc_n = draw(c.N * H);
  if (with_lengths) {
    const int64_t pattern[] = {3, c.T, 1, 5, c.T, 2, 4};
    for (int64_t n = 0; n < c.N; ++n) c.lengths.push_back(pattern[n % 7]);
    // Padded positions hold NaN: they must not reach any result.
    for (int64_t t = 0; t < c.T; ++t)
      for (int64_t n = 0; n < c.N; ++n)
        if (t >= c.lengths[n])
          for (int64_t i = 0; i < I; ++i) c.x[(t * c.N + n) * I + i] = NAN;
  }
  return c;
}

// The independent scalar reference of one layer's forward (DESIGN.md's equations, float64).
// Returns y [T,N,S] followed by h_n [N,S] and (LSTM) c_n [N,H].
std::vector<double> reference_forward(const Case& c) {
  const RnnDesc& d = c.d;
  const int64_t T = c.T, N = c.N, I = d.input_size, H = d.hidden_size, S = d.state_size();
  const int64_t G = d.gates();
  std::vector<double> y(T * N * S, 0.0), h = c.h0, cs = c.c0;
  for (int64_t n = 0; n < N; ++n) {
    const int64_t len = c.with_lengths ? c.lengths[n] : T;
    for (int64_t s = 0; s < len; ++s) {
      const int64_t t = c.reverse ? len - 1 - s : s;
      const double* xt = &c.x[(t * N + n) * I];
      const double* hp = &h[n * S];
      std::vector<double> xi(G * H), hh(G * H);
      for (int64_t r = 0; r < G * H; ++r) {
        double a = c.b_ih[r], b = c.b_hh[r];
        for (int64_t i = 0; i < I; ++i) a += c.w_ih[r * I + i] * xt[i];
        for (int64_t k = 0; k < S; ++k) b += c.w_hh[r * S + k] * hp[k];
        xi[r] = a;
        hh[r] = b;
      }
      std::vector<double> hn(S);
      if (d.mode == CellMode::kRnnTanh || d.mode == CellMode::kRnnRelu) {
        for (int64_t j = 0; j < H; ++j) {
          const double p = xi[j] + hh[j];
          hn[j] = d.mode == CellMode::kRnnTanh ? std::tanh(p) : std::max(p, 0.0);
        }
      } else if (d.mode == CellMode::kLstm) {
        std::vector<double> m(H);
        for (int64_t j = 0; j < H; ++j) {
          const double cp = cs[n * H + j];
          const double wci = d.peephole ? c.w_ch[j] : 0, wcf = d.peephole ? c.w_ch[H + j] : 0;
          const double wco = d.peephole ? c.w_ch[2 * H + j] : 0;
          const double ig = sigm(xi[j] + hh[j] + wci * cp);
          const double fg = sigm(xi[H + j] + hh[H + j] + wcf * cp);
          const double gg = std::tanh(xi[2 * H + j] + hh[2 * H + j]);
          double cn = fg * cp + ig * gg;
          if (d.cell_clip > 0) cn = std::min(std::max(cn, -d.cell_clip), d.cell_clip);
          const double og = sigm(xi[3 * H + j] + hh[3 * H + j] + wco * cn);
          cs[n * H + j] = cn;
          m[j] = og * std::tanh(cn);
        }
        for (int64_t k = 0; k < S; ++k) {
          if (d.proj_size == 0) {
            hn[k] = m[k];
          } else {
            double a = 0;
            for (int64_t j = 0; j < H; ++j) a += c.w_hr[k * H + j] * m[j];
            hn[k] = a;
          }
        }
      } else {
        // GRU: reset_after uses r (W_hn h + b_hn); reset_before uses W_hn (r h) + b_hn.
        for (int64_t j = 0; j < H; ++j) {
          const double r = sigm(xi[j] + hh[j]);
          const double z = sigm(xi[H + j] + hh[H + j]);
          double pn;
          if (d.reset_after) {
            pn = xi[2 * H + j] + r * hh[2 * H + j];
          } else {
            double a = c.b_hh[2 * H + j];
            for (int64_t k = 0; k < H; ++k) {
              const double rk = sigm(xi[k] + hh[k]);
              a += c.w_hh[(2 * H + j) * S + k] * rk * hp[k];
            }
            pn = xi[2 * H + j] + a;
          }
          const double nn = std::tanh(pn);
          hn[j] = (1 - z) * nn + z * hp[j];
        }
      }
      for (int64_t k = 0; k < S; ++k) {
        h[n * S + k] = hn[k];
        y[(t * N + n) * S + k] = hn[k];
      }
    }
  }
  y.insert(y.end(), h.begin(), h.end());
  if (d.mode == CellMode::kLstm) y.insert(y.end(), cs.begin(), cs.end());
  return y;
}

template <class T>
std::vector<T> cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// What the core computes for one case in precision T.
template <class T>
struct Result {
  std::vector<T> out;  // y, h_n, (c_n)
  std::vector<T> dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dw_hr, dw_ch;
};

// A case's arrays in the precision T, and the weights view the core takes.
template <class T>
struct CaseIn {
  std::vector<T> x, w_ih, w_hh, b_ih, b_hh, w_hr, w_ch, h0, c0;
  fastrnn::RnnWeights<T> w;

  explicit CaseIn(const Case& c)
      : x(cast<T>(c.x)),
        w_ih(cast<T>(c.w_ih)),
        w_hh(cast<T>(c.w_hh)),
        b_ih(cast<T>(c.b_ih)),
        b_hh(cast<T>(c.b_hh)),
        w_hr(cast<T>(c.w_hr)),
        w_ch(cast<T>(c.w_ch)),
        h0(cast<T>(c.h0)),
        c0(cast<T>(c.c0)) {
    w.w_ih = w_ih.data();
    w.w_hh = w_hh.data();
    w.b_ih = b_ih.data();
    w.b_hh = b_hh.data();
    w.w_hr = c.d.proj_size ? w_hr.data() : nullptr;
    w.w_ch = c.d.peephole ? w_ch.data() : nullptr;
  }
};

// With write_grads the weight gradients start as NaN and rnn_backward writes them.
template <class T>
Result<T> run_core(const Case& c, bool backward, bool write_grads = false) {
  const RnnDesc& d = c.d;
  const int64_t T_ = c.T, N = c.N, I = d.input_size, H = d.hidden_size, S = d.state_size();
  const int64_t GH = d.gates() * H;
  const bool lstm = d.mode == CellMode::kLstm;
  const CaseIn<T> in(c);
  const auto &x = in.x, &h0 = in.h0, &c0 = in.c0;
  const fastrnn::RnnWeights<T>& w = in.w;
  const int64_t* lengths = c.with_lengths ? c.lengths.data() : nullptr;
  auto y = poisoned<T>(T_ * N * S), h_n = poisoned<T>(N * S), c_n = poisoned<T>(N * H);
  auto reserve = poisoned<T>(fastrnn::rnn_reserve_size(d, T_, N));
  auto ws = poisoned<T>(fastrnn::rnn_forward_workspace_size(d, T_, N, true));
  fastrnn::rnn_forward<T>(y.data(), h_n.data(), lstm ? c_n.data() : nullptr, reserve.data(),
                          ws.data(), d, T_, N, x.data(), lengths, h0.data(),
                          lstm ? c0.data() : nullptr, w, c.reverse);
  Result<T> r;
  r.out = y;
  r.out.insert(r.out.end(), h_n.begin(), h_n.end());
  if (lstm) r.out.insert(r.out.end(), c_n.begin(), c_n.end());
  if (!backward) return r;
  const auto dy = cast<T>(c.dy), dh_n = cast<T>(c.dh_n), dc_n = cast<T>(c.dc_n);
  r.dx = poisoned<T>(T_ * N * I);
  r.dh0 = poisoned<T>(N * S);
  r.dc0 = poisoned<T>(N * H);
  const T start = write_grads ? std::numeric_limits<T>::quiet_NaN() : T(0);
  r.dw_ih.assign(GH * I, start);
  r.dw_hh.assign(GH * S, start);
  r.db_ih.assign(GH, start);
  r.db_hh.assign(GH, start);
  r.dw_hr.assign(d.proj_size * H, start);
  r.dw_ch.assign(d.peephole ? 3 * H : 0, start);
  fastrnn::RnnWeightGrads<T> g;
  g.w_ih = r.dw_ih.data();
  g.w_hh = r.dw_hh.data();
  g.b_ih = r.db_ih.data();
  g.b_hh = r.db_hh.data();
  g.w_hr = d.proj_size ? r.dw_hr.data() : nullptr;
  g.w_ch = d.peephole ? r.dw_ch.data() : nullptr;
  auto bws = poisoned<T>(fastrnn::rnn_backward_workspace_size(d, T_, N, lengths != nullptr));
  fastrnn::rnn_backward<T>(r.dx.data(), r.dh0.data(), lstm ? r.dc0.data() : nullptr, g, bws.data(),
                           d, T_, N, dy.data(), dh_n.data(), lstm ? dc_n.data() : nullptr, x.data(),
                           lengths, w, reserve.data(), c.reverse, write_grads);
  if (!lstm) r.dc0.clear();
  return r;
}

// The scalar loss sum(dy y) + sum(dh_n h_n) (+ sum(dc_n c_n)) of the reference forward.
double loss(const Case& c) {
  const std::vector<double> out = reference_forward(c);
  double l = 0;
  const size_t ny = c.dy.size(), nh = c.dh_n.size();
  for (size_t i = 0; i < ny; ++i) l += c.dy[i] * out[i];
  for (size_t i = 0; i < nh; ++i) l += c.dh_n[i] * out[ny + i];
  if (c.d.mode == CellMode::kLstm)
    for (size_t i = 0; i < c.dc_n.size(); ++i) l += c.dc_n[i] * out[ny + nh + i];
  return l;
}

// Checks a gradient against central differences of the loss along a few random coordinates
// (the reference forward is independent of the core, so this checks backward end to end).
void check_gradient(Case c, std::vector<double> Case::* field, const std::vector<double>& grad,
                    const std::string& what) {
  std::vector<double>& v = c.*field;
  std::mt19937 rng(7);
  const double eps = 1e-6;
  for (int k = 0; k < 6 && !v.empty(); ++k) {
    const size_t i = rng() % v.size();
    if (std::isnan(v[i])) {  // a padded x entry: its gradient must be exactly zero
      expect(grad[i] == 0.0, what + ": nonzero gradient at a padded position");
      continue;
    }
    const double keep = v[i];
    v[i] = keep + eps;
    const double up = loss(c);
    v[i] = keep - eps;
    const double down = loss(c);
    v[i] = keep;
    const double fd = (up - down) / (2 * eps);
    expect(std::fabs(fd - grad[i]) <= 1e-6 + 1e-5 * std::fabs(fd),
           what + ": finite difference " + std::to_string(fd) + " vs " + std::to_string(grad[i]));
  }
}

bool all_finite(const std::vector<double>& v) {
  for (double e : v)
    if (!std::isfinite(e)) return false;
  return true;
}

void check_layer(CellMode mode, bool peephole, double clip, bool reset_after, int64_t proj,
                 const std::string& name) {
  for (int rev = 0; rev < 2; ++rev) {
    for (int lens = 0; lens < 2; ++lens) {
      const std::string what = name + (rev ? " reverse" : "") + (lens ? " lengths" : "");
      const Case c = make_case(mode, peephole, clip, reset_after, proj, rev, lens, 11);
      const std::vector<double> ref = reference_forward(c);
      fastrnn::set_num_threads(1);
      const Result<double> r64 = run_core<double>(c, true);
      expect(close(r64.out, ref, 1e-10, 1e-12), what + ": float64 forward vs scalar reference");
      // Padded rows of x hold NaN: no gradient may see them (dx's padded rows are zero).
      for (const auto* g : {&r64.dx, &r64.dh0, &r64.dw_ih, &r64.dw_hh, &r64.db_ih, &r64.db_hh})
        expect(all_finite(*g), what + ": non-finite gradient");
      check_gradient(c, &Case::x, r64.dx, what + " dx");
      check_gradient(c, &Case::h0, r64.dh0, what + " dh0");
      check_gradient(c, &Case::w_ih, r64.dw_ih, what + " dW_ih");
      check_gradient(c, &Case::w_hh, r64.dw_hh, what + " dW_hh");
      check_gradient(c, &Case::b_ih, r64.db_ih, what + " db_ih");
      check_gradient(c, &Case::b_hh, r64.db_hh, what + " db_hh");
      if (mode == CellMode::kLstm) check_gradient(c, &Case::c0, r64.dc0, what + " dc0");
      if (proj) check_gradient(c, &Case::w_hr, r64.dw_hr, what + " dW_hr");
      if (peephole) check_gradient(c, &Case::w_ch, r64.dw_ch, what + " dW_ch");
      // float32 on one and two threads: close to float64, identical to each other.
      const Result<float> one = run_core<float>(c, true);
      fastrnn::set_num_threads(2);
      const Result<float> two = run_core<float>(c, true);
      fastrnn::set_num_threads(1);
      expect(close(one.out, ref, 1e-4, 1e-5), what + ": float32 forward vs reference");
      expect(close(one.dw_ih, r64.dw_ih, 1e-3, 1e-4), what + ": float32 dW_ih vs float64");
      expect(close(one.dw_hh, r64.dw_hh, 1e-3, 1e-4), what + ": float32 dW_hh vs float64");
      expect(close(one.dh0, r64.dh0, 1e-3, 1e-4), what + ": float32 dh0 vs float64");
      expect(one.out == two.out && one.dw_ih == two.dw_ih && one.dw_hh == two.dw_hh &&
                 one.dh0 == two.dh0 && one.db_hh == two.db_hh,
             what + ": one and two threads differ");
      // Written over NaN (write_grads): what adding to zeros gives.
      const Result<float> w32 = run_core<float>(c, true, true);
      const Result<double> w64 = run_core<double>(c, true, true);
      expect(w32.dw_ih == one.dw_ih && w32.dw_hh == one.dw_hh && w32.db_ih == one.db_ih &&
                 w32.db_hh == one.db_hh && w32.dw_hr == one.dw_hr && w32.dw_ch == one.dw_ch &&
                 w32.dx == one.dx && w32.dh0 == one.dh0,
             what + ": float32 written gradients differ");
      expect(w64.dw_ih == r64.dw_ih && w64.dw_hh == r64.dw_hh && w64.db_ih == r64.db_ih &&
                 w64.db_hh == r64.db_hh && w64.dw_hr == r64.dw_hr && w64.dw_ch == r64.dw_ch,
             what + ": float64 written gradients differ");
    }
  }
}

// Two threads in the float32 time loop, splitting the batch (N = 20) or each step's unit blocks
// (N = 12): the one-thread result bit for bit, close to the reference, in bounds.
// Small shapes: layers of one hidden unit (the weight-gradient GEMM's smallest: M = G rows) over
// T·N = 780 rows (whole 128-row blocks of K, where a scratch buffer once ran short), and one-row
// batches of 70 units (the small-batch loop's groups of unit blocks and its rest): float32
// gradients close to float64's, which match finite differences, on one and two threads.
void check_small_layers() {
  for (int64_t N : {int64_t{130}, int64_t{1}})
    for (CellMode mode : {CellMode::kRnnTanh, CellMode::kLstm, CellMode::kGru}) {
      const std::string what =
          "small N=" + std::to_string(N) + " " + std::to_string(static_cast<int>(mode));
      const Case c = make_case(mode, false, 0.0, true, 0, false, false, 5, N, N == 1 ? 70 : 1);
      fastrnn::set_num_threads(1);
      const Result<double> r64 = run_core<double>(c, true);
      check_gradient(c, &Case::w_ih, r64.dw_ih, what + " dW_ih");
      check_gradient(c, &Case::w_hh, r64.dw_hh, what + " dW_hh");
      const Result<float> one = run_core<float>(c, true);
      fastrnn::set_num_threads(2);
      const Result<float> two = run_core<float>(c, true);
      fastrnn::set_num_threads(1);
      expect(close(one.dw_ih, r64.dw_ih, 1e-3, 1e-4), what + ": float32 dW_ih vs float64");
      expect(close(one.dw_hh, r64.dw_hh, 1e-3, 1e-4), what + ": float32 dW_hh vs float64");
      expect(one.dw_ih == two.dw_ih && one.dw_hh == two.dw_hh, what + ": threads differ");
    }
}

// The worker pool, more threads than cores, jobs of 2, 4 and 3 chunks back to back: a worker
// left without a chunk of one job must not take a chunk of the next, so every chunk of every job
// runs exactly once (and under a sanitizer, nothing touches a finished job's function).
void check_pool() {
  fastrnn::set_num_threads(4);
  constexpr int kJobs = 20000;
  const int64_t sizes[] = {2, 4, 3};
  std::vector<std::atomic<int>> runs(kJobs * 4);
  for (int job = 0; job < kJobs; ++job) {
    fastrnn::cpu::parallel_for(sizes[job % 3], 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) runs[job * 4 + i].fetch_add(1);
    });
  }
  fastrnn::set_num_threads(1);
  int wrong = 0;
  for (int job = 0; job < kJobs; ++job) {
    for (int64_t i = 0; i < 4; ++i) wrong += runs[job * 4 + i].load() != (i < sizes[job % 3]);
  }
  expect(wrong == 0, "pool: " + std::to_string(wrong) + " chunks not run exactly once");

  // A parallel region asked for more threads than the pool has (set_num_threads shrank it after
  // the caller planned) runs on the caller alone, never on fewer threads told the planned count.
  fastrnn::set_num_threads(2);
  for (int asked : {2, 3}) {
    std::atomic<int> calls{0}, wrong_count{0};
    fastrnn::cpu::parallel_region(asked, [&](int, int nthreads) {
      ++calls;
      wrong_count += nthreads != (asked == 2 ? 2 : 1);
    });
    expect(calls == (asked == 2 ? 2 : 1) && wrong_count == 0,
           "pool: a region of " + std::to_string(asked) + " threads on a pool of 2 ran " +
               std::to_string(calls.load()) + " calls");
  }

  // run_jobs: every job exactly once, on one thread and on two, with the pool free or held by
  // another job (then on the caller, in order); a job's own parallel_for runs on its thread.
  for (int threads : {1, 2}) {
    fastrnn::set_num_threads(threads);
    for (int64_t count : {1, 2, 5}) {
      std::vector<std::atomic<int>> ran(static_cast<size_t>(count));
      std::atomic<int> split{0};
      fastrnn::cpu::run_jobs(count, [&](int64_t j) {
        ran[j].fetch_add(1);
        const std::thread::id me = std::this_thread::get_id();
        fastrnn::cpu::parallel_for(1000, 1, [&](int64_t, int64_t) {
          if (std::this_thread::get_id() != me) split.fetch_add(1);
        });
      });
      int wrong = split.load();
      for (auto& r : ran) wrong += r.load() != 1;
      expect(wrong == 0, "run_jobs: " + std::to_string(count) + " jobs on " +
                             std::to_string(threads) + " threads: " + std::to_string(wrong) +
                             " jobs not run exactly once on one thread");
    }
  }
  fastrnn::set_num_threads(2);
  std::atomic<int> inner{0};
  fastrnn::cpu::parallel_for(2, 1, [&](int64_t, int64_t) {
    fastrnn::cpu::run_jobs(3, [&](int64_t) { inner.fetch_add(1); });
  });
  expect(inner == 6,
         "run_jobs inside a pool job ran " + std::to_string(inner.load()) + " of 6 jobs");
  fastrnn::set_num_threads(1);
}

// The GPU driver's per-thread handles (cuda/handle_pool.h), with a stand-in handle type: threads
// run one after another share one handle; threads running at once hold distinct ones; each device
// has its own; a thread's handle goes back to the pool when the thread ends.
struct FakeLibraryHandle;
void check_handle_pool() {
  using Handle = FakeLibraryHandle*;
  auto& pool = fastrnn::gpu::HandlePool<Handle>::instance();
  std::atomic<uintptr_t> created{0};
  auto create = [&](Handle* handle) { *handle = reinterpret_cast<Handle>(++created); };
  std::vector<Handle> seen;
  for (int i = 0; i < 5; ++i) {
    std::thread([&] { seen.push_back(pool.get(0, create)); }).join();
  }
  expect(created == 1 && seen == std::vector<Handle>(5, seen[0]),
         "handle pool: 5 threads in turn made " + std::to_string(created.load()) + " handles");
  expect(pool.pooled(0) == 1, "handle pool: an ended thread's handle is not back in the pool");
  Handle first = nullptr, second = nullptr, other_device = nullptr;
  std::atomic<int> arrived{0};
  auto hold = [&](Handle* out, bool also_device_1) {
    *out = pool.get(0, create);
    if (also_device_1) other_device = pool.get(1, create);
    ++arrived;
    while (arrived.load() < 2) std::this_thread::yield();  // both hold theirs at once
  };
  std::thread a(hold, &first, true), b(hold, &second, false);
  a.join();
  b.join();
  expect(first != second && (first == seen[0] || second == seen[0]) && created == 3 &&
             other_device != first && other_device != second,
         "handle pool: two threads at once (and a second device) did not get distinct handles");
  expect(pool.pooled(0) == 2 && pool.pooled(1) == 1,
         "handle pool: the two threads' handles are not back in the pool");
}

// A failed cuBLAS call's status is named in the error (with what to do where there is something
// to do), not given as a bare number.
void check_cublas_status_text() {
  using fastrnn::gpu::cublas_status_text;
  const auto has = [](const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  };
  const std::string alloc = cublas_status_text(3);
  expect(has(alloc, "CUBLAS_STATUS_ALLOC_FAILED") && has(alloc, "(3)") &&
             has(alloc, "torch.cuda.empty_cache()"),
         "cuBLAS status 3 reads '" + alloc + "'");
  const struct {
    int status;
    const char* name;
  } named[] = {{1, "CUBLAS_STATUS_NOT_INITIALIZED"},   {7, "CUBLAS_STATUS_INVALID_VALUE"},
               {8, "CUBLAS_STATUS_ARCH_MISMATCH"},     {11, "CUBLAS_STATUS_MAPPING_ERROR"},
               {13, "CUBLAS_STATUS_EXECUTION_FAILED"}, {14, "CUBLAS_STATUS_INTERNAL_ERROR"},
               {15, "CUBLAS_STATUS_NOT_SUPPORTED"},    {16, "CUBLAS_STATUS_LICENSE_ERROR"}};
  for (const auto& n : named) {
    const std::string text = cublas_status_text(n.status);
    expect(has(text, n.name) && has(text, "(" + std::to_string(n.status) + ")"),
           "cuBLAS status " + std::to_string(n.status) + " reads '" + text + "'");
  }
  const std::string unknown = cublas_status_text(42);
  expect(has(unknown, "42"), "an unknown cuBLAS status reads '" + unknown + "'");
}

void check_thread_splits(CellMode mode, const std::string& name) {
  // 160 hidden units; for N = 20, which must split by rows, fewer where the weights would take
  // more than half of this CPU's L2 (the by-rows split's limit).
  int64_t rows_H = 160;
  const int64_t G = make_case(mode, false, 0.0, true, 0, false, false, 17).d.gates();
  while (2 * int64_t{sizeof(float)} * G * rows_H * (5 + rows_H) >
         fastrnn::rnn_cpu_l2_cache_bytes()) {
    --rows_H;
  }
  for (int64_t N : {int64_t{20}, int64_t{12}}) {
    for (int rev = 0; rev < 2; ++rev) {
      Case c = make_case(mode, false, 0.0, true, 0, rev, true, 17, N, N == 20 ? rows_H : 160);
      // Weights within ±0.06, near a layer's own ±1/sqrt(160) = ±0.08: at ±0.6 a 160-unit vanilla
      // RNN is chaotic, and float32 rounding grows past any tolerance within a few steps.
      for (auto* w : {&c.w_ih, &c.w_hh}) {
        for (double& v : *w) v *= 0.1;
      }
      const std::string what = name + " N=" + std::to_string(N) + (rev ? " reverse" : "");
      fastrnn::set_num_threads(2);
      const std::string split = fastrnn::rnn_cpu_loop_split(c.d, N, true);
      expect(split == "not fused" || split == (N == 20 ? "rows" : "units"),
             what + ": unexpected split " + split);
      const Result<float> two = run_core<float>(c, true);
      fastrnn::set_num_threads(1);
      const Result<float> one = run_core<float>(c, true);
      expect(close(one.out, reference_forward(c), 1e-4, 1e-5), what + ": float32 vs reference");
      expect(one.out == two.out && one.dx == two.dx && one.dw_ih == two.dw_ih &&
                 one.dw_hh == two.dw_hh && one.dh0 == two.dh0 && one.db_ih == two.db_ih &&
                 one.db_hh == two.db_hh,
             what + ": one and two threads differ");
    }
  }
}

// The step path: one inference step equals a one-step forward.
template <class T>
std::vector<double> run_step(const Case& c) {  // h' then, for LSTM, c'
  const int64_t N = c.N, H = c.d.hidden_size;
  const bool lstm = c.d.mode == CellMode::kLstm;
  const CaseIn<T> in(c);
  auto h = poisoned<T>(N * H), cn = poisoned<T>(N * H);
  auto ws = poisoned<T>(fastrnn::rnn_step_workspace_size(c.d, N));
  fastrnn::rnn_step<T>(h.data(), lstm ? cn.data() : nullptr, ws.data(), c.d, N, in.x.data(),
                       in.h0.data(), lstm ? in.c0.data() : nullptr, in.w);
  std::vector<double> out(h.begin(), h.end());
  if (lstm) out.insert(out.end(), cn.begin(), cn.end());
  return out;
}

// The float32 step kernel reads weight rows that start off a register boundary on the boundaries
// on AVX-512 (rnn_step.inc; the AVX2 kernels read them as they lie): the same bits wherever the
// weights lie, here W_hh (rows of H = 128 values) at
// each float offset from where a vector put it. (The masked-off lanes of the first load reach
// before a row; the sanitizers do not see masked loads, which do not fault on those lanes.)
void check_step_weight_offsets(CellMode mode, const std::string& name) {
  const Case c = make_case(mode, false, 0.0, true, 0, false, false, 9, 3, 128);
  const int64_t N = c.N, H = c.d.hidden_size;
  const bool lstm = mode == CellMode::kLstm;
  CaseIn<float> in(c);
  auto run = [&](const fastrnn::RnnWeights<float>& w) {
    auto h = poisoned<float>(N * H), cn = poisoned<float>(N * H);
    auto ws = poisoned<float>(fastrnn::rnn_step_workspace_size(c.d, N));
    fastrnn::rnn_step<float>(h.data(), lstm ? cn.data() : nullptr, ws.data(), c.d, N, in.x.data(),
                             in.h0.data(), lstm ? in.c0.data() : nullptr, w);
    if (lstm) h.insert(h.end(), cn.begin(), cn.end());
    return h;
  };
  const std::vector<float> want = run(in.w);
  for (size_t offset = 1; offset < 16; ++offset) {
    std::vector<float> w_hh(offset + in.w_hh.size());
    std::copy(in.w_hh.begin(), in.w_hh.end(), w_hh.begin() + static_cast<std::ptrdiff_t>(offset));
    fastrnn::RnnWeights<float> w = in.w;
    w.w_hh = w_hh.data() + offset;
    const std::vector<float> got = run(w);
    expect(std::memcmp(got.data(), want.data(), sizeof(float) * want.size()) == 0,
           name + ": weights at offset " + std::to_string(offset) + " give other bits");
  }
}

void check_step(CellMode mode, bool peephole, bool reset_after, const std::string& name,
                int64_t rows) {
  Case c = make_case(mode, peephole, 0.0, reset_after, 0, false, false, 5);
  c.T = 1;
  c.N = rows;  // the first `rows` rows of the case's state
  c.x.resize(c.N * c.d.input_size);
  c.h0.resize(c.N * c.d.state_size());
  c.c0.resize(c.N * c.d.hidden_size);
  const std::vector<double> ref = reference_forward(c);
  const int64_t NH = c.N * c.d.hidden_size;
  std::vector<double> expected(ref.begin() + NH, ref.begin() + 2 * NH);  // h_n
  if (mode == CellMode::kLstm) expected.insert(expected.end(), ref.begin() + 2 * NH, ref.end());
  for (int threads = 1; threads <= 2; ++threads) {
    fastrnn::set_num_threads(threads);
    expect(close(run_step<double>(c), expected, 1e-10, 1e-12), name + ": step vs reference");
    // float32: on AVX-512 and AVX2 CPUs, at N <= 32, the fused step kernel.
    expect(close(run_step<float>(c), expected, 1e-4, 1e-5), name + ": float32 step vs reference");
  }
  fastrnn::set_num_threads(1);
}

// A one-step training call (T = 1): in float32 on AVX-512 and AVX2 CPUs the step kernel, which
// writes the training reserve the backward reads (N = 20: two groups of rows); outputs and
// gradients close to float64's (the generic path), on one thread and two.
void check_one_step_training(CellMode mode, bool peephole, bool reset_after,
                             const std::string& name) {
  for (int64_t N : {int64_t{7}, int64_t{20}}) {
    Case c = make_case(mode, peephole, mode == CellMode::kLstm ? 0.3 : 0.0, reset_after, 0, false,
                       false, 13, N);
    c.T = 1;
    c.x.resize(N * c.d.input_size);
    c.dy.resize(N * c.d.state_size());
    const std::string what = name + " one step, N = " + std::to_string(N);
    fastrnn::set_num_threads(1);
    const Result<double> r64 = run_core<double>(c, true);
    expect(close(r64.out, reference_forward(c), 1e-10, 1e-12), what + ": float64 vs reference");
    for (int threads = 1; threads <= 2; ++threads) {
      fastrnn::set_num_threads(threads);
      const Result<float> r32 = run_core<float>(c, true);
      expect(close(r32.out, r64.out, 1e-4, 1e-5), what + ": float32 forward vs float64");
      expect(close(r32.dx, r64.dx, 1e-3, 1e-4), what + ": float32 dx vs float64");
      expect(close(r32.dh0, r64.dh0, 1e-3, 1e-4), what + ": float32 dh0 vs float64");
      expect(close(r32.dw_ih, r64.dw_ih, 1e-3, 1e-4), what + ": float32 dW_ih vs float64");
      expect(close(r32.dw_hh, r64.dw_hh, 1e-3, 1e-4), what + ": float32 dW_hh vs float64");
      expect(close(r32.db_hh, r64.db_hh, 1e-3, 1e-4), what + ": float32 db_hh vs float64");
      if (mode == CellMode::kLstm) {
        expect(close(r32.dc0, r64.dc0, 1e-3, 1e-4), what + ": float32 dc0 vs float64");
      }
      if (peephole) {
        expect(close(r32.dw_ch, r64.dw_ch, 1e-3, 1e-4), what + ": float32 dW_ch vs float64");
      }
    }
  }
  fastrnn::set_num_threads(1);
}

// Bad descriptions are refused with fastrnn::Error, not undefined behaviour.
void check_refusals() {
  RnnDesc d;
  d.mode = CellMode::kGru;
  d.input_size = 3;
  d.hidden_size = 4;
  d.peephole = true;
  bool threw = false;
  try {
    d.validate();
  } catch (const fastrnn::Error&) {
    threw = true;
  }
  expect(threw, "validate: peephole on a GRU accepted");
  d.peephole = false;
  d.hidden_size = int64_t{1} << 40;
  threw = false;
  try {
    d.validate();
  } catch (const fastrnn::Error&) {
    threw = true;
  }
  expect(threw, "validate: hidden_size 2^40 accepted");
}

// fastrnn.nn's kernels: the linear layer and the fused softmax cross-entropy (with a mask and an
// ignored target) against direct loops, on one and two threads.
void check_nn_kernels() {
  const int64_t M = 37, I = 9, O = 13, V = 11;
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  auto draw = [&](int64_t n) {
    std::vector<double> v(static_cast<size_t>(n));
    for (double& e : v) e = u(rng);
    return v;
  };
  const std::vector<double> x = draw(M * I), w = draw(O * I), b = draw(O), dy = draw(M * O);
  std::vector<double> y_ref(M * O), dx_ref(M * I, 0.0), dw_ref(O * I, 0.0), db_ref(O, 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t o = 0; o < O; ++o) {
      double a = b[o];
      for (int64_t i = 0; i < I; ++i) a += x[m * I + i] * w[o * I + i];
      y_ref[m * O + o] = a;
      db_ref[o] += dy[m * O + o];
      for (int64_t i = 0; i < I; ++i) {
        dx_ref[m * I + i] += dy[m * O + o] * w[o * I + i];
        dw_ref[o * I + i] += dy[m * O + o] * x[m * I + i];
      }
    }
  const std::vector<double> logits = draw(M * V);
  std::vector<int64_t> targets(M);
  std::vector<uint8_t> mask(M);
  for (int64_t m = 0; m < M; ++m) {
    targets[m] = m % 7 == 3 ? -100 : static_cast<int64_t>(rng() % V);
    mask[m] = m % 5 != 0;
  }
  for (int threads = 1; threads <= 2; ++threads) {
    fastrnn::set_num_threads(threads);
    auto y = poisoned<double>(M * O), dx = poisoned<double>(M * I);
    std::vector<double> dw(O * I, 0.0), db(O, 0.0);
    fastrnn::linear_forward<double>(y.data(), x.data(), w.data(), b.data(), M, I, O);
    fastrnn::linear_backward<double>(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(),
                                     M, I, O);
    expect(close(y, y_ref, 1e-12, 1e-12), "linear forward");
    expect(close(dx, dx_ref, 1e-12, 1e-12) && close(dw, dw_ref, 1e-12, 1e-12) &&
               close(db, db_ref, 1e-12, 1e-12),
           "linear backward");
    auto stats = poisoned<double>(2 * M);
    auto row_loss = poisoned<double>(M);
    auto dlogits = poisoned<double>(M * V);
    const int64_t counted = fastrnn::softmax_xent_forward<double>(
        stats.data(), row_loss.data(), logits.data(), targets.data(), mask.data(), M, V, -100);
    fastrnn::softmax_xent_backward<double>(dlogits.data(), logits.data(), stats.data(),
                                           targets.data(), mask.data(), M, V, -100, 0.5);
    int64_t expected_count = 0;
    for (int64_t m = 0; m < M; ++m) {
      const bool counts = mask[m] && targets[m] != -100;
      expected_count += counts;
      double sum = 0;
      for (int64_t v = 0; v < V; ++v) sum += std::exp(logits[m * V + v]);
      const double loss = counts ? std::log(sum) - logits[m * V + targets[m]] : 0.0;
      expect(std::fabs(row_loss[m] - loss) < 1e-12, "softmax_xent row loss");
      for (int64_t v = 0; v < V; ++v) {
        const double p = std::exp(logits[m * V + v]) / sum - (v == targets[m] ? 1.0 : 0.0);
        expect(std::fabs(dlogits[m * V + v] - (counts ? 0.5 * p : 0.0)) < 1e-12,
               "softmax_xent gradient");
      }
    }
    expect(counted == expected_count, "softmax_xent counted rows");
  }
  fastrnn::set_num_threads(1);
}

// word2vec: count a tiny corpus from a file, build the tables, train both architectures on ids
// and on the file with two workers; vectors must stay finite and move; score the corpus with one
// and two workers.
void check_word2vec(const std::string& dir) {
  namespace w2v = fastrnn::w2v;
  const std::string path = dir + "/native_test_corpus.txt";
  {
    std::ofstream f(path);
    std::mt19937 rng(3);
    const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "dog", "ran", "fast", "home"};
    for (int line = 0; line < 200; ++line) {
      for (int k = 0; k < 12; ++k) f << words[rng() % 10] << (k < 11 ? " " : "");
      f << "\n";
    }
    f << "unterminated last line";
  }
  w2v::VocabCounter counter;
  counter.recording = true;
  counter.count_file(path);
  expect(counter.index.size() >= 10, "word2vec: vocabulary too small");
  const int64_t V = counter.index.size(), E = 24;
  w2v::Vocab vocab;
  for (int64_t i = 0; i < V; ++i) vocab.index.insert(counter.index.key(static_cast<int32_t>(i)));
  std::vector<uint32_t> keep(V);
  w2v::subsample_thresholds(keep.data(), counter.counts.data(), V, 1e-3);
  const w2v::NegativeSampler sampler(counter.counts.data(), V, 0.75);
  double total_p = 0;
  for (double p : sampler.probabilities()) total_p += p;
  expect(std::fabs(total_p - 1.0) < 1e-9, "word2vec: sampler probabilities do not sum to 1");
  for (int sg = 0; sg < 2; ++sg) {
    std::vector<float> syn0(V * E), syn1(V * E, 0.0f);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-0.5f / E, 0.5f / E);
    for (float& v : syn0) v = u(rng);
    const std::vector<float> start = syn0;
    w2v::TrainState st;
    st.syn0 = syn0.data();
    st.syn1neg = syn1.data();
    st.V = V;
    st.sampler = &sampler;
    st.keep = keep.data();
    st.total_words = 4 * counter.total_words;
    w2v::TrainConfig cfg;
    cfg.sg = sg;
    cfg.E = E;
    cfg.window = 3;
    cfg.negative = 4;
    cfg.compute_loss = true;
    cfg.workers = 2;
    const int64_t S = static_cast<int64_t>(counter.recorded_offsets.size()) - 1;
    for (int epoch = 0; epoch < 2; ++epoch) {
      w2v::train_epoch_ids(st, cfg, counter.recorded_ids.data(), counter.recorded_offsets.data(), S,
                           epoch);
      w2v::train_epoch_file(st, cfg, vocab, path, 2 + epoch);
    }
    bool finite = true, moved = false;
    for (int64_t i = 0; i < V * E; ++i) {
      finite = finite && std::isfinite(syn0[i]) && std::isfinite(syn1[i]);
      moved = moved || syn0[i] != start[i];
    }
    const std::string what = sg ? "word2vec skip-gram" : "word2vec CBOW";
    expect(finite, what + ": non-finite vectors");
    expect(moved, what + ": training did not change the vectors");
    expect(st.loss > 0 && std::isfinite(st.loss), what + ": loss not positive and finite");
    expect(st.words_done.load() > 0, what + ": no progress recorded");
    // score the corpus under these weights (syn1neg's as the tree's): two workers in jobs of 7
    // sentences give one worker's scores
    const w2v::HuffmanTree tree = w2v::huffman_tree(counter.counts.data(), V);
    w2v::ScoreModel sm;
    sm.syn0 = syn0.data();
    sm.syn1 = syn1.data();
    sm.code_offsets = tree.offsets.data();
    sm.codes = tree.codes.data();
    sm.points = tree.points.data();
    sm.E = E;
    sm.window = 3;
    sm.sg = sg;
    std::vector<float> one(S), two(S);
    w2v::score_sentences(one.data(), sm, counter.recorded_ids.data(),
                         counter.recorded_offsets.data(), S, 1, 1000);
    w2v::score_sentences(two.data(), sm, counter.recorded_ids.data(),
                         counter.recorded_offsets.data(), S, 2, 7);
    for (int64_t s = 0; s < S; ++s) {
      expect(one[s] == two[s] && one[s] < 0, what + ": score differs between workers");
    }
  }
  std::remove(path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  check_layer(CellMode::kRnnTanh, false, 0.0, true, 0, "rnn_tanh");
  check_layer(CellMode::kRnnRelu, false, 0.0, true, 0, "rnn_relu");
  check_layer(CellMode::kLstm, false, 0.0, true, 0, "lstm");
  check_layer(CellMode::kLstm, true, 0.3, true, 0, "lstm peephole clip");
  check_layer(CellMode::kLstm, false, 0.0, true, 7, "lstm projection");
  check_layer(CellMode::kGru, false, 0.0, true, 0, "gru");
  check_layer(CellMode::kGru, false, 0.0, false, 0, "gru reset_before");
  check_pool();
  check_handle_pool();
  check_cublas_status_text();
  check_small_layers();
  check_thread_splits(CellMode::kRnnTanh, "rnn_tanh");
  check_thread_splits(CellMode::kLstm, "lstm");
  check_thread_splits(CellMode::kGru, "gru");
  for (int64_t rows : {int64_t{32}, int64_t{17}, int64_t{16}, int64_t{7}, int64_t{3},
                       int64_t{1}}) {  // the float32 step kernel (32, 17: two groups of rows)
    check_step(CellMode::kRnnTanh, false, true, "rnn_tanh step", rows);
    check_step(CellMode::kLstm, true, true, "lstm step", rows);
    check_step(CellMode::kLstm, false, true, "lstm step without peepholes", rows);
    check_step(CellMode::kGru, false, true, "gru step", rows);
    check_step(CellMode::kGru, false, false, "gru reset_before step", rows);
  }
  check_one_step_training(CellMode::kRnnTanh, false, true, "rnn_tanh");
  check_one_step_training(CellMode::kLstm, true, true, "lstm peephole clip");
  check_one_step_training(CellMode::kGru, false, true, "gru");
  check_step_weight_offsets(CellMode::kLstm, "lstm step");
  check_step_weight_offsets(CellMode::kGru, "gru step");
  check_step_weight_offsets(CellMode::kRnnTanh, "rnn_tanh step");
  check_refusals();
  check_nn_kernels();
  check_word2vec(dir);
  std::printf("%s: %d failure(s)\n", failures ? "FAILED" : "OK", failures);
  return failures ? 1 : 0;
}
