#pragma once
// The field kit of the request-body models (schema/cognitive_requests.h,
// schema/federation_request.h): pydantic `extra="forbid"` semantics - unknown keys, missing
// keys, wrong types and out-of-range values are errors - with lengths counted in code points
// (as pydantic counts them) and no control characters in identifiers (issue 12 item 15).
// Errors are InvalidArgument "<path><key>: <why>", where `path` names the enclosing object
// ("" at the top level, "bundle." inside the federation bundle). A client's key echoed in an
// error is bounded (BoundedKey), since the error reaches the audit log.
// Pure functions, thread-safe.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "common/status.h"
#include "json/json.h"

namespace vv::schema::fields {

// At most 64 bytes of a client's key, then "..." (the serialiser escapes it).
std::string BoundedKey(std::string_view key);

// `obj` is an object holding only `allowed` keys. Errors: "body must be a JSON object" (top
// level) or "<path without its dot>: must be an object"; "extra field not permitted:
// <path><key>".
Status OnlyKeys(const json::Value& obj, std::initializer_list<std::string_view> allowed,
                std::string_view path = "");

// A string member of `obj`: present, a string, min..max code points, no control character
// (C0, DEL, C1) and, with `forbid_pipe`, no '|' (fields joined with '|' under one signature,
// so a boundary cannot be shifted). Errors: "field required", "must be a string", "length
// must be MIN..MAX", "contains a forbidden character".
Result<std::string> Str(const json::Value& obj, std::string_view key, size_t min_chars,
                        size_t max_chars, std::string_view path = "", bool forbid_pipe = false);

// A JSON integer member (never "123", 123.0 or true: the reference's lax coercion is a
// weakness, wire-contract 13 item 12). Errors: "field required", "must be an integer",
// "integer out of range".
Result<int64_t> Int(const json::Value& obj, std::string_view key, std::string_view path = "");

// 64 hex characters, lowercased. Errors: Str's, then "must be 64 hex chars".
Result<std::string> Hex64Lower(const json::Value& obj, std::string_view key,
                               std::string_view path = "");

}  // namespace vv::schema::fields
