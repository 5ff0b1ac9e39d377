#pragma once
// FailingPublisher: a test double that forwards to a real Publisher but fails on demand,
// for tests of components that publish (HTTP handler: 503 on queue failure, nonce release).
// While failing, Publish calls `done` inline with Unavailable (nothing reaches the inner
// publisher) and Health() reports Unavailable. Thread-safe; does not own `inner`, which
// must outlive it. (May move to tests/fakes/.)

#include <atomic>
#include <cstdint>
#include <utility>

#include "queue/queue.h"

namespace vv::testing {

class FailingPublisher final : public queue::Publisher {
 public:
  explicit FailingPublisher(queue::Publisher& inner) : inner_(inner) {}

  // Fail every publish from now on (true) or forward again (false).
  void set_failing(bool failing) { failing_.store(failing); }
  // Fail only the next `n` publishes, then forward again.
  void FailNext(int64_t n) { fail_next_.store(n); }
  int64_t failed_count() const { return failed_.load(); }
  int64_t forwarded_count() const { return forwarded_.load(); }

  void Publish(queue::Envelope envelope, queue::PublishCallback done) override {
    bool fail = failing_.load();
    if (!fail) {
      int64_t n = fail_next_.load();
      while (n > 0 && !fail_next_.compare_exchange_weak(n, n - 1)) {
      }
      fail = n > 0;
    }
    if (fail) {
      failed_.fetch_add(1);
      done(Status::Unavailable("injected publish failure"), queue::PublishOutcome::kStored);
      return;
    }
    forwarded_.fetch_add(1);
    inner_.Publish(std::move(envelope), std::move(done));
  }

  Status Health() const override {
    if (failing_.load()) return Status::Unavailable("injected publisher failure");
    return inner_.Health();
  }

 private:
  queue::Publisher& inner_;
  std::atomic<bool> failing_{false};
  std::atomic<int64_t> fail_next_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<int64_t> forwarded_{0};
};

}  // namespace vv::testing
