#pragma once
// Published<T>: the current immutable generation of something rebuilt on hot reload (a
// service's config snapshot and the checks built from it). Readers take a shared_ptr to the
// generation and keep using it until they finish, so a request in flight never sees half of
// a reload; Publish swaps in the next generation for later readers.
// Thread-safety: Current and Publish may be called concurrently from any thread (one mutex
// held only for the pointer copy/swap). Ownership: shares ownership of each generation.

#include <memory>
#include <utility>

#include "common/mutex.h"

namespace vv::app {

template <typename T>
class Published {
 public:
  Published() = default;
  explicit Published(std::shared_ptr<const T> first) : current_(std::move(first)) {}

  std::shared_ptr<const T> Current() const {
    MutexLock l(&mu_);
    return current_;
  }
  // The previous generation is released after the lock (`next` holds it on return).
  void Publish(std::shared_ptr<const T> next) {
    MutexLock l(&mu_);
    current_.swap(next);
  }

 private:
  mutable Mutex mu_;
  std::shared_ptr<const T> current_ VV_GUARDED_BY(mu_);
};

}  // namespace vv::app
