// vv::Mutex / MutexLock / CondVar / SharedMutex (common/mutex.h): the annotated wrappers behave
// as the std types they wrap. Whether the analysis is live: thread_annotations_check.sh.

#include "common/mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace vv {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

struct Counter {
  Mutex mu;
  int n VV_GUARDED_BY(mu) = 0;
};

struct Flag {
  Mutex mu;
  CondVar cv;
  bool set VV_GUARDED_BY(mu) = false;
};

// Whether another thread can take `mu` right now (it releases it again at once).
bool FreeForOtherThreads(Mutex* mu) {
  bool acquired = false;
  std::thread([&] {
    if (mu->TryLock()) {
      acquired = true;
      mu->Unlock();
    }
  }).join();
  return acquired;
}

TEST(MutexTest, MutexLockExcludesOtherThreads) {
  Counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < 10000; ++i) {
        MutexLock l(&c.mu);
        ++c.n;
      }
    });
  }
  for (auto& t : threads) t.join();
  MutexLock l(&c.mu);
  EXPECT_EQ(c.n, 40000);
}

TEST(MutexTest, TryLockFailsWhileHeldElsewhere) {
  Mutex mu;
  EXPECT_TRUE(FreeForOtherThreads(&mu));
  MutexLock l(&mu);
  EXPECT_FALSE(FreeForOtherThreads(&mu));
}

TEST(MutexTest, MutexLockUnlockAndRelockMidScope) {
  Mutex mu;
  {
    MutexLock l(&mu);
    l.Unlock();
    EXPECT_TRUE(FreeForOtherThreads(&mu));  // released: another thread can take it
    l.Lock();
    EXPECT_FALSE(FreeForOtherThreads(&mu));
  }
  EXPECT_TRUE(FreeForOtherThreads(&mu));  // the destructor released it after the relock
  {
    MutexLock l(&mu);
    l.Unlock();
  }  // the destructor does not unlock twice
  EXPECT_TRUE(FreeForOtherThreads(&mu));
}

TEST(MutexTest, LowercaseLockUnlockAreTheSameMutex) {
  Counter c;
  c.mu.lock();
  EXPECT_FALSE(FreeForOtherThreads(&c.mu));
  c.n = 7;
  c.mu.unlock();
  EXPECT_TRUE(FreeForOtherThreads(&c.mu));
  MutexLock l(&c.mu);
  EXPECT_EQ(c.n, 7);
}

TEST(CondVarTest, WaitWakesOnSignal) {
  Flag f;
  std::thread signaller([&] {
    std::this_thread::sleep_for(milliseconds(20));
    {
      MutexLock l(&f.mu);
      f.set = true;
    }
    f.cv.Signal();
  });
  {
    MutexLock l(&f.mu);
    while (!f.set) f.cv.Wait(&f.mu);
    EXPECT_TRUE(f.set);
  }
  signaller.join();
}

TEST(CondVarTest, SignalAllWakesEveryWaiter) {
  Flag f;
  std::atomic<int> woke{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.emplace_back([&] {
      MutexLock l(&f.mu);
      while (!f.set) f.cv.Wait(&f.mu);
      woke.fetch_add(1);
    });
  }
  {
    MutexLock l(&f.mu);
    f.set = true;
  }
  f.cv.SignalAll();
  for (auto& t : waiters) t.join();
  EXPECT_EQ(woke.load(), 3);
}

TEST(CondVarTest, WaitForTimesOutWithTheMutexHeldAgain) {
  Mutex mu;
  CondVar cv;
  MutexLock l(&mu);
  const auto start = steady_clock::now();
  std::cv_status s = std::cv_status::no_timeout;
  // Spurious wakeups are allowed: wait until one wait reports the timeout.
  while (s != std::cv_status::timeout) s = cv.WaitFor(&mu, milliseconds(30));
  EXPECT_GE(steady_clock::now() - start, milliseconds(30));
  EXPECT_FALSE(FreeForOtherThreads(&mu));  // held again
}

TEST(CondVarTest, WaitUntilReturnsNoTimeoutWhenSignalled) {
  Flag f;
  std::thread signaller([&] {
    MutexLock l(&f.mu);
    f.set = true;
    f.cv.SignalAll();
  });
  const auto deadline = steady_clock::now() + std::chrono::seconds(30);
  {
    MutexLock l(&f.mu);
    while (!f.set) {
      if (f.cv.WaitUntil(&f.mu, deadline) == std::cv_status::timeout) break;
    }
    EXPECT_TRUE(f.set);
  }
  EXPECT_LT(steady_clock::now(), deadline);
  signaller.join();
}

struct Shared {
  SharedMutex mu;
  int value VV_GUARDED_BY(mu) = 0;
};

TEST(SharedMutexTest, ReadersShareWritersExclude) {
  Shared s;
  {
    ReaderMutexLock r1(&s.mu);
    bool second_reader = false;  // a second reader gets in while the first holds it
    std::thread([&] {
      ReaderMutexLock r2(&s.mu);
      second_reader = true;
    }).join();
    EXPECT_TRUE(second_reader);
    EXPECT_EQ(s.value, 0);
  }
  std::atomic<bool> writer_in{false};
  std::thread writer;
  {
    ReaderMutexLock r(&s.mu);
    writer = std::thread([&] {
      WriterMutexLock w(&s.mu);
      s.value = 1;
      writer_in = true;
    });
    std::this_thread::sleep_for(milliseconds(20));
    EXPECT_FALSE(writer_in.load());  // blocked by the reader
  }
  writer.join();
  ReaderMutexLock r(&s.mu);
  EXPECT_EQ(s.value, 1);
}

}  // namespace
}  // namespace vv
