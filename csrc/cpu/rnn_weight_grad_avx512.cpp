// rnn_weight_grad_avx512.cpp — the weight-gradient GEMM compiled for the avx512 instruction set
// (flags in CMakeLists.txt).
#include "cpu/simd_avx512.h"
#define FASTRNN_ISA_NS avx512
#define FASTRNN_SIMD Simd512
#include "cpu/rnn_weight_grad.inc"
