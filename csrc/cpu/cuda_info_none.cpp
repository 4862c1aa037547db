// cuda_info_none.cpp — build facts for a build without CUDA sources (FASTRNN_CUDA=OFF or no nvcc).
#include <string>

#include "fastrnn/common.h"

namespace fastrnn {

bool cuda_compiled() { return false; }
int cuda_device_count() { return 0; }
std::string cuda_runtime_info() { return "not compiled"; }

}  // namespace fastrnn
