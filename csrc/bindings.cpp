// bindings.cpp — the only file that knows Python: it checks every array (dtype, shape, contiguity)
// and raises ValueError/TypeError naming the argument, allocates outputs as numpy arrays, releases
// the GIL around the C++ core, and keeps a per-thread scratch arena reused across calls.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cuda/device_memory.h"
#include "fastrnn/common.h"
#include "fastrnn/linear.h"
#include "fastrnn/rnn.h"
#include "fastrnn/rnn_gpu.h"
#include "fastrnn/softmax_xent.h"
#include "fastrnn/word2vec.h"
#include "fastrnn/word2vec_gpu.h"

namespace py = pybind11;
using fastrnn::CellMode;
using fastrnn::RnnDesc;

namespace {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "(";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << (shape.size() == 1 ? ",)" : ")");
  return out.str();
}

std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

// Checks that `obj` is a C-contiguous array of T with exactly `shape`; returns its data.
template <class T>
const T* checked(const py::object& obj, const char* name, const std::vector<int64_t>& shape) {
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(std::string(name) + ": expected a numpy array");
  }
  py::array a = py::reinterpret_borrow<py::array>(obj);
  if (!py::isinstance<py::array_t<T>>(a) || !a.dtype().equal(py::dtype::of<T>())) {
    throw py::type_error(std::string(name) + ": expected dtype " +
                         std::string(py::str(py::dtype::of<T>())) + ", got " +
                         std::string(py::str(a.dtype())));
  }
  if (shape_of(a) != shape) {
    throw py::value_error(std::string(name) + ": expected shape " + shape_str(shape) + ", got " +
                          shape_str(shape_of(a)));
  }
  if (!(a.flags() & py::array::c_style)) {
    throw py::value_error(std::string(name) + ": expected a C-contiguous array");
  }
  return static_cast<const T*>(a.data());
}

// A 1-dimensional C-contiguous array of T of any length `*n`; returns its data.
template <class T>
const T* checked_vector(const py::object& obj, const char* name, int64_t* n) {
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(std::string(name) + ": expected a 1-dimensional numpy array, got " +
                         std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  }
  const py::array a = py::reinterpret_borrow<py::array>(obj);
  if (a.ndim() != 1) {
    throw py::value_error(std::string(name) + ": expected 1 dimension, got shape " +
                          shape_str(shape_of(a)));
  }
  *n = a.shape(0);
  return checked<T>(obj, name, {*n});
}

template <class T>
const T* optional_checked(const py::object& obj, const char* name,
                          const std::vector<int64_t>& shape) {
  return obj.is_none() ? nullptr : checked<T>(obj, name, shape);
}

template <class T>
T* mutable_checked(const py::object& obj, const char* name, const std::vector<int64_t>& shape) {
  const T* p = optional_checked<T>(obj, name, shape);
  if (p != nullptr && !py::reinterpret_borrow<py::array>(obj).writeable()) {
    throw py::value_error(std::string(name) + ": array is read-only");
  }
  return const_cast<T*>(p);
}

const int64_t* checked_lengths(const py::object& obj, int64_t T, int64_t N) {
  if (obj.is_none()) return nullptr;
  const int64_t* p = checked<int64_t>(obj, "lengths", {N});
  for (int64_t n = 0; n < N; ++n) {
    if (p[n] < 1 || p[n] > T) {
      throw py::value_error("lengths: each length must be in 1..T=" + std::to_string(T) +
                            ", got lengths[" + std::to_string(n) + "] = " + std::to_string(p[n]));
    }
  }
  return p;
}

// Per-thread scratch reused across calls, so large workspaces are not faulted in every call.
template <class T>
T* scratch(int64_t elements) {
  struct AlignedDelete {
    void operator()(double* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  thread_local std::unique_ptr<double[], AlignedDelete> block;
  thread_local int64_t capacity = 0;  // in doubles
  const int64_t need = (elements * static_cast<int64_t>(sizeof(T)) + 7) / 8;
  if (need > capacity) {
    block.reset();
    capacity = 0;  // (until the allocation below succeeds: if it throws, the next call retries)
    block.reset(static_cast<double*>(
        ::operator new[](sizeof(double) * static_cast<size_t>(need), std::align_val_t(64))));
    capacity = need;
  }
  return reinterpret_cast<T*>(block.get());
}

template <class Real>
py::array_t<Real> empty(const std::vector<int64_t>& shape) {
  return py::array_t<Real>(std::vector<py::ssize_t>(shape.begin(), shape.end()));
}

// A new array of `shape` when `wanted` (its data in *data), else None (and *data = null): the
// LSTM-only cell-state outputs.
template <class Real>
py::object empty_if(bool wanted, const std::vector<int64_t>& shape, Real** data) {
  *data = nullptr;
  if (!wanted) return py::none();
  auto a = empty<Real>(shape);
  *data = a.mutable_data();
  return std::move(a);
}

struct Weights {
  py::object w_ih, w_hh, b_ih, b_hh, w_hr, w_ch;
};

template <class T>
fastrnn::RnnWeights<T> checked_weights(const RnnDesc& d, const Weights& w) {
  const int64_t GH = d.gates() * d.hidden_size, H = d.hidden_size;
  fastrnn::RnnWeights<T> out;
  out.w_ih = checked<T>(w.w_ih, "weight_ih", {GH, d.input_size});
  out.w_hh = checked<T>(w.w_hh, "weight_hh", {GH, d.state_size()});
  if (d.bias) {
    out.b_ih = checked<T>(w.b_ih, "bias_ih", {GH});
    out.b_hh = checked<T>(w.b_hh, "bias_hh", {GH});
  }
  if (d.proj_size > 0) out.w_hr = checked<T>(w.w_hr, "weight_hr", {d.proj_size, H});
  if (d.peephole) out.w_ch = checked<T>(w.w_ch, "weight_ch", {3, H});
  return out;
}

// Emulated: run the GPU layer driver and kernel bodies on the CPU (rnn_gpu.h) instead of the CPU
// path; the arguments, checks and results are the same.
template <class Real, bool Emulated = false>
py::tuple forward_impl(const RnnDesc& d, const py::array& x_obj, const py::object& lengths_obj,
                       const py::object& h0_obj, const py::object& c0_obj, const Weights& wo,
                       bool reverse, bool training, const py::object& reserve_out) {
  if (x_obj.ndim() != 3) {
    throw py::value_error("x: expected 3 dimensions [T, N, I], got shape " +
                          shape_str(shape_of(x_obj)));
  }
  const int64_t T = x_obj.shape(0), N = x_obj.shape(1);
  if (T < 1 || N < 1) {
    throw py::value_error("x: T and N must be positive, got shape " + shape_str(shape_of(x_obj)));
  }
  fastrnn::check_problem_size(d, T, N);
  const bool lstm = d.mode == CellMode::kLstm;
  const Real* x = checked<Real>(x_obj, "x", {T, N, d.input_size});
  const int64_t* lengths = checked_lengths(lengths_obj, T, N);
  const Real* h0 = optional_checked<Real>(h0_obj, "h0", {N, d.state_size()});
  const Real* c0 = lstm ? optional_checked<Real>(c0_obj, "c0", {N, d.hidden_size}) : nullptr;
  const fastrnn::RnnWeights<Real> w = checked_weights<Real>(d, wo);

  auto y = empty<Real>({T, N, d.state_size()});
  auto h_n = empty<Real>({N, d.state_size()});
  Real* c_n_ptr;
  py::object c_n = empty_if<Real>(lstm, {N, d.hidden_size}, &c_n_ptr);
  py::object reserve = py::none();
  Real* reserve_ptr = nullptr;
  if (training && !reserve_out.is_none()) {
    reserve_ptr =
        mutable_checked<Real>(reserve_out, "reserve_out", {fastrnn::rnn_reserve_size(d, T, N)});
    reserve = reserve_out;
  } else if (training) {
    auto r = empty<Real>({fastrnn::rnn_reserve_size(d, T, N)});
    reserve_ptr = r.mutable_data();
    reserve = r;
  }
  Real* y_ptr = y.mutable_data();
  Real* h_n_ptr = h_n.mutable_data();
  {
    py::gil_scoped_release release;
    if constexpr (Emulated) {
      Real* ws = scratch<Real>(fastrnn::gpu::rnn_forward_workspace_size(d, T, N, training));
      fastrnn::gpu::emulated_rnn_forward<Real>(y_ptr, h_n_ptr, c_n_ptr, reserve_ptr, ws, d, T, N, x,
                                               lengths, h0, c0, w, reverse);
    } else {
      Real* ws = scratch<Real>(fastrnn::rnn_forward_workspace_size(d, T, N, training));
      fastrnn::rnn_forward<Real>(y_ptr, h_n_ptr, c_n_ptr, reserve_ptr, ws, d, T, N, x, lengths, h0,
                                 c0, w, reverse);
    }
  }
  return py::make_tuple(y, h_n, c_n, reserve);
}

template <class Real, bool Emulated = false>
py::tuple backward_impl(const RnnDesc& d, const py::array& dy_obj, const py::object& dh_n_obj,
                        const py::object& dc_n_obj, const py::array& x_obj,
                        const py::object& lengths_obj, const Weights& wo,
                        const py::object& reserve_obj, bool reverse, const Weights& grads,
                        bool need_dx, bool write_grads) {
  if (x_obj.ndim() != 3) throw py::value_error("x: expected 3 dimensions [T, N, I]");
  const int64_t T = x_obj.shape(0), N = x_obj.shape(1), H = d.hidden_size, S = d.state_size();
  fastrnn::check_problem_size(d, T, N);
  const int64_t GH = d.gates() * H;
  const bool lstm = d.mode == CellMode::kLstm;
  const Real* x = checked<Real>(x_obj, "x", {T, N, d.input_size});
  const Real* dy = checked<Real>(dy_obj, "dy", {T, N, S});
  const Real* dh_n = optional_checked<Real>(dh_n_obj, "dh_n", {N, S});
  const Real* dc_n = lstm ? optional_checked<Real>(dc_n_obj, "dc_n", {N, H}) : nullptr;
  const int64_t* lengths = checked_lengths(lengths_obj, T, N);
  const fastrnn::RnnWeights<Real> w = checked_weights<Real>(d, wo);
  const Real* reserve = checked<Real>(reserve_obj, "reserve", {fastrnn::rnn_reserve_size(d, T, N)});
  fastrnn::RnnWeightGrads<Real> dw;
  dw.w_ih = mutable_checked<Real>(grads.w_ih, "grad weight_ih", {GH, d.input_size});
  dw.w_hh = mutable_checked<Real>(grads.w_hh, "grad weight_hh", {GH, S});
  if (d.bias) {
    dw.b_ih = mutable_checked<Real>(grads.b_ih, "grad bias_ih", {GH});
    dw.b_hh = mutable_checked<Real>(grads.b_hh, "grad bias_hh", {GH});
  }
  if (d.proj_size > 0)
    dw.w_hr = mutable_checked<Real>(grads.w_hr, "grad weight_hr", {d.proj_size, H});
  if (d.peephole) dw.w_ch = mutable_checked<Real>(grads.w_ch, "grad weight_ch", {3, H});

  Real* dx_ptr;
  py::object dx = empty_if<Real>(need_dx, {T, N, d.input_size}, &dx_ptr);
  auto dh0 = empty<Real>({N, S});
  Real* dc0_ptr;
  py::object dc0 = empty_if<Real>(lstm, {N, H}, &dc0_ptr);
  Real* dh0_ptr = dh0.mutable_data();
  {
    py::gil_scoped_release release;
    if constexpr (Emulated) {
      if (write_grads) {  // the GPU driver adds: start from zeros
        auto zero = [](Real* p, int64_t n) {
          if (p) std::fill(p, p + n, Real(0));
        };
        zero(dw.w_ih, GH * d.input_size);
        zero(dw.w_hh, GH * S);
        zero(dw.b_ih, GH);
        zero(dw.b_hh, GH);
        zero(dw.w_hr, d.proj_size * H);
        zero(dw.w_ch, 3 * H);
      }
      Real* ws =
          scratch<Real>(fastrnn::gpu::rnn_backward_workspace_size(d, T, N, lengths != nullptr));
      fastrnn::gpu::emulated_rnn_backward<Real>(dx_ptr, dh0_ptr, dc0_ptr, dw, ws, d, T, N, dy, dh_n,
                                                dc_n, x, lengths, w, reserve, reverse);
    } else {
      Real* ws = scratch<Real>(fastrnn::rnn_backward_workspace_size(d, T, N, lengths != nullptr));
      fastrnn::rnn_backward<Real>(dx_ptr, dh0_ptr, dc0_ptr, dw, ws, d, T, N, dy, dh_n, dc_n, x,
                                  lengths, w, reserve, reverse, write_grads);
    }
  }
  return py::make_tuple(dx, dh0, dc0);
}

// One inference step of a cell: x [N,I], h [N,S], c [N,H] (LSTM) -> (h' [N,S], c' [N,H] or None).
template <class Real>
py::tuple step_impl(const RnnDesc& d, const py::array& x_obj, const py::object& h_obj,
                    const py::object& c_obj, const Weights& wo) {
  if (x_obj.ndim() != 2) {
    throw py::value_error("x: expected 2 dimensions [N, I], got shape " +
                          shape_str(shape_of(x_obj)));
  }
  const int64_t N = x_obj.shape(0), H = d.hidden_size, S = d.state_size();
  if (N < 1) throw py::value_error("x: expected N >= 1, got shape " + shape_str(shape_of(x_obj)));
  fastrnn::check_problem_size(d, 1, N);
  const bool lstm = d.mode == CellMode::kLstm;
  const Real* x = checked<Real>(x_obj, "x", {N, d.input_size});
  const Real* h = optional_checked<Real>(h_obj, "h", {N, S});
  const Real* c = lstm ? optional_checked<Real>(c_obj, "c", {N, H}) : nullptr;
  const fastrnn::RnnWeights<Real> w = checked_weights<Real>(d, wo);
  auto h_new = empty<Real>({N, S});
  Real* c_ptr;
  py::object c_new = empty_if<Real>(lstm, {N, H}, &c_ptr);
  Real* h_ptr = h_new.mutable_data();
  {
    py::gil_scoped_release release;
    Real* ws = scratch<Real>(fastrnn::rnn_step_workspace_size(d, N));
    fastrnn::rnn_step<Real>(h_ptr, c_ptr, ws, d, N, x, h, c, w);
  }
  return py::make_tuple(h_new, c_new);
}

// Whether the array `name` is float64 (true) or float32 (false); any other dtype is a TypeError.
bool is_float64(const py::array& a, const char* name) {
  if (a.dtype().equal(py::dtype::of<double>())) return true;
  if (a.dtype().equal(py::dtype::of<float>())) return false;
  throw py::type_error(std::string(name) + ": expected dtype float32 or float64, got " +
                       std::string(py::str(a.dtype())));
}

CellMode parse_mode(const std::string& mode) {
  if (mode == "rnn_tanh") return CellMode::kRnnTanh;
  if (mode == "rnn_relu") return CellMode::kRnnRelu;
  if (mode == "lstm") return CellMode::kLstm;
  if (mode == "gru") return CellMode::kGru;
  throw py::value_error("mode: expected one of 'rnn_tanh', 'rnn_relu', 'lstm', 'gru', got '" +
                        mode + "'");
}

std::string mode_name(CellMode m) {
  switch (m) {
    case CellMode::kRnnTanh:
      return "rnn_tanh";
    case CellMode::kRnnRelu:
      return "rnn_relu";
    case CellMode::kLstm:
      return "lstm";
    default:
      return "gru";
  }
}

// Defines the layer forward and backward entry points (the CPU path, or the emulated GPU one).
template <bool Emulated>
void def_layer_entry_points(py::module_& m, const char* forward_name, const char* backward_name,
                            const char* what) {
  m.def(
      forward_name,
      [](const RnnDesc& d, const py::array& x, const py::object& lengths, const py::object& h0,
         const py::object& c0, const py::object& w_ih, const py::object& w_hh,
         const py::object& b_ih, const py::object& b_hh, const py::object& w_hr,
         const py::object& w_ch, bool reverse, bool training, const py::object& reserve_out) {
        const Weights w{w_ih, w_hh, b_ih, b_hh, w_hr, w_ch};
        return is_float64(x, "x") ? forward_impl<double, Emulated>(d, x, lengths, h0, c0, w,
                                                                   reverse, training, reserve_out)
                                  : forward_impl<float, Emulated>(d, x, lengths, h0, c0, w, reverse,
                                                                  training, reserve_out);
      },
      (std::string("Runs one layer in one direction over a sequence. Returns (y, h_n, c_n, "
                   "reserve). In training the reserve is written into reserve_out when given "
                   "(an array of rnn_reserve_size elements no context still needs), else into a "
                   "new array.") +
       what)
          .c_str(),
      py::arg("desc"), py::arg("x"), py::arg("lengths"), py::arg("h0"), py::arg("c0"),
      py::arg("weight_ih"), py::arg("weight_hh"), py::arg("bias_ih"), py::arg("bias_hh"),
      py::arg("weight_hr"), py::arg("weight_ch"), py::arg("reverse"), py::arg("training"),
      py::arg("reserve_out") = py::none());

  m.def(
      backward_name,
      [](const RnnDesc& d, const py::array& dy, const py::object& dh_n, const py::object& dc_n,
         const py::array& x, const py::object& lengths, const py::object& w_ih,
         const py::object& w_hh, const py::object& b_ih, const py::object& b_hh,
         const py::object& w_hr, const py::object& w_ch, const py::object& reserve, bool reverse,
         const py::object& g_w_ih, const py::object& g_w_hh, const py::object& g_b_ih,
         const py::object& g_b_hh, const py::object& g_w_hr, const py::object& g_w_ch, bool need_dx,
         bool write_grads) {
        const Weights w{w_ih, w_hh, b_ih, b_hh, w_hr, w_ch};
        const Weights g{g_w_ih, g_w_hh, g_b_ih, g_b_hh, g_w_hr, g_w_ch};
        return is_float64(x, "x")
                   ? backward_impl<double, Emulated>(d, dy, dh_n, dc_n, x, lengths, w, reserve,
                                                     reverse, g, need_dx, write_grads)
                   : backward_impl<float, Emulated>(d, dy, dh_n, dc_n, x, lengths, w, reserve,
                                                    reverse, g, need_dx, write_grads);
      },
      (std::string("Backward of a training forward; accumulates into the grad_* arrays (with "
                   "write_grads=True writes them, whatever they held). Returns (dx, dh0, dc0); dx "
                   "is None (and not computed) with need_dx=False.") +
       what)
          .c_str(),
      py::arg("desc"), py::arg("dy"), py::arg("dh_n"), py::arg("dc_n"), py::arg("x"),
      py::arg("lengths"), py::arg("weight_ih"), py::arg("weight_hh"), py::arg("bias_ih"),
      py::arg("bias_hh"), py::arg("weight_hr"), py::arg("weight_ch"), py::arg("reserve"),
      py::arg("reverse"), py::arg("grad_weight_ih"), py::arg("grad_weight_hh"),
      py::arg("grad_bias_ih"), py::arg("grad_bias_hh"), py::arg("grad_weight_hr"),
      py::arg("grad_weight_ch"), py::arg("need_dx") = true, py::arg("write_grads") = false);
}

}  // namespace

void bind_word2vec(py::module_& m);
void bind_softmax_xent(py::module_& m);
void bind_linear(py::module_& m);
void bind_gpu_rnn(py::module_& m);

PYBIND11_MODULE(_C, m) {
  m.doc() = "fastrnn's C++ core (private: use the fastrnn package)";
  py::register_exception<fastrnn::Error>(m, "CoreError", PyExc_ValueError);

  m.def("version", [] { return std::string(FASTRNN_VERSION); });
  m.def("compiler", [] { return std::string(FASTRNN_COMPILER); });
  m.def("simd_level", &fastrnn::simd_level);
  m.def("blas_version", &fastrnn::blas_version);
  m.def("cuda_compiled", &fastrnn::cuda_compiled);
  m.def("cuda_device_count", &fastrnn::cuda_device_count);
  m.def("cuda_runtime_info", &fastrnn::cuda_runtime_info);
  // Waits for another thread's parallel region to end before resizing the pool: without the GIL.
  m.def("set_num_threads", &fastrnn::set_num_threads, py::arg("n"),
        py::call_guard<py::gil_scoped_release>());
  m.def("get_num_threads", &fastrnn::get_num_threads);
  m.def("use_openmp_runtime", &fastrnn::use_openmp_runtime, py::arg("path"),
        "Runs the parallel work on the loaded OpenMP runtime at `path` ('' = fastrnn's pool); "
        "False when no such runtime is loaded.");
  m.def("openmp_runtime", &fastrnn::openmp_runtime,
        "The OpenMP runtime running the parallel work, or '' for fastrnn's pool.");
  m.def("default_num_threads", &fastrnn::default_num_threads,
        "FASTRNN_NUM_THREADS, else OMP_NUM_THREADS, else the CPUs the process may run on.");

  py::class_<RnnDesc>(m, "RnnDesc")
      .def(py::init([](const std::string& mode, int64_t input_size, int64_t hidden_size,
                       int64_t proj_size, bool bias, bool reset_after, bool peephole,
                       double cell_clip) {
             RnnDesc d;
             d.mode = parse_mode(mode);
             d.input_size = input_size;
             d.hidden_size = hidden_size;
             d.proj_size = proj_size;
             d.bias = bias;
             d.reset_after = reset_after;
             d.peephole = peephole;
             d.cell_clip = cell_clip;
             d.validate();
             return d;
           }),
           py::arg("mode"), py::arg("input_size"), py::arg("hidden_size"), py::arg("proj_size") = 0,
           py::arg("bias") = true, py::arg("reset_after") = true, py::arg("peephole") = false,
           py::arg("cell_clip") = 0.0)
      .def_property_readonly("mode", [](const RnnDesc& d) { return mode_name(d.mode); })
      .def_readonly("input_size", &RnnDesc::input_size)
      .def_readonly("hidden_size", &RnnDesc::hidden_size)
      .def_readonly("proj_size", &RnnDesc::proj_size)
      .def_readonly("bias", &RnnDesc::bias)
      .def_readonly("reset_after", &RnnDesc::reset_after)
      .def_readonly("peephole", &RnnDesc::peephole)
      .def_readonly("cell_clip", &RnnDesc::cell_clip)
      .def_property_readonly("gates", &RnnDesc::gates)
      .def_property_readonly("state_size", &RnnDesc::state_size)
      .def(py::pickle(  // so that the cells and layers holding one pickle
          [](const RnnDesc& d) {
            return py::make_tuple(mode_name(d.mode), d.input_size, d.hidden_size, d.proj_size,
                                  d.bias, d.reset_after, d.peephole, d.cell_clip);
          },
          [](const py::tuple& t) {
            if (t.size() != 8) throw py::value_error("RnnDesc: expected a state of 8 fields");
            RnnDesc d;
            d.mode = parse_mode(t[0].cast<std::string>());
            d.input_size = t[1].cast<int64_t>();
            d.hidden_size = t[2].cast<int64_t>();
            d.proj_size = t[3].cast<int64_t>();
            d.bias = t[4].cast<bool>();
            d.reset_after = t[5].cast<bool>();
            d.peephole = t[6].cast<bool>();
            d.cell_clip = t[7].cast<double>();
            d.validate();
            return d;
          }));

  m.def(
      "rnn_reserve_size",
      [](const RnnDesc& d, int64_t T, int64_t N) {
        if (T < 1 || N < 1) throw py::value_error("T and N must be positive");
        return fastrnn::rnn_reserve_size(d, T, N);
      },
      "Elements of the training reserve rnn_forward returns for T steps of N sequences.",
      py::arg("desc"), py::arg("T"), py::arg("N"));

  m.def(
      "_rnn_cpu_loop_split", &fastrnn::rnn_cpu_loop_split,
      "How the CPU time loop shares `N` rows among the threads set, in training or inference (for "
      "tests).",
      py::arg("desc"), py::arg("N"), py::arg("training") = true);
  m.def("_rnn_cpu_l2_cache_bytes", &fastrnn::rnn_cpu_l2_cache_bytes,
        "Bytes of one core's L2 cache as the CPU time loop's plan takes it (for tests).");
  m.def("_rnn_cpu_fused_step_rows", &fastrnn::rnn_cpu_fused_step_rows,
        "Rows from which a single float32 inference step takes the fused CPU loop (for tests; the "
        "largest int64 without the fused kernels).");

  def_layer_entry_points<false>(m, "rnn_forward", "rnn_backward", "");
  // The same entry points on the GPU layer driver and kernel bodies, run by the grid emulator on
  // the CPU (for the tests; see fastrnn/rnn_gpu.h).
  def_layer_entry_points<true>(m, "_emulated_rnn_forward", "_emulated_rnn_backward",
                               " (GPU kernels under the CPU grid emulator, for tests)");
  m.def(
      "rnn_step",
      [](const RnnDesc& d, const py::array& x, const py::object& h, const py::object& c,
         const py::object& w_ih, const py::object& w_hh, const py::object& b_ih,
         const py::object& b_hh, const py::object& w_ch) {
        const Weights w{w_ih, w_hh, b_ih, b_hh, py::none(), w_ch};
        return is_float64(x, "x") ? step_impl<double>(d, x, h, c, w)
                                  : step_impl<float>(d, x, h, c, w);
      },
      "One inference step of a cell. Returns (h', c' or None).", py::arg("desc"), py::arg("x"),
      py::arg("h"), py::arg("c"), py::arg("weight_ih"), py::arg("weight_hh"), py::arg("bias_ih"),
      py::arg("bias_hh"), py::arg("weight_ch"));

  bind_word2vec(m);
  bind_softmax_xent(m);
  bind_linear(m);
  bind_gpu_rnn(m);
}

// ============================================================================================
// word2vec: the vocabulary counter and index, id corpora, sampling tables and the trainer.
// Python corpora (iterables of token lists) are read here with the GIL held; training releases
// it for a whole epoch, and its progress can be read from another Python thread meanwhile.
// ============================================================================================

namespace {

namespace w2v = fastrnn::w2v;

// What to do about a token that is not a str (gensim takes any hashable, e.g. int item ids).
constexpr const char* kStrKeysAdvice =
    "fastrnn's Word2Vec has str keys only: map other tokens such as int ids to str first, e.g. "
    "[[str(t) for t in s] for s in corpus] (and str(id) to look them up)";

// Calls on_token(view) for every token of every sentence of a Python iterable of token lists and
// end_sentence() after each; a sentence or token it cannot take is a TypeError or ValueError
// naming the argument `name`, the sentence and the token. An exception the iterable raises
// passes through as it is.
template <class OnToken, class EndSentence>
void for_each_python_token(const py::handle& corpus, const std::string& name, OnToken&& on_token,
                           EndSentence&& end) {
  py::iterator it = py::iter(corpus);
  int64_t s = 0;
  for (; it != py::iterator::sentinel(); ++it, ++s) {
    PyObject* sent = it->ptr();
    const std::string where = name + ": sentence " + std::to_string(s);
    if (PyUnicode_Check(sent) || PyBytes_Check(sent)) {
      throw py::type_error(where + " is a string; expected a list of str tokens");
    }
    const std::string not_iterable = where + " is not an iterable of str tokens";
    py::object seq = py::reinterpret_steal<py::object>(PySequence_Fast(sent, not_iterable.c_str()));
    if (!seq) throw py::error_already_set();
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.ptr());
    PyObject** items = PySequence_Fast_ITEMS(seq.ptr());
    for (Py_ssize_t j = 0; j < n; ++j) {
      if (!PyUnicode_Check(items[j])) {
        throw py::type_error(where + ", token " + std::to_string(j) + ": expected str, got " +
                             std::string(Py_TYPE(items[j])->tp_name) + "; " + kStrKeysAdvice);
      }
      Py_ssize_t len = 0;
      const char* utf8 = PyUnicode_AsUTF8AndSize(items[j], &len);
      if (utf8 == nullptr) {  // a lone surrogate ('\udc80', from errors="surrogateescape")
        PyErr_Clear();
        throw py::value_error(where + ", token " + std::to_string(j) +
                              ": not encodable as UTF-8 (a lone surrogate)");
      }
      on_token(std::string_view(utf8, static_cast<size_t>(len)));
    }
    end();
  }
}

std::string_view bytes_view(const py::bytes& b) {
  char* data = nullptr;
  Py_ssize_t n = 0;
  if (PyBytes_AsStringAndSize(b.ptr(), &data, &n) != 0) throw py::error_already_set();
  return std::string_view(data, static_cast<size_t>(n));
}

py::tuple id_corpus_result(w2v::IdCorpus&& c) {
  c.close_sentence();
  auto ids = empty<int32_t>({static_cast<int64_t>(c.ids.size())});
  std::copy(c.ids.begin(), c.ids.end(), ids.mutable_data());
  auto offsets = empty<int64_t>({static_cast<int64_t>(c.offsets.size())});
  std::copy(c.offsets.begin(), c.offsets.end(), offsets.mutable_data());
  return py::make_tuple(ids, offsets, c.raw_words, c.raw_sentences);
}

// An id corpus (encode_sentences'): ids [W] int32 in 0..V-1, offsets [S+1] int64 from 0 to W,
// never decreasing (sentence s is ids[offsets[s]:offsets[s+1]]), checked.
struct IdCorpusArrays {
  const int32_t* ids;
  const int64_t* offsets;
  int64_t S;  // sentences
};
IdCorpusArrays checked_id_corpus(const py::object& ids_obj, const py::object& offsets_obj,
                                 int64_t V) {
  int64_t W = 0, S1 = 0;
  const int32_t* ids = checked_vector<int32_t>(ids_obj, "ids", &W);
  const int64_t* offsets = checked_vector<int64_t>(offsets_obj, "offsets", &S1);
  if (S1 < 1 || offsets[0] != 0 || offsets[S1 - 1] != W) {
    throw py::value_error("offsets: must start at 0 and end at len(ids)");
  }
  for (int64_t s = 0; s + 1 < S1; ++s) {
    if (offsets[s + 1] < offsets[s]) throw py::value_error("offsets: must not decrease");
  }
  for (int64_t i = 0; i < W; ++i) {
    if (ids[i] < 0 || ids[i] >= V) {
      throw py::value_error("ids[" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
                            ", expected 0.." + std::to_string(V - 1));
    }
  }
  return {ids, offsets, S1 - 1};
}

// A Huffman tree's arrays (w2v_huffman's) for V words, checked: offsets [V+1] from 0, never
// decreasing, paths of at most V nodes; codes 0 or 1; points 0..V-1.
struct TreeArrays {
  const int64_t* offsets;
  const uint8_t* codes;
  const int32_t* points;
  int64_t max_code;  // the longest path
};
TreeArrays checked_tree(const py::object& offsets_obj, const py::object& codes_obj,
                        const py::object& points_obj, int64_t V) {
  const int64_t* off = checked<int64_t>(offsets_obj, "code_offsets", {V + 1});
  const int64_t n = off[V];
  const uint8_t* codes = checked<uint8_t>(codes_obj, "codes", {n});
  const int32_t* points = checked<int32_t>(points_obj, "points", {n});
  TreeArrays tree{off, codes, points, 0};
  const auto at = [](const char* name, int64_t k, int64_t value) {
    return std::string(name) + "[" + std::to_string(k) + "] = " + std::to_string(value);
  };
  if (off[0] != 0) throw py::value_error(at("code_offsets", 0, off[0]) + ", expected 0");
  for (int64_t i = 0; i < V; ++i) {
    if (off[i + 1] < off[i] || off[i + 1] - off[i] > V) {
      throw py::value_error(at("code_offsets", i + 1, off[i + 1]) + ": expected a path of 0.." +
                            std::to_string(V) + " nodes after code_offsets[" + std::to_string(i) +
                            "] = " + std::to_string(off[i]));
    }
    tree.max_code = std::max(tree.max_code, off[i + 1] - off[i]);
  }
  for (int64_t k = 0; k < n; ++k) {
    if (codes[k] > 1) throw py::value_error(at("codes", k, codes[k]) + ", expected 0 or 1");
    if (points[k] < 0 || points[k] >= V) {
      throw py::value_error(at("points", k, points[k]) + ", expected 0.." + std::to_string(V - 1));
    }
  }
  return tree;
}

// The trainer with the arrays it writes and the tables it reads kept alive. device: "cpu" (the
// Hogwild CPU workers), "cuda" (the GPU sentence kernel) or "emulated" (that kernel under the
// grid emulator, for tests).
struct PyTrainer {
  w2v::TrainState st;
  w2v::TrainConfig cfg;
  std::string device;
  py::object syn0, syn1neg, keep_obj, lockf_obj;  // kept alive while the trainer reads them
  py::object syn1, code_offsets, codes, points;   // (hierarchical softmax's)
  std::shared_ptr<w2v::NegativeSampler> sampler;
  int64_t launch_words = fastrnn::gpu::kW2vLaunchWords;  // the GPU devices' launch bound
  std::vector<fastrnn::gpu::W2vLaunch> launches;         // of the last train_ids on a GPU device
};

}  // namespace

void bind_word2vec(py::module_& m) {
  m.attr("W2V_STR_KEYS_ADVICE") = kStrKeysAdvice;
  py::class_<w2v::VocabCounter>(m, "W2vVocabCounter")
      .def(py::init<int64_t>(), py::arg("max_vocab_size") = 0)
      .def(
          "add_sentences",
          [](w2v::VocabCounter& c, const py::handle& corpus, const std::string& name) {
            for_each_python_token(
                corpus, name, [&](std::string_view w) { c.add_word(w); },
                [&] { c.end_sentence(); });
          },
          "Counts the tokens of an iterable of token lists (errors name it `name`).",
          py::arg("sentences"), py::arg("name") = "sentences")
      .def(
          "add_text",
          [](w2v::VocabCounter& c, const py::bytes& chunk) {
            const std::string_view v = bytes_view(chunk);
            c.add_text(v.data(), static_cast<int64_t>(v.size()));
          },
          "Counts a chunk of UTF-8 text (lines may span chunks).", py::arg("chunk"))
      .def("finish_text", &w2v::VocabCounter::finish_text)
      .def("count_file", &w2v::VocabCounter::count_file, py::arg("path"),
           py::call_guard<py::gil_scoped_release>())
      .def_readwrite("recording", &w2v::VocabCounter::recording)
      .def(
          "recorded",
          [](const w2v::VocabCounter& c) -> py::object {
            if (!c.recording) return py::none();
            auto ids = empty<int32_t>({static_cast<int64_t>(c.recorded_ids.size())});
            std::copy(c.recorded_ids.begin(), c.recorded_ids.end(), ids.mutable_data());
            auto offsets = empty<int64_t>({static_cast<int64_t>(c.recorded_offsets.size())});
            std::copy(c.recorded_offsets.begin(), c.recorded_offsets.end(), offsets.mutable_data());
            return py::make_tuple(ids, offsets);
          },
          "The recorded corpus as (index numbers [W] int32, offsets [S+1] int64), or None.")
      .def_readonly("total_words", &w2v::VocabCounter::total_words)
      .def_readonly("sentences", &w2v::VocabCounter::sentences)
      .def_readonly("min_reduce", &w2v::VocabCounter::min_reduce)
      .def(
          "result",
          [](const w2v::VocabCounter& c) {
            const int64_t n = c.index.size();
            py::list words(static_cast<py::ssize_t>(n));  // py::ssize_t: 32 bits on a 32-bit CPU
            for (int64_t i = 0; i < n; ++i) {
              const std::string& k = c.index.key(static_cast<int32_t>(i));
              PyObject* w =
                  PyUnicode_DecodeUTF8(k.data(), static_cast<Py_ssize_t>(k.size()), nullptr);
              if (w == nullptr) {
                PyErr_Clear();
                throw py::value_error("corpus: the token " +
                                      std::string(py::repr(py::bytes(k.data(), k.size()))) +
                                      " is not valid UTF-8 (word2vec corpora must be UTF-8 text)");
              }
              words[i] = py::reinterpret_steal<py::object>(w);
            }
            auto counts = empty<int64_t>({n});
            std::copy(c.counts.begin(), c.counts.end(), counts.mutable_data());
            return py::make_tuple(words, counts);
          },
          "(words in first-seen order, their counts [V])");

  py::class_<w2v::Vocab, std::shared_ptr<w2v::Vocab>>(m, "W2vVocab")
      .def(py::init([](const py::list& words) {
             auto v = std::make_shared<w2v::Vocab>();
             for (const py::handle& w : words) {
               if (!PyUnicode_Check(w.ptr())) throw py::type_error("words: expected str items");
               Py_ssize_t len = 0;
               const char* utf8 = PyUnicode_AsUTF8AndSize(w.ptr(), &len);
               if (utf8 == nullptr) throw py::error_already_set();
               const std::string_view key(utf8, static_cast<size_t>(len));
               if (v->index.insert(key) != v->index.size() - 1) {
                 throw py::value_error("words: duplicate word '" + std::string(key) + "'");
               }
             }
             return v;
           }),
           py::arg("words"))
      .def("__len__", &w2v::Vocab::size)
      .def("find", [](const w2v::Vocab& v, const std::string& w) { return v.find(w); })
      .def(
          "encode_sentences",
          [](const w2v::Vocab& v, const py::handle& corpus, const std::string& name) {
            w2v::IdCorpus c;
            for_each_python_token(
                corpus, name,
                [&](std::string_view w) {
                  ++c.raw_words;
                  const int32_t id = v.find(w);
                  if (id >= 0) c.add_id(id);
                },
                [&] { c.end_sentence(); });
            return id_corpus_result(std::move(c));
          },
          "An iterable of token lists as (ids [W] int32, offsets [S+1] int64, raw_words, "
          "raw_sentences); unknown words are dropped, sentences over 10,000 words split (errors "
          "name "
          "it `name`).",
          py::arg("sentences"), py::arg("name") = "sentences")
      .def(
          "count_file_words",
          [](const w2v::Vocab& v, const std::string& path, int workers) {
            py::gil_scoped_release release;
            return w2v::count_file_words(v, path, workers);
          },
          py::arg("path"), py::arg("workers"));

  py::class_<w2v::IdCorpusBuilder>(m, "W2vIdCorpusBuilder")
      .def(py::init(
               [](const std::shared_ptr<w2v::Vocab>& v) { return new w2v::IdCorpusBuilder(*v); }),
           py::arg("vocab"), py::keep_alive<1, 2>())
      .def(
          "add_text",
          [](w2v::IdCorpusBuilder& b, const py::bytes& chunk) {
            const std::string_view v = bytes_view(chunk);
            b.add_text(v.data(), static_cast<int64_t>(v.size()));
          },
          py::arg("chunk"))
      .def("result", [](w2v::IdCorpusBuilder& b) {
        b.finish_text();
        return id_corpus_result(std::move(b.corpus));
      });

  m.def(
      "w2v_subsample_thresholds",
      [](const py::object& counts_obj, double sample) {
        int64_t V = 0;
        const int64_t* counts = checked_vector<int64_t>(counts_obj, "counts", &V);
        auto keep = empty<uint32_t>({V});
        w2v::subsample_thresholds(keep.mutable_data(), counts, V, sample);
        return keep;
      },
      "word2vec.c's keep thresholds [V] uint32 (keep when a 32-bit draw <= threshold).",
      py::arg("counts"), py::arg("sample"));

  m.def(
      "w2v_huffman",
      [](const py::object& counts_obj) {
        int64_t V = 0;
        const int64_t* counts = checked_vector<int64_t>(counts_obj, "counts", &V);
        w2v::HuffmanTree t;
        {
          py::gil_scoped_release release;
          t = w2v::huffman_tree(counts, V);
        }
        const auto n = static_cast<int64_t>(t.codes.size());
        auto offsets = empty<int64_t>({V + 1});
        auto codes = empty<uint8_t>({n});
        auto points = empty<int32_t>({n});
        std::copy(t.offsets.begin(), t.offsets.end(), offsets.mutable_data());
        std::copy(t.codes.begin(), t.codes.end(), codes.mutable_data());
        std::copy(t.points.begin(), t.points.end(), points.mutable_data());
        return py::make_tuple(offsets, codes, points);
      },
      "Hierarchical softmax's Huffman tree of counts [V] int64, as gensim builds it: (offsets "
      "[V+1] int64, codes [n] uint8, points [n] int32); word i's path is codes and points "
      "[offsets[i]:offsets[i+1]].",
      py::arg("counts"));

  m.def(
      "w2v_score",
      [](const py::object& syn0_obj, const py::object& syn1_obj, const py::object& offsets_obj,
         const py::object& codes_obj, const py::object& points_obj, const py::object& ids_obj,
         const py::object& sentence_obj, int window, bool sg, bool cbow_mean, int workers,
         int64_t chunksize) {
        if (!py::isinstance<py::array>(syn0_obj)) {
          throw py::type_error("syn0: expected a [V, E] float32 array");
        }
        const py::array a = py::reinterpret_borrow<py::array>(syn0_obj);
        if (a.ndim() != 2)
          throw py::value_error("syn0: expected [V, E], got " + shape_str(shape_of(a)));
        const int64_t V = a.shape(0), E = a.shape(1);
        if (window < 1 || workers < 1 || chunksize < 1) {
          throw py::value_error("window, workers and chunksize must be positive, got " +
                                std::to_string(window) + ", " + std::to_string(workers) + ", " +
                                std::to_string(chunksize));
        }
        w2v::ScoreModel sm;
        sm.syn0 = checked<float>(syn0_obj, "syn0", {V, E});
        sm.syn1 = checked<float>(syn1_obj, "syn1", {V, E});
        const TreeArrays tree = checked_tree(offsets_obj, codes_obj, points_obj, V);
        sm.code_offsets = tree.offsets;
        sm.codes = tree.codes;
        sm.points = tree.points;
        sm.E = E;
        sm.window = window;
        sm.sg = sg;
        sm.cbow_mean = cbow_mean;
        const IdCorpusArrays corpus = checked_id_corpus(ids_obj, sentence_obj, V);
        auto scores = empty<float>({corpus.S});
        float* out = scores.mutable_data();
        {
          py::gil_scoped_release release;
          w2v::score_sentences(out, sm, corpus.ids, corpus.offsets, corpus.S, workers, chunksize);
        }
        return scores;
      },
      "gensim's Word2Vec.score of the sentences ids[offsets[s]:offsets[s+1]] (ids [W] int32, "
      "offsets [S+1] int64) under a hierarchical-softmax model (syn0, syn1 [V, E] float32 and "
      "w2v_huffman's tree): scores [S] float32, computed by `workers` threads in jobs of "
      "`chunksize` sentences (GIL released).",
      py::arg("syn0"), py::arg("syn1"), py::arg("code_offsets"), py::arg("codes"),
      py::arg("points"), py::arg("ids"), py::arg("offsets"), py::arg("window"), py::arg("sg"),
      py::arg("cbow_mean"), py::arg("workers"), py::arg("chunksize"));

  m.def(
      "w2v_negative_probabilities",
      [](const py::object& counts_obj, double exponent) {
        int64_t V = 0;
        const int64_t* counts = checked_vector<int64_t>(counts_obj, "counts", &V);
        const std::vector<double> p = w2v::NegativeSampler(counts, V, exponent).probabilities();
        auto out = empty<double>({V});
        std::copy(p.begin(), p.end(), out.mutable_data());
        return out;
      },
      "The alias table's probability of drawing each word (for tests).", py::arg("counts"),
      py::arg("exponent"));

  m.def("w2v_max_sentence", [] { return w2v::kMaxSentence; });
  m.def(
      "w2v_file_pieces",
      [](const std::string& path, int parts) {
        py::gil_scoped_release release;
        return w2v::file_pieces(path, parts);
      },
      "The byte offsets [parts+1] cutting a plain text corpus file into the pieces its readers "
      "take (for tests).",
      py::arg("path"), py::arg("parts"));

  py::class_<PyTrainer>(m, "W2vTrainer")
      .def(
          py::init([](const py::object& syn0, const py::object& syn1neg,
                      const py::object& counts_obj, const py::object& keep_obj, bool sg, int window,
                      int negative, double ns_exponent, bool cbow_mean, bool shrink_windows,
                      bool compute_loss, double alpha, double min_alpha, int workers, uint64_t seed,
                      const std::string& device, const py::object& lockf, int64_t batch_words,
                      bool hs, const py::object& syn1, const py::object& code_offsets_obj,
                      const py::object& codes_obj, const py::object& points_obj) {
            if (!py::isinstance<py::array>(syn0)) throw py::type_error("syn0: expected an array");
            py::array a = py::reinterpret_borrow<py::array>(syn0);
            if (a.ndim() != 2) throw py::value_error("syn0: expected [V, E]");
            const int64_t V = a.shape(0), E = a.shape(1);
            if (V < 1 || E < 1) throw py::value_error("syn0: V and E must be positive");
            if (window < 1 || negative < 0 || workers < 1) {
              throw py::value_error("window and workers must be positive, negative >= 0");
            }
            if (!hs && negative == 0) {
              throw py::value_error("negative must be positive without hs (hierarchical softmax)");
            }
            if (batch_words < 1 || batch_words > w2v::kMaxSentence) {
              throw py::value_error("batch_words: expected 1.." +
                                    std::to_string(w2v::kMaxSentence) + ", got " +
                                    std::to_string(batch_words));
            }
            const bool cuda_compiled = fastrnn::cuda_compiled();
            if (device != "cpu" && device != "emulated" && !(device == "cuda" && cuda_compiled)) {
              throw py::value_error("device: expected 'cpu'" +
                                    std::string(cuda_compiled ? " or 'cuda'" : "") +
                                    " in this build, got '" + device + "'");
            }
            auto t = std::make_unique<PyTrainer>();
            t->device = device;
            t->st.syn0 = mutable_checked<float>(syn0, "syn0", {V, E});
            if (negative > 0) {  // (hierarchical softmax alone has no syn1neg)
              t->st.syn1neg = mutable_checked<float>(syn1neg, "syn1neg", {V, E});
              if (t->st.syn1neg == nullptr)
                throw py::value_error("syn1neg: required with negative");
            }
            const int64_t* counts = checked<int64_t>(counts_obj, "counts", {V});
            t->st.keep = checked<uint32_t>(keep_obj, "keep", {V});
            t->st.lockf = optional_checked<float>(lockf, "lockf", {V});
            t->st.V = V;
            if (negative > 0) {  // (hierarchical softmax alone draws no negatives)
              t->sampler = std::make_shared<w2v::NegativeSampler>(counts, V, ns_exponent);
              t->st.sampler = t->sampler.get();
            }
            t->syn0 = syn0;
            t->syn1neg = syn1neg;
            t->keep_obj = keep_obj;
            t->lockf_obj = lockf;
            int64_t max_code = 0;
            if (hs) {
              t->st.syn1 = mutable_checked<float>(syn1, "syn1", {V, E});
              if (t->st.syn1 == nullptr) throw py::value_error("syn1: required with hs");
              const TreeArrays tree = checked_tree(code_offsets_obj, codes_obj, points_obj, V);
              max_code = tree.max_code;
              t->st.code_offsets = tree.offsets;
              t->st.codes = tree.codes;
              t->st.points = tree.points;
              t->syn1 = syn1;
              t->code_offsets = code_offsets_obj;
              t->codes = codes_obj;
              t->points = points_obj;
            }
            w2v::TrainConfig& c = t->cfg;
            c.hs = hs;
            c.max_code = static_cast<int>(max_code);
            c.sg = sg;
            c.E = E;
            c.window = window;
            c.negative = negative;
            c.cbow_mean = cbow_mean;
            c.shrink_windows = shrink_windows;
            c.compute_loss = compute_loss;
            c.alpha = alpha;
            c.min_alpha = min_alpha;
            c.workers = workers;
            c.seed = seed;
            c.batch_words = batch_words;
            return t;
          }),
          py::arg("syn0"), py::arg("syn1neg"), py::arg("counts"), py::arg("keep"), py::arg("sg"),
          py::arg("window"), py::arg("negative"), py::arg("ns_exponent"), py::arg("cbow_mean"),
          py::arg("shrink_windows"), py::arg("compute_loss"), py::arg("alpha"),
          py::arg("min_alpha"), py::arg("workers"), py::arg("seed"), py::arg("device") = "cpu",
          py::arg("lockf") = py::none(), py::arg("batch_words") = w2v::kMaxSentence,
          py::arg("hs") = false, py::arg("syn1") = py::none(), py::arg("code_offsets") = py::none(),
          py::arg("codes") = py::none(), py::arg("points") = py::none())
      .def(
          "start",
          [](PyTrainer& t, int64_t total_words) {
            if (total_words < 1) throw py::value_error("total_words must be positive");
            t.st.total_words = total_words;
            t.st.words_done = 0;
            t.st.trained_words = 0;
            t.st.file_tokens = 0;
            t.st.loss = 0.0;
            t.st.stop = false;
          },
          "Resets the progress, the loss and a stop request for a run of total_words (all "
          "epochs).",
          py::arg("total_words"))
      .def(
          "request_stop", [](PyTrainer& t) { t.st.stop = true; },
          "Asks a train_* call running in another thread to end early: the CPU workers finish "
          "their current job and take no other (until the next start()).")
      .def(
          "train_ids",
          [](PyTrainer& t, const py::object& ids_obj, const py::object& offsets_obj,
             int64_t epoch) {
            const IdCorpusArrays c = checked_id_corpus(ids_obj, offsets_obj, t.st.V);
            py::gil_scoped_release release;
            if (t.device == "emulated") {
              t.launches = fastrnn::gpu::emulated_w2v_train_epoch_ids(t.st, t.cfg, c.ids, c.offsets,
                                                                      c.S, epoch, t.launch_words);
            } else if (t.device == "cuda") {
#if defined(FASTRNN_WITH_CUDA)
              t.launches = fastrnn::gpu::cuda_w2v_train_epoch_ids(t.st, t.cfg, c.ids, c.offsets,
                                                                  c.S, epoch, t.launch_words);
#endif
            } else {
              w2v::train_epoch_ids(t.st, t.cfg, c.ids, c.offsets, c.S, epoch);
            }
          },
          "Trains one epoch over an id corpus (GIL released).", py::arg("ids"), py::arg("offsets"),
          py::arg("epoch"))
      .def(
          "train_file",
          [](PyTrainer& t, const std::shared_ptr<w2v::Vocab>& vocab, const std::string& path,
             int64_t epoch) {
            if (t.device != "cpu") {
              throw py::value_error("train_file: the " + t.device +
                                    " trainer takes id corpora only (train_ids)");
            }
            py::gil_scoped_release release;
            w2v::train_epoch_file(t.st, t.cfg, *vocab, path, epoch);
          },
          "Trains one epoch over a plain text file by per-thread pieces (GIL released).",
          py::arg("vocab"), py::arg("path"), py::arg("epoch"))
      .def_property(
          "alpha", [](const PyTrainer& t) { return t.cfg.alpha; },
          [](PyTrainer& t, double alpha) { t.cfg.alpha = alpha; },
          "The learning rate at progress 0 (read by each train_* call).")
      .def_property(
          "min_alpha", [](const PyTrainer& t) { return t.cfg.min_alpha; },
          [](PyTrainer& t, double min_alpha) { t.cfg.min_alpha = min_alpha; },
          "The learning rate at progress 1 (read by each train_* call).")
      .def_property_readonly("words_done",
                             [](const PyTrainer& t) { return t.st.words_done.load(); })
      .def_property_readonly("trained_words",
                             [](const PyTrainer& t) { return t.st.trained_words.load(); })
      .def_property_readonly("file_tokens",
                             [](const PyTrainer& t) { return t.st.file_tokens.load(); })
      .def_property_readonly("loss", [](const PyTrainer& t) { return t.st.loss; })
      .def_property(
          "launch_words", [](const PyTrainer& t) { return t.launch_words; },
          [](PyTrainer& t, int64_t launch_words) {
            if (launch_words < 1 || launch_words > fastrnn::gpu::kW2vMaxLaunchWords) {
              throw py::value_error("launch_words: expected 1.." +
                                    std::to_string(fastrnn::gpu::kW2vMaxLaunchWords) + ", got " +
                                    std::to_string(launch_words));
            }
            t.launch_words = launch_words;
          },
          "Device 'cuda' or 'emulated': the most kept words one kernel launch trains (whole "
          "sentence pieces, at least one a launch).")
      .def_property_readonly(
          "launches",
          [](const PyTrainer& t) {
            py::list out;
            for (const auto& l : t.launches)
              out.append(py::make_tuple(l.pieces, l.words, l.first_alpha, l.last_alpha));
            return out;
          },
          "Device 'cuda' or 'emulated': the kernel launches of the last train_ids call, each "
          "(pieces, kept words, learning rate of its first piece, of its last).");
  m.def(
      "_gpu_device_memory",
      [](bool read, int pools) {
        return fastrnn::gpu::allocate_call(fastrnn::gpu::device_memory_for(read, pools));
      },
      "The call the GPU word2vec takes device memory with, given whether the device's "
      "cudaDevAttrMemoryPoolsSupported was read and its value (for tests).",
      py::arg("read"), py::arg("pools"));
}

// ============================================================================================
// Softmax cross-entropy: logits [M, V] float32/float64, targets [M] int64, optional mask [M]
// bool. The targets of counted rows are checked here (before the GIL is released).
// ============================================================================================

namespace {

struct XentArgs {
  int64_t M = 0, V = 0;
  const int64_t* targets = nullptr;
  const uint8_t* mask = nullptr;
};

XentArgs checked_xent_args(const py::array& logits, const py::object& targets_obj,
                           const py::object& mask_obj, int64_t ignore_index) {
  if (logits.ndim() != 2) {
    throw py::value_error("logits: expected 2 dimensions [M, V], got shape " +
                          shape_str(shape_of(logits)));
  }
  XentArgs a;
  a.M = logits.shape(0);
  a.V = logits.shape(1);
  if (a.V < 1)
    throw py::value_error("logits: expected V >= 1 classes, got shape " +
                          shape_str(shape_of(logits)));
  a.targets = checked<int64_t>(targets_obj, "targets", {a.M});
  a.mask = reinterpret_cast<const uint8_t*>(optional_checked<bool>(mask_obj, "mask", {a.M}));
  for (int64_t m = 0; m < a.M; ++m) {
    const int64_t t = a.targets[m];
    if ((a.mask == nullptr || a.mask[m]) && t != ignore_index && (t < 0 || t >= a.V)) {
      throw py::value_error("targets: expected class indices in [0, " + std::to_string(a.V) +
                            ") or ignore_index=" + std::to_string(ignore_index) + ", got targets[" +
                            std::to_string(m) + "] = " + std::to_string(t));
    }
  }
  return a;
}

template <class Real>
py::tuple xent_forward_impl(const py::array& logits_obj, const py::object& targets,
                            const py::object& mask, int64_t ignore_index) {
  const XentArgs a = checked_xent_args(logits_obj, targets, mask, ignore_index);
  const Real* logits = checked<Real>(logits_obj, "logits", {a.M, a.V});
  auto stats = empty<Real>({a.M, 2});
  auto row_loss = empty<double>({a.M});
  Real* stats_ptr = stats.mutable_data();
  double* row_loss_ptr = row_loss.mutable_data();
  int64_t count;
  double total = 0.0;
  {
    py::gil_scoped_release release;
    count = fastrnn::softmax_xent_forward<Real>(stats_ptr, row_loss_ptr, logits, a.targets, a.mask,
                                                a.M, a.V, ignore_index);
    for (int64_t m = 0; m < a.M; ++m) total += row_loss_ptr[m];  // in order: thread-count free
  }
  return py::make_tuple(total, count, stats);
}

template <class Real>
py::array xent_backward_impl(const py::array& logits_obj, const py::object& targets,
                             const py::object& mask, const py::object& stats_obj,
                             int64_t ignore_index, double scale) {
  const XentArgs a = checked_xent_args(logits_obj, targets, mask, ignore_index);
  const Real* logits = checked<Real>(logits_obj, "logits", {a.M, a.V});
  const Real* stats = checked<Real>(stats_obj, "stats", {a.M, 2});
  auto dlogits = empty<Real>({a.M, a.V});
  Real* d = dlogits.mutable_data();
  {
    py::gil_scoped_release release;
    fastrnn::softmax_xent_backward<Real>(d, logits, stats, a.targets, a.mask, a.M, a.V,
                                         ignore_index, static_cast<Real>(scale));
  }
  return std::move(dlogits);
}

}  // namespace

void bind_softmax_xent(py::module_& m) {
  m.def(
      "softmax_xent_forward",
      [](const py::array& logits, const py::object& targets, const py::object& mask,
         int64_t ignore_index) {
        return is_float64(logits, "logits")
                   ? xent_forward_impl<double>(logits, targets, mask, ignore_index)
                   : xent_forward_impl<float>(logits, targets, mask, ignore_index);
      },
      "Softmax cross-entropy over rows. Returns (sum of row losses in nats, counted rows, "
      "stats [M, 2] for the backward).",
      py::arg("logits"), py::arg("targets"), py::arg("mask"), py::arg("ignore_index"));
  m.def(
      "softmax_xent_backward",
      [](const py::array& logits, const py::object& targets, const py::object& mask,
         const py::object& stats, int64_t ignore_index, double scale) {
        return is_float64(logits, "logits")
                   ? xent_backward_impl<double>(logits, targets, mask, stats, ignore_index, scale)
                   : xent_backward_impl<float>(logits, targets, mask, stats, ignore_index, scale);
      },
      "Gradient of the loss (times scale) with respect to logits [M, V].", py::arg("logits"),
      py::arg("targets"), py::arg("mask"), py::arg("stats"), py::arg("ignore_index"),
      py::arg("scale"));
}

// ============================================================================================
// Linear: x [M, I], weight [O, I], bias [O] or None, all of one float dtype; the gradients of
// the weight and bias accumulate in place.
// ============================================================================================

namespace {

// `obj` as a 2-dimensional array; otherwise a TypeError/ValueError naming `name`, the expected
// dimensions `dims` and the actual type or shape.
py::array checked_matrix(const py::object& obj, const char* name, const char* dims) {
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(std::string(name) + ": expected a 2-dimensional array " + dims + ", got " +
                         std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  }
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (a.ndim() != 2) {
    throw py::value_error(std::string(name) + ": expected 2 dimensions " + dims + ", got shape " +
                          shape_str(shape_of(a)));
  }
  return a;
}

template <class Real>
py::array linear_forward_impl(const py::array& x_obj, const py::object& w_obj,
                              const py::object& b_obj) {
  checked_matrix(x_obj, "x", "[M, I]");
  const int64_t M = x_obj.shape(0), I = x_obj.shape(1);
  const int64_t O = checked_matrix(w_obj, "weight", "[O, I]").shape(0);
  const Real* x = checked<Real>(x_obj, "x", {M, I});
  const Real* w = checked<Real>(w_obj, "weight", {O, I});
  const Real* b = optional_checked<Real>(b_obj, "bias", {O});
  auto y = empty<Real>({M, O});
  Real* y_ptr = y.mutable_data();
  {
    py::gil_scoped_release release;
    fastrnn::linear_forward<Real>(y_ptr, x, w, b, M, I, O);
  }
  return std::move(y);
}

template <class Real>
py::object linear_backward_impl(const py::array& dy_obj, const py::object& x_obj,
                                const py::object& w_obj, const py::object& dw_obj,
                                const py::object& db_obj, bool need_dx) {
  checked_matrix(dy_obj, "dy", "[M, O]");
  const int64_t M = dy_obj.shape(0), O = dy_obj.shape(1);
  const int64_t I = checked_matrix(w_obj, "weight", "[O, I]").shape(1);
  const Real* dy = checked<Real>(dy_obj, "dy", {M, O});
  const Real* x = checked<Real>(x_obj, "x", {M, I});
  const Real* w = checked<Real>(w_obj, "weight", {O, I});
  Real* dw = mutable_checked<Real>(dw_obj, "grad weight", {O, I});
  if (dw == nullptr) throw py::type_error("grad weight: expected an array, got None");
  Real* db = mutable_checked<Real>(db_obj, "grad bias", {O});
  Real* dx_ptr;
  py::object dx = empty_if<Real>(need_dx, {M, I}, &dx_ptr);
  {
    py::gil_scoped_release release;
    fastrnn::linear_backward<Real>(dx_ptr, dw, db, dy, x, w, M, I, O);
  }
  return dx;
}

}  // namespace

void bind_linear(py::module_& m) {
  m.def(
      "linear_forward",
      [](const py::array& x, const py::object& weight, const py::object& bias) {
        return is_float64(x, "x") ? linear_forward_impl<double>(x, weight, bias)
                                  : linear_forward_impl<float>(x, weight, bias);
      },
      "y [M, O] = x [M, I] weight^T [I, O] (+ bias [O]), one GEMM over fastrnn's threads.",
      py::arg("x"), py::arg("weight"), py::arg("bias"));
  m.def(
      "linear_backward",
      [](const py::array& dy, const py::object& x, const py::object& weight,
         const py::object& grad_weight, const py::object& grad_bias, bool need_dx) {
        return is_float64(dy, "dy")
                   ? linear_backward_impl<double>(dy, x, weight, grad_weight, grad_bias, need_dx)
                   : linear_backward_impl<float>(dy, x, weight, grad_weight, grad_bias, need_dx);
      },
      "Returns dx [M, I] = dy weight (None, not computed, with need_dx=False); accumulates "
      "grad_weight += dy^T x and grad_bias += column sums of dy.",
      py::arg("dy"), py::arg("x"), py::arg("weight"), py::arg("grad_weight"), py::arg("grad_bias"),
      py::arg("need_dx") = true);
}

// ============================================================================================
// The GPU layer driver's sizes and, in CUDA builds, its device entry points. These take device
// pointers as integers (0 = absent): the caller (fastrnn.torch's CUDA implementation) owns the
// memory, checks shapes, dtypes and devices, and passes its stream; a call queues the work on
// that stream and returns.
// ============================================================================================

namespace {

template <class Real>
Real* device_ptr(uintptr_t p) {
  return reinterpret_cast<Real*>(p);
}

template <class Real>
fastrnn::RnnWeights<Real> device_weights(const std::vector<uintptr_t>& w) {
  if (w.size() != 6) throw py::value_error("weights: expected 6 pointers");
  fastrnn::RnnWeights<Real> out;
  out.w_ih = device_ptr<Real>(w[0]);
  out.w_hh = device_ptr<Real>(w[1]);
  out.b_ih = device_ptr<Real>(w[2]);
  out.b_hh = device_ptr<Real>(w[3]);
  out.w_hr = device_ptr<Real>(w[4]);
  out.w_ch = device_ptr<Real>(w[5]);
  return out;
}

// Emulated: the same call on host memory under the grid emulator (device and stream unused), so
// tests check the Python side of the CUDA path without a GPU.
template <class Real, bool Emulated>
void pointer_forward_impl(const RnnDesc& d, int64_t T, int64_t N, int device, uintptr_t stream,
                          const std::vector<uintptr_t>& out, const std::vector<uintptr_t>& in,
                          const std::vector<uintptr_t>& weights, bool reverse) {
  if (out.size() != 5 || in.size() != 4) throw py::value_error("expected 5 outputs, 4 inputs");
  const fastrnn::RnnWeights<Real> w = device_weights<Real>(weights);
  Real* y = device_ptr<Real>(out[0]);
  Real* h_n = device_ptr<Real>(out[1]);
  Real* c_n = device_ptr<Real>(out[2]);
  Real* reserve = device_ptr<Real>(out[3]);
  Real* ws = device_ptr<Real>(out[4]);
  const Real* x = device_ptr<const Real>(in[0]);
  const int64_t* lengths = device_ptr<const int64_t>(in[1]);
  const Real* h0 = device_ptr<const Real>(in[2]);
  const Real* c0 = device_ptr<const Real>(in[3]);
  py::gil_scoped_release release;
  if constexpr (Emulated) {
    fastrnn::gpu::emulated_rnn_forward<Real>(y, h_n, c_n, reserve, ws, d, T, N, x, lengths, h0, c0,
                                             w, reverse);
  } else {
#if defined(FASTRNN_WITH_CUDA)
    fastrnn::gpu::cuda_rnn_forward<Real>(device, reinterpret_cast<void*>(stream), y, h_n, c_n,
                                         reserve, ws, d, T, N, x, lengths, h0, c0, w, reverse);
#endif
  }
}

template <class Real, bool Emulated>
void pointer_backward_impl(const RnnDesc& d, int64_t T, int64_t N, int device, uintptr_t stream,
                           const std::vector<uintptr_t>& out, const std::vector<uintptr_t>& grads,
                           const std::vector<uintptr_t>& in, const std::vector<uintptr_t>& weights,
                           bool reverse) {
  if (out.size() != 4 || grads.size() != 6 || in.size() != 6) {
    throw py::value_error("expected 4 outputs, 6 gradients, 6 inputs");
  }
  const fastrnn::RnnWeights<Real> w = device_weights<Real>(weights);
  fastrnn::RnnWeightGrads<Real> dw;
  dw.w_ih = device_ptr<Real>(grads[0]);
  dw.w_hh = device_ptr<Real>(grads[1]);
  dw.b_ih = device_ptr<Real>(grads[2]);
  dw.b_hh = device_ptr<Real>(grads[3]);
  dw.w_hr = device_ptr<Real>(grads[4]);
  dw.w_ch = device_ptr<Real>(grads[5]);
  Real* dx = device_ptr<Real>(out[0]);
  Real* dh0 = device_ptr<Real>(out[1]);
  Real* dc0 = device_ptr<Real>(out[2]);
  Real* ws = device_ptr<Real>(out[3]);
  const Real* dy = device_ptr<const Real>(in[0]);
  const Real* dh_n = device_ptr<const Real>(in[1]);
  const Real* dc_n = device_ptr<const Real>(in[2]);
  const Real* x = device_ptr<const Real>(in[3]);
  const int64_t* lengths = device_ptr<const int64_t>(in[4]);
  const Real* reserve = device_ptr<const Real>(in[5]);
  py::gil_scoped_release release;
  if constexpr (Emulated) {
    fastrnn::gpu::emulated_rnn_backward<Real>(dx, dh0, dc0, dw, ws, d, T, N, dy, dh_n, dc_n, x,
                                              lengths, w, reserve, reverse);
  } else {
#if defined(FASTRNN_WITH_CUDA)
    fastrnn::gpu::cuda_rnn_backward<Real>(device, reinterpret_cast<void*>(stream), dx, dh0, dc0, dw,
                                          ws, d, T, N, dy, dh_n, dc_n, x, lengths, w, reserve,
                                          reverse);
#endif
  }
}

void check_steps_batch(int64_t T, int64_t N) {
  if (T < 1 || N < 1) {
    throw py::value_error("T and N must be positive, got T=" + std::to_string(T) +
                          " N=" + std::to_string(N));
  }
}

// Defines the pointer-based layer entry points (on a device, or emulated on host memory).
template <bool Emulated>
void def_pointer_entry_points(py::module_& m, const char* forward_name, const char* backward_name,
                              const char* what) {
  m.def(
      forward_name,
      [](const RnnDesc& d, int64_t T, int64_t N, bool float64, int device, uintptr_t stream,
         const std::vector<uintptr_t>& out, const std::vector<uintptr_t>& in,
         const std::vector<uintptr_t>& weights, bool reverse) {
        check_steps_batch(T, N);
        if (float64) {
          pointer_forward_impl<double, Emulated>(d, T, N, device, stream, out, in, weights,
                                                 reverse);
        } else {
          pointer_forward_impl<float, Emulated>(d, T, N, device, stream, out, in, weights, reverse);
        }
      },
      (std::string("Queues rnn_forward on a CUDA stream. Device pointers: out (y, h_n, c_n, "
                   "reserve, workspace), in (x, lengths, h0, c0), weights (w_ih, w_hh, b_ih, "
                   "b_hh, w_hr, w_ch).") +
       what)
          .c_str(),
      py::arg("desc"), py::arg("T"), py::arg("N"), py::arg("float64"), py::arg("device"),
      py::arg("stream"), py::arg("out"), py::arg("inputs"), py::arg("weights"), py::arg("reverse"));
  m.def(
      backward_name,
      [](const RnnDesc& d, int64_t T, int64_t N, bool float64, int device, uintptr_t stream,
         const std::vector<uintptr_t>& out, const std::vector<uintptr_t>& grads,
         const std::vector<uintptr_t>& in, const std::vector<uintptr_t>& weights, bool reverse) {
        check_steps_batch(T, N);
        if (float64) {
          pointer_backward_impl<double, Emulated>(d, T, N, device, stream, out, grads, in, weights,
                                                  reverse);
        } else {
          pointer_backward_impl<float, Emulated>(d, T, N, device, stream, out, grads, in, weights,
                                                 reverse);
        }
      },
      (std::string("Queues rnn_backward on a CUDA stream. Device pointers (0: absent, not "
                   "computed): out (dx, dh0, dc0, "
                   "workspace), grads accumulated into (w_ih, w_hh, b_ih, b_hh, w_hr, w_ch), in "
                   "(dy, dh_n, dc_n, x, lengths, reserve), weights (w_ih, w_hh, b_ih, b_hh, "
                   "w_hr, w_ch).") +
       what)
          .c_str(),
      py::arg("desc"), py::arg("T"), py::arg("N"), py::arg("float64"), py::arg("device"),
      py::arg("stream"), py::arg("out"), py::arg("grads"), py::arg("inputs"), py::arg("weights"),
      py::arg("reverse"));
}

}  // namespace

void bind_gpu_rnn(py::module_& m) {
  m.def(
      "gpu_rnn_forward_workspace_size",
      [](const RnnDesc& d, int64_t T, int64_t N, bool training) {
        check_steps_batch(T, N);
        return fastrnn::gpu::rnn_forward_workspace_size(d, T, N, training);
      },
      "Elements of the GPU driver's forward workspace.", py::arg("desc"), py::arg("T"),
      py::arg("N"), py::arg("training"));
  m.def(
      "gpu_rnn_backward_workspace_size",
      [](const RnnDesc& d, int64_t T, int64_t N, bool with_lengths) {
        check_steps_batch(T, N);
        return fastrnn::gpu::rnn_backward_workspace_size(d, T, N, with_lengths);
      },
      "Elements of the GPU driver's backward workspace (with_lengths: the call passes lengths).",
      py::arg("desc"), py::arg("T"), py::arg("N"), py::arg("with_lengths"));
#if defined(FASTRNN_WITH_CUDA)
  m.def(
      "cuda_load_cublas", [](const std::string& path) { fastrnn::gpu::load_cublas(path); },
      "Opens libcublas.so.13 from a path or loader name (once per process).", py::arg("path"));
  m.def("cuda_cublas_path", &fastrnn::gpu::cublas_path, "The cuBLAS library loaded, or ''.");
  def_pointer_entry_points<false>(m, "cuda_rnn_forward", "cuda_rnn_backward", "");
#endif
  // The same calls on host memory under the grid emulator (device and stream unused), for tests
  // of the Python side of the CUDA path.
  def_pointer_entry_points<true>(m, "_emulated_rnn_forward_ptr", "_emulated_rnn_backward_ptr",
                                 " (host memory, grid emulator: for tests)");
}
