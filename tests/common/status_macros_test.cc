// VV_RETURN_IF_ERROR / VV_ASSIGN_OR_RETURN (issue 13): one macro for the hand-written
// `auto x = F(); if (!x.ok()) return x.status();` pattern.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "common/status.h"

namespace vv {
namespace {

Result<std::unique_ptr<int>> MakeBox(int v) { return std::make_unique<int>(v); }
Result<std::unique_ptr<int>> FailBox() { return Status::NotFound("no box here"); }
Result<std::string> Text(std::string s) { return s; }
Result<int> FailInt() { return Status::DataLoss("torn page 7"); }

// Success: the declared variable owns the moved-out, move-only value.
Status UnboxInto(int v, int* out) {
  VV_ASSIGN_OR_RETURN(auto box, MakeBox(v));
  static_assert(std::is_same_v<decltype(box), std::unique_ptr<int>>);
  *out = *box;
  return Status::Ok();
}

TEST(AssignOrReturnTest, SuccessDeclaresAndMovesTheValue) {
  int out = 0;
  EXPECT_TRUE(UnboxInto(42, &out).ok());
  EXPECT_EQ(out, 42);
}

TEST(AssignOrReturnTest, SuccessMoveAssignsAnExistingVariable) {
  std::unique_ptr<int> box = std::make_unique<int>(1);
  int* const first = box.get();
  auto f = [&]() -> Status {
    VV_ASSIGN_OR_RETURN(box, MakeBox(9));
    return Status::Ok();
  };
  ASSERT_TRUE(f().ok());
  ASSERT_NE(box, nullptr);
  EXPECT_EQ(*box, 9);
  EXPECT_NE(box.get(), first);
}

TEST(AssignOrReturnTest, SuccessWithAnExplicitType) {
  auto f = [](std::string* out) -> Status {
    VV_ASSIGN_OR_RETURN(std::string s, Text("hello"));
    *out = s;
    return Status::Ok();
  };
  std::string out;
  ASSERT_TRUE(f(&out).ok());
  EXPECT_EQ(out, "hello");
}

// Failure: the exact Status comes back and nothing after the macro runs.
TEST(AssignOrReturnTest, FailureReturnsTheExactStatusWithoutRunningWhatFollows) {
  bool reached = false;
  auto f = [&]() -> Status {
    VV_ASSIGN_OR_RETURN(auto box, FailBox());
    reached = true;
    (void)box;
    return Status::Ok();
  };
  const Status s = f();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "no box here");
  EXPECT_FALSE(reached);
}

TEST(AssignOrReturnTest, FailureLeavesAnExistingVariableUntouched) {
  int x = 5;
  auto f = [&]() -> Status {
    VV_ASSIGN_OR_RETURN(x, FailInt());
    return Status::Ok();
  };
  const Status s = f();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), "torn page 7");
  EXPECT_EQ(x, 5);
}

// Two uses in one scope need distinct hidden temporaries.
Result<std::string> Concat(const std::string& a, const std::string& b) {
  VV_ASSIGN_OR_RETURN(auto x, Text(a));
  VV_ASSIGN_OR_RETURN(auto y, Text(b));
  return x + y;
}

TEST(AssignOrReturnTest, TwoUsesInOneScope) {
  auto r = Concat("ab", "cd");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "abcd");
}

// In a function returning Result<U> with U != T, the Status converts to Result<U>.
Result<size_t> BoxedLength(bool fail) {
  VV_ASSIGN_OR_RETURN(auto box, fail ? FailBox() : MakeBox(3));
  VV_ASSIGN_OR_RETURN(std::string s, Text(std::string(static_cast<size_t>(*box), 'z')));
  return s.size();
}

TEST(AssignOrReturnTest, WorksInAFunctionReturningAResultOfAnotherType) {
  auto ok = BoxedLength(false);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 3u);
  auto bad = BoxedLength(true);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(bad.status().message(), "no box here");
}

TEST(AssignOrReturnTest, EvaluatesTheExpressionExactlyOnce) {
  int calls = 0;
  auto counted = [&](bool fail) -> Result<int> {
    ++calls;
    if (fail) return Status::Internal("boom");
    return 7;
  };
  auto use = [&](bool fail) -> Result<int> {
    VV_ASSIGN_OR_RETURN(int v, counted(fail));
    return v * 2;
  };
  auto r = use(false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 14);
  EXPECT_EQ(calls, 1);
  auto e = use(true);
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "boom");
  EXPECT_EQ(calls, 2);
}

TEST(AssignOrReturnTest, ExpressionMayContainCommas) {
  auto f = []() -> Result<int> {
    VV_ASSIGN_OR_RETURN(auto p, Result<std::pair<int, int>>(std::pair<int, int>{2, 3}));
    return p.first + p.second;
  };
  auto r = f();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 5);
}

// VV_RETURN_IF_ERROR, alongside: propagates exactly, stops on the first failure.
TEST(ReturnIfErrorTest, PropagatesTheFirstFailure) {
  int steps = 0;
  auto step = [&](Status s) { ++steps; return s; };
  auto f = [&]() -> Status {
    VV_RETURN_IF_ERROR(step(Status::Ok()));
    VV_RETURN_IF_ERROR(step(Status::Unavailable("redis down")));
    VV_RETURN_IF_ERROR(step(Status::Ok()));
    return Status::Ok();
  };
  const Status s = f();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "redis down");
  EXPECT_EQ(steps, 2);
}

}  // namespace
}  // namespace vv
