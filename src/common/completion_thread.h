#pragma once
// CompletionThread<T>: the one thread on which a backend completes its requests (issue 15).
//
// A backend that commits in groups (the embedded queue's writer) or is acknowledged on a
// library's thread (JetStream's PubAcks, queue/grouping_publisher.h) Posts what is done; this
// thread takes EVERY item waiting when it wakes and hands them, in post order, to `run`
// inside ONE CompletionBatch (common/completion_batch.h). The work callers defer to that batch
// (the gateway's audit records and answers) is then done once per wake-up, not once per item,
// and the producer goes on with its next group meanwhile.
//
//   CompletionThread<Group> completions([](Group& g) { for (auto& p : g) p.done(...); },
//                                       /*max_waiting=*/2);
//   completions.Post(std::move(group));   // the writer, after its commit
//
// Bound: with max_waiting > 0, Post blocks while that many items wait (back pressure on a
// producer that commits faster than its callbacks run); 0 = unbounded (a producer that must
// not block, e.g. a library's delivery thread).
// Stop (and the destructor): every item posted before it runs, then the thread ends. An item
// posted after Stop runs inline on the posting thread, inside a CompletionBatch of its own:
// nothing is lost, nothing runs twice.
// Thread-safety: Post and Stop from any thread but the completion thread; `run` is called on
// the completion thread (or inline, see Stop) with no internal lock held, and must not throw.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include "common/completion_batch.h"
#include "common/mutex.h"

namespace vv {

template <class T>
class CompletionThread {
 public:
  using Run = std::function<void(T&)>;

  explicit CompletionThread(Run run, size_t max_waiting = 0)
      : run_(std::move(run)), max_waiting_(max_waiting), thread_([this] { Loop(); }) {}
  ~CompletionThread() { Stop(); }
  CompletionThread(const CompletionThread&) = delete;
  CompletionThread& operator=(const CompletionThread&) = delete;

  void Post(T item) {
    {
      MutexLock l(&mu_);
      while (max_waiting_ > 0 && !stopping_ && waiting_.size() >= max_waiting_) room_.Wait(&mu_);
      if (!stopping_) {
        // The thread sleeps only while nothing waits: the post that ends that wakes it; the
        // others find it awake, or already woken (no futex call each).
        const bool wake = waiting_.empty();
        waiting_.push_back(std::move(item));
        l.Unlock();
        if (wake) wake_.Signal();
        return;
      }
    }
    CompletionBatch batch;  // stopped: run here, still inside a batch
    run_(item);
  }

  // Runs everything posted so far, then joins the thread. Idempotent.
  void Stop() {
    {
      MutexLock l(&mu_);
      stopping_ = true;
    }
    wake_.SignalAll();
    room_.SignalAll();
    if (thread_.joinable()) thread_.join();
  }

  // Wake-ups that ran at least one item, and items run (for tests and metrics).
  uint64_t runs() const {
    MutexLock l(&mu_);
    return runs_;
  }
  uint64_t items() const {
    MutexLock l(&mu_);
    return items_;
  }

 private:
  void Loop() {
    std::vector<T> run;
    for (;;) {
      {
        MutexLock l(&mu_);
        while (!stopping_ && waiting_.empty()) wake_.Wait(&mu_);
        if (waiting_.empty()) return;  // stopping, and everything posted has run
        run.swap(waiting_);
        ++runs_;
        items_ += run.size();
      }
      room_.SignalAll();
      {
        CompletionBatch batch;
        for (T& item : run) run_(item);
      }
      run.clear();
    }
  }

  const Run run_;
  const size_t max_waiting_;

  mutable Mutex mu_;
  CondVar wake_;  // an item was posted, or stopping_ was set
  CondVar room_;  // the waiting items were taken, or stopping_ was set
  std::vector<T> waiting_ VV_GUARDED_BY(mu_);
  bool stopping_ VV_GUARDED_BY(mu_) = false;
  uint64_t runs_ VV_GUARDED_BY(mu_) = 0;
  uint64_t items_ VV_GUARDED_BY(mu_) = 0;

  std::thread thread_;  // last: started once everything above is initialised
};

}  // namespace vv
