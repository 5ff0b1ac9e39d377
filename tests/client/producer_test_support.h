#pragma once
// Test helpers for the producer library: a scripted Transport, a recording Sleeper, the
// wire-contract Appendix A keys and an A.2-shaped canonical payload.

#include <deque>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "fakes/fake_clock.h"
#include "json/json.h"
#include "spectrastrike/producer.h"
#include "spectrastrike/retry.h"
#include "spectrastrike/signer.h"

namespace spectrastrike::test_support {

inline constexpr char kProducerSeedHex[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
inline constexpr char kFeedbackSeedHex[] =
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
inline constexpr char kTenant[] = "10000000-0000-0000-0000-000000000001";

inline RequestSigner ProducerSigner() {
  return *RequestSigner::FromSeed(*vv::HexDecode(kProducerSeedHex));
}

// The A.2 canonical payload (event id configurable), as a value to edit ...
inline vv::json::Value A2PayloadValue(const std::string& event_id = "evt-vector-0001") {
  auto v = vv::json::Parse(
      R"({"attributes":{"asset_ref":"host-nyc-01","attestation_measurement_hash":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","schema_version":"1.0"},"description":"Observed suspicious process chain","event_id":"evt-vector-0001","event_type":"PROCESS_ANOMALY","mitre_tactics":["TA0002"],"mitre_techniques":["T1059.001"],"observed_at":"2026-02-26T12:00:00Z","severity":"high","source_system":"spectrastrike-sensor"})");
  vv::json::Value p = *v;
  p.Set("event_id", event_id);
  return p;
}

// ... and as the JSON text the SDK takes.
inline std::string A2Payload(const std::string& event_id = "evt-vector-0001") {
  return vv::json::Canonical(A2PayloadValue(event_id));
}

inline ProducerIdentity A2Identity() { return {"op-001", kTenant, "cmp-001"}; }

// Records every request and answers from a script (then repeats the last answer).
class ScriptedTransport final : public Transport {
 public:
  struct Call {
    std::string target;
    HeaderList headers;
    std::string body;
    std::string Header(const std::string& name) const {
      for (const auto& [k, v] : headers)
        if (k == name) return v;
      return "";
    }
  };
  void Push(int status, std::string body = "{}") {
    HttpResponse r;
    r.transport_ok = true;
    r.status = status;
    r.body = std::move(body);
    script_.push_back(std::move(r));
  }
  void PushNetworkError() {
    HttpResponse r;
    r.transport_ok = false;
    r.error = "connection refused";
    script_.push_back(std::move(r));
  }
  void PushResponse(HttpResponse r) { script_.push_back(std::move(r)); }
  HttpResponse Post(const std::string& target, const HeaderList& headers,
                    const std::string& body) override {
    calls.push_back({target, headers, body});
    if (script_.size() > 1) {
      HttpResponse r = script_.front();
      script_.pop_front();
      return r;
    }
    return script_.empty() ? HttpResponse{} : script_.front();
  }
  std::vector<Call> calls;

 private:
  std::deque<HttpResponse> script_;
};

// Records requested delays; optionally advances a FakeClock by them.
class RecordingSleeper final : public Sleeper {
 public:
  explicit RecordingSleeper(vv::testing::FakeClock* clock = nullptr) : clock_(clock) {}
  void SleepMillis(int64_t ms) override {
    delays.push_back(ms);
    if (clock_) clock_->AdvanceMicros(ms * 1000);
  }
  std::vector<int64_t> delays;

 private:
  vv::testing::FakeClock* clock_;
};

}  // namespace spectrastrike::test_support
