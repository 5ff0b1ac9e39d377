#pragma once
// Builds telemetry request bodies shaped like wire-contract vector A.2 and signs them with the
// A.1 producer key, independently of the producer library (so gateway tests do not depend on
// the code they are checking against).

#include <cstdint>
#include <string>

#include "json/json.h"

namespace vv::testing {

inline constexpr const char* kProducerSeedHex =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
inline constexpr const char* kProducerPublicKeyB64 = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
inline constexpr const char* kTenant1 = "10000000-0000-0000-0000-000000000001";
inline constexpr const char* kTenant2 = "20000000-0000-0000-0000-000000000002";

// The A.2 request object with the given timestamp, nonce and event id.
json::Value MakeTelemetryBody(int64_t ts, const std::string& nonce,
                              const std::string& event_id = "evt-vector-0001");

struct SignedRequest {
  std::string body;  // canonical (sorted compact) JSON, as the Python producer sends it
  int64_t ts = 0;
  std::string nonce;
  std::string signature_b64;
};

// Signs "{ts}.{nonce}." + body with the A.1 producer seed (or `seed_hex`).
std::string SignB64(int64_t ts, const std::string& nonce, const std::string& body,
                    const std::string& seed_hex = kProducerSeedHex);
SignedRequest SignBody(const json::Value& body_obj, int64_t ts, const std::string& nonce,
                       const std::string& seed_hex = kProducerSeedHex);

}  // namespace vv::testing
