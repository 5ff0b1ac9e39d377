#pragma once
// Mutexes the clang thread-safety analysis can see (common/thread_annotations.h): thin wrappers
// over std::mutex / std::shared_mutex / std::condition_variable, as leveldb's port_stdcxx.h and
// Abseil's Mutex do. No behaviour of their own: the same locks, annotated.
//
//   vv::Mutex mu_;
//   std::deque<Item> items_ VV_GUARDED_BY(mu_);
//   vv::CondVar cv_;
//
//   { vv::MutexLock l(&mu_); items_.push_back(x); }  cv_.SignalAll();
//   vv::MutexLock l(&mu_);
//   while (items_.empty()) cv_.Wait(&mu_);   // the predicate in the loop, not in a lambda:
//                                            // the analysis does not see a lambda holding mu_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#include "common/thread_annotations.h"

namespace vv {


// An exclusive, non-recursive mutex (std::mutex).
class VV_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() VV_ACQUIRE() { mu_.lock(); }
  void Unlock() VV_RELEASE() { mu_.unlock(); }
  bool TryLock() VV_TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Tells the analysis the caller holds the mutex (no runtime check: std::mutex has no owner).
  void AssertHeld() const VV_ASSERT_CAPABILITY(this) {}

  // BasicLockable / Lockable, so std::lock and std::scoped_lock still work.
  void lock() VV_ACQUIRE() { Lock(); }
  void unlock() VV_RELEASE() { Unlock(); }
  bool try_lock() VV_TRY_ACQUIRE(true) { return TryLock(); }

  // The wrapped mutex, for CondVar (std::condition_variable waits on a std::mutex).
  std::mutex& native() VV_RETURN_CAPABILITY(this) { return mu_; }

 private:
  std::mutex mu_;
};

// Holds a Mutex for its scope. Unlock() / Lock() release and retake it mid-scope; the
// destructor unlocks only if held.
class VV_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) VV_ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() VV_RELEASE() {
    if (locked_) mu_->Unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() VV_RELEASE() {
    mu_->Unlock();
    locked_ = false;
  }
  void Lock() VV_ACQUIRE() {
    mu_->Lock();
    locked_ = true;
  }

 private:
  Mutex* const mu_;
  bool locked_ = true;
};

// A condition variable over a Mutex. Every wait requires the mutex held and returns with it held
// (it is released while blocked). Spurious wakeups happen: wait in a loop on the condition.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void Wait(Mutex* mu) VV_REQUIRES(mu) {
    std::unique_lock<std::mutex> l(mu->native(), std::adopt_lock);
    cv_.wait(l);
    l.release();  // still held: the caller's lock owns it
  }
  // std::cv_status::timeout when `rel` elapsed (the mutex is then held again too).
  template <class Rep, class Period>
  std::cv_status WaitFor(Mutex* mu, const std::chrono::duration<Rep, Period>& rel)
      VV_REQUIRES(mu) {
    std::unique_lock<std::mutex> l(mu->native(), std::adopt_lock);
    std::cv_status s = cv_.wait_for(l, rel);
    l.release();
    return s;
  }
  template <class Clock, class Duration>
  std::cv_status WaitUntil(Mutex* mu, const std::chrono::time_point<Clock, Duration>& deadline)
      VV_REQUIRES(mu) {
    std::unique_lock<std::mutex> l(mu->native(), std::adopt_lock);
    std::cv_status s = cv_.wait_until(l, deadline);
    l.release();
    return s;
  }

  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

// A reader/writer mutex (std::shared_mutex).
class VV_CAPABILITY("shared_mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void Lock() VV_ACQUIRE() { mu_.lock(); }
  void Unlock() VV_RELEASE() { mu_.unlock(); }
  void ReaderLock() VV_ACQUIRE_SHARED() { mu_.lock_shared(); }
  void ReaderUnlock() VV_RELEASE_SHARED() { mu_.unlock_shared(); }
  void AssertHeld() const VV_ASSERT_CAPABILITY(this) {}
  void AssertReaderHeld() const VV_ASSERT_SHARED_CAPABILITY(this) {}

  // Lockable / SharedLockable.
  void lock() VV_ACQUIRE() { Lock(); }
  void unlock() VV_RELEASE() { Unlock(); }
  void lock_shared() VV_ACQUIRE_SHARED() { ReaderLock(); }
  void unlock_shared() VV_RELEASE_SHARED() { ReaderUnlock(); }

 private:
  std::shared_mutex mu_;
};

// Holds a SharedMutex shared (reader) for its scope.
class VV_SCOPED_CAPABILITY ReaderMutexLock {
 public:
  explicit ReaderMutexLock(SharedMutex* mu) VV_ACQUIRE_SHARED(mu) : mu_(mu) { mu_->ReaderLock(); }
  ~ReaderMutexLock() VV_RELEASE() { mu_->ReaderUnlock(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  SharedMutex* const mu_;
};

// Holds a SharedMutex exclusively (writer) for its scope.
class VV_SCOPED_CAPABILITY WriterMutexLock {
 public:
  explicit WriterMutexLock(SharedMutex* mu) VV_ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~WriterMutexLock() VV_RELEASE() { mu_->Unlock(); }
  WriterMutexLock(const WriterMutexLock&) = delete;
  WriterMutexLock& operator=(const WriterMutexLock&) = delete;

 private:
  SharedMutex* const mu_;
};

}  // namespace vv
