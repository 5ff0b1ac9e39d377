#pragma once
// The SDK's boundary between the internal vv::Status / vv::Result (src/common/status.h) and
// the public spectrastrike::Status / Result (include/spectrastrike/status.h): the client
// implementation works with the internal types and converts where a public function returns.
// The two StatusCode enums have the same members in the same order (checked below).

#include <utility>

#include "common/status.h"
#include "spectrastrike/status.h"

namespace spectrastrike {

#define SS_SAME_CODE(c) \
  static_assert(static_cast<int>(StatusCode::c) == static_cast<int>(vv::StatusCode::c))
SS_SAME_CODE(kOk);
SS_SAME_CODE(kInvalidArgument);
SS_SAME_CODE(kNotFound);
SS_SAME_CODE(kAlreadyExists);
SS_SAME_CODE(kPermissionDenied);
SS_SAME_CODE(kUnavailable);
SS_SAME_CODE(kDataLoss);
SS_SAME_CODE(kResourceExhausted);
SS_SAME_CODE(kInternal);
#undef SS_SAME_CODE

inline Status Public(const vv::Status& s) {
  if (s.ok()) return Status();
  return Status(static_cast<StatusCode>(s.code()), s.message());
}

template <typename T>
Result<T> Public(vv::Result<T> r) {
  if (!r.ok()) return Public(r.status());
  return std::move(r).value();
}

inline vv::Status Internal(const Status& s) {
  if (s.ok()) return vv::Status::Ok();
  return vv::Status(static_cast<vv::StatusCode>(s.code()), s.message());
}

}  // namespace spectrastrike
