// handle_pool.h — per-thread library handles (cuBLAS's) that outlive their threads. A thread takes
// one handle per device at first use and keeps it; when the thread ends the handle goes back to a
// process-wide pool, where the next thread that needs one takes it. A program that starts and ends
// threads (a Python thread pool, a server's request threads) then holds as many handles as it ever
// ran threads at once, not one per thread it ever started. Handles are never destroyed: destroying
// one may synchronise the device, and at process exit the driver may already be unloaded. Plain
// C++ (no CUDA types), so the native test program checks it on any machine.
#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

namespace fastrnn {
namespace gpu {

template <class Handle>
class HandlePool {
 public:
  // The one pool for this handle type; never destroyed, so threads that end after static
  // destruction can still return their handles.
  static HandlePool& instance() {
    static HandlePool* pool = new HandlePool;
    return *pool;
  }

  // The calling thread's handle for `device`: its own, or one a thread that has ended left in the
  // pool, or a new one from create(&handle) (which throws when it cannot make one).
  template <class Create>
  Handle get(int device, Create&& create) {
    std::vector<Handle>& mine = thread_handles().by_device;
    if (static_cast<int>(mine.size()) <= device) mine.resize(device + 1, Handle{});
    if (mine[device] == Handle{}) {
      Handle handle = take(device);
      if (handle == Handle{}) create(&handle);
      mine[device] = handle;
    }
    return mine[device];
  }

  // Handles for `device` waiting in the pool (for tests).
  std::size_t pooled(int device) {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<int>(free_.size()) > device ? free_[device].size() : 0;
  }

 private:
  struct ThreadHandles {
    std::vector<Handle> by_device;
    ~ThreadHandles() {
      for (int device = 0; device < static_cast<int>(by_device.size()); ++device) {
        if (by_device[device] != Handle{}) instance().give(device, by_device[device]);
      }
    }
  };
  static ThreadHandles& thread_handles() {
    thread_local ThreadHandles handles;
    return handles;
  }
  Handle take(int device) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (static_cast<int>(free_.size()) <= device || free_[device].empty()) return Handle{};
    const Handle handle = free_[device].back();
    free_[device].pop_back();
    return handle;
  }
  void give(int device, Handle handle) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (static_cast<int>(free_.size()) <= device) free_.resize(device + 1);
    free_[device].push_back(handle);
  }

  std::mutex mutex_;
  std::vector<std::vector<Handle>> free_;  // [device] handles of threads that have ended
};

}  // namespace gpu
}  // namespace fastrnn
