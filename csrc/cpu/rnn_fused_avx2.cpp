// rnn_fused_avx2.cpp — the fused time loops compiled for the avx2 instruction set (flags in
// CMakeLists.txt): 8-float registers, 8-unit blocks.
#include "cpu/simd_avx2.h"
#define FASTRNN_ISA_NS avx2
#define FASTRNN_SIMD Simd256
#include "cpu/rnn_fused.inc"
