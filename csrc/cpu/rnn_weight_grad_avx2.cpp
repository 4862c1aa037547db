// rnn_weight_grad_avx2.cpp — the weight-gradient GEMM compiled for the avx2 instruction set (flags
// in CMakeLists.txt).
#include "cpu/simd_avx2.h"
#define FASTRNN_ISA_NS avx2
#define FASTRNN_SIMD Simd256
#include "cpu/rnn_weight_grad.inc"
