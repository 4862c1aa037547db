// rnn_pointwise_avx512.cpp — the pointwise step kernels compiled for the avx512 instruction set
// (flags in CMakeLists.txt).
#define FASTRNN_ISA_NS avx512
#include "cpu/rnn_pointwise.inc"
