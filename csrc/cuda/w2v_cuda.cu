// w2v_cuda.cu — the GPU word2vec kernel on a device: one block per sentence piece, its State and
// float scratch in shared memory, __syncthreads between the phases of each position. A call
// copies the weights, the sampling table and the Huffman tree (as the model uses them) and the
// epoch's pieces to the device, runs the epoch's launches one after another on the stream (each
// bounded by the launch plan, so none outlives a display watchdog; each waited for, so that a stop
// request ends the epoch after the launch that is running), copies the weights back and
// waits for the copy (the Python trainer reads them next). Device memory is taken and returned
// stream-ordered (cudaMallocAsync / cudaFreeAsync, so nothing waits in a destructor) where the
// device has memory pools, else by cudaMalloc / cudaFree (device_memory.h).
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "cuda/cuda_check.h"
#include "cuda/device_memory.h"
#include "cuda/w2v_gpu_driver.h"
#include "fastrnn/word2vec_gpu.h"

namespace fastrnn {
namespace gpu {
namespace {

template <class Body>
__global__ void run_block_kernel(Body body) {
  extern __shared__ float scratch[];
  __shared__ typename Body::State state;
  const KernelIndex k{blockIdx.x, threadIdx.x, blockDim.x, gridDim.x};
  body.start(k, state);
  __syncthreads();
  const int64_t n = body.positions(k.block);
  for (int64_t i = 0; i < n; ++i) {
    for (int p = 0; p < Body::kPhases; ++p) {
      body.phase(p, k, state, scratch, i);
      __syncthreads();
    }
  }
  body.finish(k, state);
}

// Device memory for `count` elements of T, copied from `host` when given; taken and returned as
// `memory` says (stream-ordered: freed in order on the stream).
template <class T>
class DeviceArray {
 public:
  DeviceArray(DeviceMemory memory, cudaStream_t stream, int64_t count, const T* host = nullptr)
      : memory_(memory), stream_(stream) {
    const size_t bytes = sizeof(T) * std::max<int64_t>(count, 1);
    void** p = reinterpret_cast<void**>(&data_);
    check_cuda(memory == DeviceMemory::kStreamOrdered ? cudaMallocAsync(p, bytes, stream)
                                                      : cudaMalloc(p, bytes),
               allocate_call(memory));
    if (host != nullptr && count > 0) {
      const cudaError_t copied =
          cudaMemcpyAsync(data_, host, sizeof(T) * count, cudaMemcpyHostToDevice, stream);
      if (copied != cudaSuccess) release();  // no destructor runs after a throw
      check_cuda(copied, "cudaMemcpyAsync");
    }
  }
  ~DeviceArray() { release(); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() const { return data_; }
  void copy_to(T* host, int64_t count) const {
    check_cuda(cudaMemcpyAsync(host, data_, sizeof(T) * count, cudaMemcpyDeviceToHost, stream_),
               "cudaMemcpyAsync");
  }

 private:
  void release() {
    ignore_cuda_error(memory_ == DeviceMemory::kStreamOrdered ? cudaFreeAsync(data_, stream_)
                                                              : cudaFree(data_));
  }

  DeviceMemory memory_;
  cudaStream_t stream_;
  T* data_ = nullptr;
};

// The current device's kind of memory (an attribute the driver does not know reads as no pools).
DeviceMemory current_device_memory() {
  int device = 0, pools = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  const cudaError_t read = cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device);
  ignore_cuda_error(read);
  return device_memory_for(read == cudaSuccess, pools);
}

struct W2vCudaBackend {
  cudaStream_t stream = nullptr;  // the legacy default stream of the current device

  void run(const W2vSentenceKernel& host, const std::vector<int64_t>& plan, int64_t words,
           const std::atomic<bool>& stop) const {
    // The largest block (a power of two, 32..128 threads) whose scratch fits in 48 KiB beside
    // the kernel's static shared memory (the block state, as the device lays it out: 416 bytes
    // where sizeof says 408, the dynamic scratch being 16-byte aligned after it).
    cudaFuncAttributes attributes{};
    check_cuda(cudaFuncGetAttributes(&attributes, run_block_kernel<W2vSentenceKernel>),
               "cudaFuncGetAttributes");
    int64_t block_dim = 128;
    const int64_t limit = 48 * 1024 - static_cast<int64_t>(attributes.sharedSizeBytes);
    while (block_dim > 32 && host.scratch_floats(block_dim) * 4 > limit) block_dim /= 2;
    if (host.scratch_floats(block_dim) * 4 > limit) {
      throw Error("word2vec on the GPU: a block's scratch needs " +
                  std::to_string(host.scratch_floats(block_dim) * 4) + " bytes of shared memory, " +
                  std::to_string(limit) + " are free (window=" + std::to_string(host.window) +
                  ", negative=" + std::to_string(host.negative) +
                  (host.hs ? ", longest Huffman path " + std::to_string(host.max_code) : "") +
                  ", vector_size=" + std::to_string(host.E) +
                  "): lower window or negative, or train on the CPU");
    }
    for (size_t l = 0; l + 1 < plan.size(); ++l) {  // w2v_launch_plan's bound keeps them far below
      if (plan[l + 1] - plan[l] > std::numeric_limits<int32_t>::max()) {
        throw Error("word2vec on the GPU: a launch of " + std::to_string(plan[l + 1] - plan[l]) +
                    " blocks exceeds a grid's 2^31 - 1");
      }
    }
    const int64_t blocks = plan.back();
    const DeviceMemory memory = current_device_memory();
    const int64_t VE = host.V * host.E;
    const int64_t VE_ns = host.negative > 0 ? VE : 0, VE_hs = host.hs ? VE : 0;
    const int64_t V_ns = host.negative > 0 ? host.V : 0, V_hs = host.hs ? host.V + 1 : 0;
    const int64_t nodes = host.hs ? host.code_offsets[host.V] : 0;  // the paths' total length
    DeviceArray<float> syn0(memory, stream, VE, host.syn0),
        syn1neg(memory, stream, VE_ns, host.syn1neg);
    DeviceArray<float> syn1(memory, stream, VE_hs, host.syn1);
    DeviceArray<int64_t> code_offsets(memory, stream, V_hs, host.code_offsets);
    DeviceArray<uint8_t> codes(memory, stream, nodes, host.codes);
    DeviceArray<int32_t> points(memory, stream, nodes, host.points);
    DeviceArray<float> lockf(memory, stream, host.lockf != nullptr ? host.V : 0, host.lockf);
    DeviceArray<uint32_t> threshold(memory, stream, V_ns, host.ns_threshold);
    DeviceArray<int32_t> alias(memory, stream, V_ns, host.ns_alias);
    DeviceArray<int32_t> ids(memory, stream, words, host.words);
    DeviceArray<int64_t> offsets(memory, stream, blocks + 1, host.offsets);
    DeviceArray<float> alphas(memory, stream, blocks, host.alphas);
    DeviceArray<uint64_t> seeds(memory, stream, blocks, host.seeds);
    DeviceArray<double> losses(memory, stream, blocks);
    W2vSentenceKernel k = host;
    k.syn0 = syn0.get();
    k.syn1neg = syn1neg.get();
    k.syn1 = syn1.get();
    k.code_offsets = code_offsets.get();
    k.codes = codes.get();
    k.points = points.get();
    k.lockf = host.lockf != nullptr ? lockf.get() : nullptr;
    k.ns_threshold = threshold.get();
    k.ns_alias = alias.get();
    k.words = ids.get();
    k.offsets = offsets.get();
    k.alphas = alphas.get();
    k.seeds = seeds.get();
    k.losses = host.losses != nullptr ? losses.get() : nullptr;
    const size_t shared = static_cast<size_t>(host.scratch_floats(block_dim)) * 4;
    // One launch at a time (each waited for), so that a stop request (Ctrl-C) takes effect
    // after the launch that is running: queued launches could not be recalled.
    for (size_t l = 0; l + 1 < plan.size() && !stop.load(std::memory_order_relaxed); ++l) {
      const auto grid = static_cast<unsigned>(plan[l + 1] - plan[l]);  // checked above
      run_block_kernel<<<grid, static_cast<unsigned>(block_dim), shared, stream>>>(
          w2v_launch_kernel(k, plan[l]));
      check_cuda(cudaGetLastError(), "kernel launch");
      check_cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }
    syn0.copy_to(host.syn0, VE);
    if (host.negative > 0) syn1neg.copy_to(host.syn1neg, VE);
    if (host.hs) syn1.copy_to(host.syn1, VE);
    if (host.losses != nullptr) losses.copy_to(host.losses, blocks);
    check_cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  }
};

}  // namespace

std::vector<W2vLaunch> cuda_w2v_train_epoch_ids(w2v::TrainState& st, const w2v::TrainConfig& cfg,
                                                const int32_t* ids, const int64_t* offsets,
                                                int64_t S, int64_t epoch, int64_t launch_words) {
  W2vCudaBackend be;
  return w2v_train_epoch_ids(be, st, cfg, ids, offsets, S, epoch, launch_words);
}

}  // namespace gpu
}  // namespace fastrnn
