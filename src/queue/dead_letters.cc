#include "queue/dead_letters.h"

#include "crypto/crypto.h"
#include "queue/embedded_queue.h"
#include "queue/envelope_codec.h"
#include "queue/jetstream_queue.h"

namespace vv::queue {

namespace {

std::string StringMember(const json::Value& obj, std::string_view key) {
  const json::Value* v = obj.is_object() ? obj.Find(key) : nullptr;
  return v != nullptr && v->is_string() ? v->as_string() : std::string();
}

}  // namespace

Result<DeadLetterEntry> ParseDeadLetter(const StoredMessage& m) {
  auto env = ParseEnvelope(m.wire_bytes);
  if (!env.ok() || env->kind != Kind::kDeadLetter || !env->payload.is_object())
    return Status::DataLoss("message " + std::to_string(m.sequence) +
                            " is not a dead-letter envelope");
  DeadLetterEntry e;
  e.sequence = m.sequence;
  e.message_id = env->message_id;
  e.created_at = env->created_at;
  e.error_code = StringMember(env->payload, "error_code");
  e.error_message = StringMember(env->payload, "error_message");
  e.raw_body = StringMember(env->payload, "raw_body");
  e.trace = env->trace;
  auto original = RedrivableEnvelope(e);
  if (!original.ok()) e.not_redrivable = original.status().message();
  return e;
}

Result<Envelope> RedrivableEnvelope(const DeadLetterEntry& entry) {
  auto env = ParseEnvelope(entry.raw_body);
  if (!env.ok())
    return Status::InvalidArgument(
        "raw_body is not a queue envelope (a request the gateway refused); nothing to redrive");
  if (env->kind != Kind::kIngest)
    return Status::InvalidArgument("raw_body is not an ingest envelope");
  if (!VerifyIntegrity(*env))
    return Status::InvalidArgument(
        "integrity_hash does not match the payload; the envelope was altered and is not "
        "redriven");
  // Only canonical bytes are redriven: what the gateway signed and published.
  if (env->CanonicalBytes() != entry.raw_body)
    return Status::InvalidArgument("raw_body is not the canonical envelope encoding");
  return env;
}

namespace {

class EmbeddedAdmin final : public DeadLetterAdmin {
 public:
  explicit EmbeddedAdmin(EmbeddedQueue& q) : q_(q) {}
  Result<std::vector<DeadLetterEntry>> List(int64_t after, int limit) override {
    VV_ASSIGN_OR_RETURN(auto msgs, q_.ListUnacked(Kind::kDeadLetter, after, limit));
    std::vector<DeadLetterEntry> out;
    for (const auto& m : msgs) {
      VV_ASSIGN_OR_RETURN(auto e, ParseDeadLetter(m));
      out.push_back(std::move(e));
    }
    return out;
  }
  Result<DeadLetterEntry> Show(int64_t sequence) override {
    VV_ASSIGN_OR_RETURN(auto msgs, q_.ListUnacked(Kind::kDeadLetter, sequence - 1, 1));
    if (msgs.empty() || msgs[0].sequence != sequence)
      return Status::NotFound("no live dead letter with seq " + std::to_string(sequence));
    return ParseDeadLetter(msgs[0]);
  }
  Result<int64_t> Redrive(int64_t sequence) override {
    VV_ASSIGN_OR_RETURN(auto e, Show(sequence));
    VV_ASSIGN_OR_RETURN(auto original, RedrivableEnvelope(e));
    return q_.Redrive(sequence, original, e.raw_body);
  }

 private:
  EmbeddedQueue& q_;
};

class JetStreamAdmin final : public DeadLetterAdmin {
 public:
  explicit JetStreamAdmin(JetStreamPublisher& p) : p_(p) {}
  Result<std::vector<DeadLetterEntry>> List(int64_t after, int limit) override {
    std::vector<DeadLetterEntry> out;
    VV_ASSIGN_OR_RETURN(auto range, p_.SequenceRange(Kind::kDeadLetter));
    const auto [first, last] = range;
    if (last == 0 || limit <= 0) return out;
    uint64_t seq = std::max<uint64_t>(first, static_cast<uint64_t>(std::max<int64_t>(after, 0)) + 1);
    // Deleted (redriven) sequences are skipped; bounded so a sparse stream cannot make one
    // page an unbounded scan (the caller pages on with the last sequence seen).
    for (int probes = 0; seq <= last && static_cast<int>(out.size()) < limit &&
                         probes < limit * 8;
         ++seq, ++probes) {
      auto m = p_.GetStored(Kind::kDeadLetter, seq);
      if (!m.ok() && m.status().code() == StatusCode::kNotFound) continue;
      if (!m.ok()) return m.status();
      VV_ASSIGN_OR_RETURN(auto e, ParseDeadLetter(*m));
      out.push_back(std::move(e));
    }
    return out;
  }
  Result<DeadLetterEntry> Show(int64_t sequence) override {
    if (sequence < 1) return Status::NotFound("no dead letter with seq " + std::to_string(sequence));
    VV_ASSIGN_OR_RETURN(auto m, p_.GetStored(Kind::kDeadLetter, static_cast<uint64_t>(sequence)));
    return ParseDeadLetter(m);
  }
  Result<int64_t> Redrive(int64_t sequence) override {
    VV_ASSIGN_OR_RETURN(auto e, Show(sequence));
    VV_RETURN_IF_ERROR(RedrivableEnvelope(e).status());
    // A fresh Nats-Msg-Id per DLQ entry: the original id may still be inside the duplicate
    // window (the stream would drop the redrive as a duplicate), and a repeated redrive of
    // the same entry (crash before the delete) is deduplicated.
    const std::string msg_id =
        crypto::Sha256Hex("redrive/" + p_.options().dlq_stream + "/" + std::to_string(sequence) +
                          "/" + e.message_id);
    VV_ASSIGN_OR_RETURN(auto seq, p_.PublishIngestBytesSync(e.raw_body, msg_id));
    VV_RETURN_IF_ERROR(p_.DeleteStored(Kind::kDeadLetter, static_cast<uint64_t>(sequence)));
    return static_cast<int64_t>(seq);
  }

 private:
  JetStreamPublisher& p_;
};

}  // namespace

std::unique_ptr<DeadLetterAdmin> MakeEmbeddedDeadLetterAdmin(EmbeddedQueue& queue) {
  return std::make_unique<EmbeddedAdmin>(queue);
}
std::unique_ptr<DeadLetterAdmin> MakeJetStreamDeadLetterAdmin(JetStreamPublisher& publisher) {
  return std::make_unique<JetStreamAdmin>(publisher);
}

}  // namespace vv::queue
