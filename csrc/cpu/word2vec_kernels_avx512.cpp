// word2vec_kernels_avx512.cpp — the word2vec sentence kernels compiled for the avx512 instruction
// set (flags in CMakeLists.txt).
#define FASTRNN_ISA_NS avx512
#include "cpu/word2vec_kernels.inc"
