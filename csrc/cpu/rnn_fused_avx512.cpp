// rnn_fused_avx512.cpp — the fused time loops compiled for the avx512 instruction set (flags in
// CMakeLists.txt): 16-float registers, 16-unit blocks.
#include "cpu/simd_avx512.h"
#define FASTRNN_ISA_NS avx512
#define FASTRNN_SIMD Simd512
#include "cpu/rnn_fused.inc"
