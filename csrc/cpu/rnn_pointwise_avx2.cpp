// rnn_pointwise_avx2.cpp — the pointwise step kernels compiled for the avx2 instruction set
// (flags in CMakeLists.txt).
#define FASTRNN_ISA_NS avx2
#include "cpu/rnn_pointwise.inc"
