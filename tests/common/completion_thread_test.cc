// CompletionThread: items posted while the thread is busy run together, in post order, inside
// ONE CompletionBatch closed after the last of them; Post blocks at the bound and resumes when
// the thread takes the waiting items; Stop (and the destructor) runs everything posted; a Post
// after Stop runs inline, inside a batch, so nothing is lost.

#include "common/completion_thread.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vv {
namespace {

// What ran where: "run N" per item, "close after K" when a batch's part closes (K = items of
// that batch), "no batch N" for an item run outside any batch.
class Log {
 public:
  void Add(std::string e) {
    std::lock_guard<std::mutex> l(mu_);
    events_.push_back(std::move(e));
  }
  std::vector<std::string> events() {
    std::lock_guard<std::mutex> l(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> events_;
};

struct CountPart final : CompletionBatch::Part {
  explicit CountPart(Log& l) : log(l) {}
  void Close() override { log.Add("close after " + std::to_string(items)); }
  Log& log;
  int items = 0;
};

// The first item with `hold` set blocks the completion thread until Release().
class Gate {
 public:
  void WaitHeld() { held_.get_future().wait(); }
  void Hold() {
    held_.set_value();
    released_.get_future().wait();
  }
  void Release() { released_.set_value(); }

 private:
  std::promise<void> held_, released_;
};

struct Item {
  int n = 0;
  Gate* gate = nullptr;
};

CompletionThread<Item>::Run Recording(Log& log, std::thread::id* ran_on = nullptr) {
  return [&log, ran_on](Item& item) {
    if (item.gate != nullptr) item.gate->Hold();
    if (ran_on != nullptr) *ran_on = std::this_thread::get_id();
    CompletionBatch* batch = CompletionBatch::Current();
    if (batch == nullptr) {
      log.Add("no batch " + std::to_string(item.n));
    } else {
      batch->PartFor<CountPart>(&log, [&] { return std::make_unique<CountPart>(log); }).items++;
    }
    log.Add("run " + std::to_string(item.n));
  };
}

TEST(CompletionThreadTest, ItemsThatWaitedTogetherRunInOrderInOneBatch) {
  Log log;
  Gate gate;
  CompletionThread<Item> t(Recording(log));
  t.Post({0, &gate});
  gate.WaitHeld();  // the thread is busy with item 0; 1..4 wait together
  for (int i = 1; i <= 4; ++i) t.Post({i, nullptr});
  gate.Release();
  t.Stop();
  EXPECT_EQ(log.events(),
            (std::vector<std::string>{"run 0", "close after 1", "run 1", "run 2", "run 3", "run 4",
                                      "close after 4"}));
  EXPECT_EQ(t.runs(), 2u);
  EXPECT_EQ(t.items(), 5u);
}

TEST(CompletionThreadTest, PostBlocksAtTheBoundUntilTheThreadTakesTheWaitingItems) {
  Log log;
  Gate gate;
  CompletionThread<Item> t(Recording(log), /*max_waiting=*/2);
  t.Post({0, &gate});
  gate.WaitHeld();
  t.Post({1, nullptr});
  t.Post({2, nullptr});  // two wait: the bound
  std::atomic<bool> posted{false};
  std::thread producer([&] {
    t.Post({3, nullptr});
    posted = true;
  });
  // Not a timing assertion on the code under test: if the bound were ignored, `posted` would
  // turn true here; a slow machine can only make this check weaker, never fail it wrongly.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(posted.load()) << "Post returned while two items waited";
  gate.Release();
  producer.join();
  EXPECT_TRUE(posted.load());
  t.Stop();
  EXPECT_EQ(t.items(), 4u);
  std::vector<std::string> runs;
  for (const std::string& e : log.events())
    if (e.rfind("run ", 0) == 0) runs.push_back(e);
  EXPECT_EQ(runs, (std::vector<std::string>{"run 0", "run 1", "run 2", "run 3"}));
}

TEST(CompletionThreadTest, StopRunsEverythingPostedAndLaterPostsRunInlineInABatch) {
  Log log;
  Gate gate;
  std::thread::id ran_on;
  CompletionThread<Item> t(Recording(log, &ran_on));
  t.Post({0, &gate});
  gate.WaitHeld();
  t.Post({1, nullptr});
  std::thread stopper([&] { t.Stop(); });  // must wait for item 1, posted before it
  gate.Release();
  stopper.join();
  const std::vector<std::string> after_stop = log.events();
  EXPECT_EQ(after_stop, (std::vector<std::string>{"run 0", "close after 1", "run 1",
                                                  "close after 1"}));
  t.Post({2, nullptr});  // stopped: runs here, on this thread, inside a batch of its own
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  std::vector<std::string> all = log.events();
  ASSERT_EQ(all.size(), after_stop.size() + 2);
  EXPECT_EQ(all[after_stop.size()], "run 2");
  EXPECT_EQ(all[after_stop.size() + 1], "close after 1");
  t.Stop();  // idempotent
  EXPECT_EQ(CompletionBatch::Current(), nullptr);
}

TEST(CompletionThreadTest, DestructionRunsWhatWaits) {
  Log log;
  Gate gate;
  {
    CompletionThread<Item> t(Recording(log));
    t.Post({0, &gate});
    gate.WaitHeld();
    for (int i = 1; i <= 3; ++i) t.Post({i, nullptr});
    gate.Release();
  }
  std::vector<std::string> runs;
  for (const std::string& e : log.events())
    if (e.rfind("run ", 0) == 0) runs.push_back(e);
  EXPECT_EQ(runs, (std::vector<std::string>{"run 0", "run 1", "run 2", "run 3"}));
}

// Many producers, one thread: every item runs exactly once.
TEST(CompletionThreadTest, ConcurrentProducersLoseNothing) {
  constexpr int kThreads = 4, kEach = 2000;
  std::vector<std::atomic<int>> seen(kThreads * kEach);
  {
    CompletionThread<int> t([&](int& i) { seen[i].fetch_add(1); }, /*max_waiting=*/64);
    std::vector<std::thread> producers;
    for (int p = 0; p < kThreads; ++p)
      producers.emplace_back([&, p] {
        for (int i = 0; i < kEach; ++i) t.Post(p * kEach + i);
      });
    for (std::thread& p : producers) p.join();
  }
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i].load(), 1) << i;
}

}  // namespace
}  // namespace vv
