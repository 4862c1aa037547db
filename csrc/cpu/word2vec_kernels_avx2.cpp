// word2vec_kernels_avx2.cpp — the word2vec sentence kernels compiled for the avx2 instruction
// set (flags in CMakeLists.txt).
#define FASTRNN_ISA_NS avx2
#include "cpu/word2vec_kernels.inc"
