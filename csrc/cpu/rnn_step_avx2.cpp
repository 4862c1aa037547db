// rnn_step_avx2.cpp — the few-row inference step compiled for the avx2 instruction set (flags in
// CMakeLists.txt).
#include "cpu/simd_avx2.h"
#define FASTRNN_ISA_NS avx2
#define FASTRNN_SIMD Simd256
#include "cpu/rnn_step.inc"
