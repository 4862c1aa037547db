// device_memory.h — how the GPU word2vec takes device memory: stream-ordered (cudaMallocAsync /
// cudaFreeAsync, nothing waits in a destructor) where the device has memory pools, else plain
// cudaMalloc / cudaFree (a device or driver without memory-pool support refuses cudaMallocAsync
// with cudaErrorNotSupported). No CUDA types here, so every build can test the choice.
#pragma once

namespace fastrnn {
namespace gpu {

enum class DeviceMemory { kStreamOrdered, kPlain };

// read: whether cudaDeviceGetAttribute(cudaDevAttrMemoryPoolsSupported) succeeded (a driver older
// than the attribute fails it); pools: the value it gave.
inline DeviceMemory device_memory_for(bool read, int pools) {
  return read && pools != 0 ? DeviceMemory::kStreamOrdered : DeviceMemory::kPlain;
}

// The runtime call that takes memory of that kind (named in its error messages).
inline const char* allocate_call(DeviceMemory m) {
  return m == DeviceMemory::kStreamOrdered ? "cudaMallocAsync" : "cudaMalloc";
}

}  // namespace gpu
}  // namespace fastrnn
