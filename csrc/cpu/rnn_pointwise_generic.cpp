// rnn_pointwise_generic.cpp — the pointwise step kernels compiled for the generic instruction set
// (flags in CMakeLists.txt).
#define FASTRNN_ISA_NS generic
#include "cpu/rnn_pointwise.inc"
