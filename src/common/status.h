#pragma once
// vv::Status and vv::Result<T>: the error type at every module boundary.
// No exceptions cross a module boundary or appear on the request path; adapters catch
// third-party exceptions and convert them here. An OK Status carries no message.
// Thread-safety: value types, no shared state.

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace vv {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // bad input (config value, malformed data)
  kNotFound,
  kAlreadyExists,     // e.g. nonce already registered
  kPermissionDenied,  // e.g. insecure key file mode
  kUnavailable,       // a dependency is down: callers fail closed (503)
  kDataLoss,          // corruption / integrity failure
  kResourceExhausted, // rate limits, size limits
  kInternal,
};

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
  static Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Result<T>: either a value or a non-OK Status.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}             // NOLINT(implicit)
  Result(Status status) : v_(std::move(status)) {}       // NOLINT(implicit); REQUIRES: !status.ok()

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace vv

// Propagate a non-OK Status from an expression returning Status.
#define VV_RETURN_IF_ERROR(expr)            \
  do {                                      \
    ::vv::Status _vv_s = (expr);            \
    if (!_vv_s.ok()) return _vv_s;          \
  } while (0)

// Evaluate `...` (an expression yielding a vv::Result<T>) exactly once into a uniquely
// named temporary; if it is not OK, return its Status unchanged from the enclosing
// function (which must return vv::Status or some vv::Result<U>, both constructible from
// a Status). Otherwise move the value out into `lhs`:
//   VV_ASSIGN_OR_RETURN(auto key, LoadKey(path));      // declares `key` (type T, moved)
//   VV_ASSIGN_OR_RETURN(std::string body, ReadAll(f)); // declares with an explicit type
//   VV_ASSIGN_OR_RETURN(existing, Parse(text));        // move-assigns an existing variable
// `lhs` must not be a reference declaration (`const auto& x`, `auto&& x`): that is not
// supported — it would alias the value left inside the hidden, moved-from temporary
// instead of owning it. Use `auto x` (a move, never a copy). `lhs` must not contain an
// unparenthesised comma (write `auto p`, not `std::pair<A, B> p`); the expression may.
// Expands to several statements: do not use it as the unbraced body of if/else/for.
// Inside a lambda the `return` leaves the lambda, whose return type must then be a
// Status or Result.
#define VV_ASSIGN_OR_RETURN(lhs, ...) \
  VV_ASSIGN_OR_RETURN_IMPL_(VV_STATUS_CONCAT_(_vv_aor_, __COUNTER__), lhs, __VA_ARGS__)
#define VV_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, ...) \
  auto tmp = (__VA_ARGS__);                      \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
#define VV_STATUS_CONCAT_(a, b) VV_STATUS_CONCAT_INNER_(a, b)
#define VV_STATUS_CONCAT_INNER_(a, b) a##b
