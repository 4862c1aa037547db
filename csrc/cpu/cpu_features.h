// cpu_features.h — which instruction set this CPU offers the pointwise kernels, and the size of a
// core's L2 cache (which decides how the fused loops share work among threads).
#pragma once

#include <cstdint>

namespace fastrnn {
namespace cpu {

enum class Isa { kGeneric, kAvx2, kAvx512 };

// The best level both compiled in and supported by this CPU (and its OS), detected once.
// FASTRNN_ISA=generic|avx2|avx512 in the environment caps it (for testing every path).
Isa detected_isa();
const char* isa_name(Isa isa);

// Bytes of one core's L2 cache as the OS reports it (glibc's sysconf), read once; 1 MB where it
// reports none.
int64_t l2_cache_bytes();

}  // namespace cpu
}  // namespace fastrnn
