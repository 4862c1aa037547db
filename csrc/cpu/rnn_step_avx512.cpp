// rnn_step_avx512.cpp — the few-row inference step compiled for the avx512 instruction set (flags
// in CMakeLists.txt).
#include "cpu/simd_avx512.h"
#define FASTRNN_ISA_NS avx512
#define FASTRNN_SIMD Simd512
#include "cpu/rnn_step.inc"
