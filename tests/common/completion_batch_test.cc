// CompletionBatch: parts are made once per key, closed once when the batch closes (in creation
// order, parts made while closing included), nested batches are inert, Current() is per thread.

#include "common/completion_batch.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace vv {
namespace {

struct LogPart final : CompletionBatch::Part {
  LogPart(std::vector<std::string>& l, std::string n) : log(l), name(std::move(n)) {}
  void Close() override {
    log.push_back(name + ":" + std::to_string(adds));
    if (on_close) on_close();
  }
  std::vector<std::string>& log;
  std::string name;
  int adds = 0;
  std::function<void()> on_close;
};

TEST(CompletionBatchTest, NoBatchOutsideAScope) { EXPECT_EQ(CompletionBatch::Current(), nullptr); }

TEST(CompletionBatchTest, OnePartPerKeyClosedOnceAtTheEndInCreationOrder) {
  std::vector<std::string> log;
  int a = 0, b = 0;
  {
    CompletionBatch batch;
    ASSERT_EQ(CompletionBatch::Current(), &batch);
    for (int i = 0; i < 3; ++i) {
      CompletionBatch::Current()
          ->PartFor<LogPart>(&a, [&] { return std::make_unique<LogPart>(log, "a"); })
          .adds++;
      CompletionBatch::Current()
          ->PartFor<LogPart>(&b, [&] { return std::make_unique<LogPart>(log, "b"); })
          .adds++;
    }
    EXPECT_TRUE(log.empty());  // nothing closes before the batch does
  }
  EXPECT_EQ(log, (std::vector<std::string>{"a:3", "b:3"}));
  EXPECT_EQ(CompletionBatch::Current(), nullptr);
}

TEST(CompletionBatchTest, NestedBatchIsInertAndPartsMadeWhileClosingAreClosedToo) {
  std::vector<std::string> log;
  int a = 0, b = 0;
  {
    CompletionBatch outer;
    {
      CompletionBatch inner;
      EXPECT_EQ(CompletionBatch::Current(), &outer);
      auto& part =
          outer.PartFor<LogPart>(&a, [&] { return std::make_unique<LogPart>(log, "a"); });
      part.adds++;
      part.on_close = [&] {
        CompletionBatch::Current()
            ->PartFor<LogPart>(&b, [&] { return std::make_unique<LogPart>(log, "late"); })
            .adds++;
      };
    }
    EXPECT_TRUE(log.empty());  // the inner batch closed nothing
  }
  EXPECT_EQ(log, (std::vector<std::string>{"a:1", "late:1"}));
}

TEST(CompletionBatchTest, CurrentIsPerThread) {
  CompletionBatch batch;
  CompletionBatch* seen = &batch;
  std::thread t([&] { seen = CompletionBatch::Current(); });
  t.join();
  EXPECT_EQ(seen, nullptr);
}

}  // namespace
}  // namespace vv
