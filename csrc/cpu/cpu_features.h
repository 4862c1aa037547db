// cpu_features.h — which instruction set this CPU offers the pointwise kernels.
#pragma once

namespace fastrnn {
namespace cpu {

enum class Isa { kGeneric, kAvx2, kAvx512 };

// The best level both compiled in and supported by this CPU (and its OS), detected once.
// FASTRNN_ISA=generic|avx2|avx512 in the environment caps it (for testing every path).
Isa detected_isa();
const char* isa_name(Isa isa);

}  // namespace cpu
}  // namespace fastrnn
