// word2vec_kernels_generic.cpp — the word2vec sentence kernels compiled for the generic instruction
// set (flags in CMakeLists.txt).
#define FASTRNN_ISA_NS generic
#include "cpu/word2vec_kernels.inc"
