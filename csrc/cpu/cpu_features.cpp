// cpu_features.cpp — runtime detection of AVX2/FMA and AVX-512 through the compiler's cpuid
// helpers, and of the L2 cache's size through sysconf.
#include "cpu/cpu_features.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <string>

#include "fastrnn/common.h"

namespace fastrnn {
namespace cpu {
namespace {

Isa detect() {
  Isa best = Isa::kGeneric;
#if FASTRNN_X86_KERNELS  // built only for x86-64 (CMakeLists.txt)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = Isa::kAvx2;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) {
    best = Isa::kAvx512;
  }
#endif
  // FASTRNN_ISA caps the choice, in any letter case (fastrnn.show_config() says which is used;
  // the Python package warns at import about a value that is none of generic, avx2, avx512).
  const char* cap = std::getenv("FASTRNN_ISA");
  if (cap != nullptr) {
    std::string value(cap);
    for (char& ch : value) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (value == "generic") return Isa::kGeneric;
    if (value == "avx2" && best != Isa::kGeneric) return Isa::kAvx2;
  }
  return best;
}

int64_t detect_l2_bytes() {
#ifdef _SC_LEVEL2_CACHE_SIZE
  const long bytes = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (bytes > 0) return bytes;
#endif
  return int64_t{1} << 20;
}

}  // namespace

int64_t l2_cache_bytes() {
  static const int64_t bytes = detect_l2_bytes();
  return bytes;
}

Isa detected_isa() {
  static const Isa isa = detect();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    default:
      return "generic";
  }
}

}  // namespace cpu

std::string simd_level() { return cpu::isa_name(cpu::detected_isa()); }

}  // namespace fastrnn
