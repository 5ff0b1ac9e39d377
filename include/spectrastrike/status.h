#pragma once
// SpectraStrike SDK: the one error type of the public API.
//
// Every SDK call that can fail returns a Status (no value) or a Result<T> (a value or a
// non-OK Status). The code says what kind of failure it is, the message says why in words
// (configuration errors name the key, I/O errors name the path). The SDK never throws.
// (HTTP answers are not errors: an HttpResponse with a 4xx/5xx status is a response.)
// Thread-safety: value types, no shared state.

#include <string>
#include <utility>
#include <variant>

namespace spectrastrike {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad input: configuration value, malformed event or response
  kNotFound,         // a file (key, certificate) or spool entry that does not exist
  kAlreadyExists,
  kPermissionDenied,  // a key file readable by others, a response that fails verification
  kUnavailable,       // the gateway or a file could not be reached or written
  kDataLoss,          // a corrupt spool or replay cache
  kResourceExhausted,
  kInternal,
};

class Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value, or the Status that says why there is none. Construct from a T or a non-OK Status.
template <typename T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}       // NOLINT(implicit)
  Result(Status error) : state_(std::move(error)) {}  // NOLINT(implicit); REQUIRES: !error.ok()

  bool ok() const { return state_.index() == 0; }
  // OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<1>(state_); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace spectrastrike
