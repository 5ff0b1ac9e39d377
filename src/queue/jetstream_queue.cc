#include "queue/jetstream_queue.h"

#include <nats/nats.h>

#include <chrono>

#include "crypto/crypto.h"
#include "natsclient/connection.h"
#include "queue/envelope_codec.h"

namespace vv::queue {

namespace {

int64_t SteadyMicros() {
  // Ack timeouts are real elapsed time (network), not the injected business clock.
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

using natsclient::NatsText;

Status Connect(const JetStreamOptions& o, natsConnection** nc) {
  VV_ASSIGN_OR_RETURN(auto conn, natsclient::Connect(o.nats, "jetstream queue"));
  *nc = conn;
  return Status::Ok();
}

Status ValidateOptions(const JetStreamOptions& o) {
  VV_RETURN_IF_ERROR(natsclient::ValidateOptions(o.nats));
  if (o.ingest_subject.empty() || o.dlq_subject.empty())
    return Status::InvalidArgument("queue_subject and dlq_subject must be set");
  if (o.ingest_subject == o.dlq_subject)
    return Status::InvalidArgument("queue_subject and dlq_subject must differ");
  if (o.ingest_stream.empty() || o.dlq_stream.empty() || o.ingest_stream == o.dlq_stream)
    return Status::InvalidArgument("ingest and DLQ stream names must be set and differ");
  if (o.replicas < 1 || o.replicas > 5) return Status::InvalidArgument("replicas must be 1..5");
  if (o.duplicate_window_ms < 1000)
    return Status::InvalidArgument("duplicate window must be at least 1 s");
  if (o.max_in_flight < 1) return Status::InvalidArgument("max_in_flight must be >= 1");
  if (o.max_age_ms < 0 || o.max_bytes < 0)
    return Status::InvalidArgument("stream max age / max bytes must be >= 0 (0 = unlimited)");
  if (o.ack_timeout_ms < 1) return Status::InvalidArgument("ack timeout must be positive");
  return Status::Ok();
}

}  // namespace

// ---- JetStreamPublisher ---------------------------------------------------------------------

std::string JetStreamPublisher::MessageIdFor(const Envelope& e) {
  if (e.kind == Kind::kIngest && !e.dedupe_id.empty()) return crypto::Sha256Hex(e.dedupe_id);
  return e.message_id;
}

JetStreamPublisher::JetStreamPublisher(const JetStreamOptions& options) : options_(options) {}

Result<std::unique_ptr<JetStreamPublisher>> JetStreamPublisher::Create(
    const JetStreamOptions& options) {
  VV_RETURN_IF_ERROR(ValidateOptions(options));
  std::unique_ptr<JetStreamPublisher> p(new JetStreamPublisher(options));
  VV_RETURN_IF_ERROR(p->Init());
  return p;
}

Status JetStreamPublisher::Init() {
  VV_RETURN_IF_ERROR(Connect(options_, &nc_));
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = std::max<int64_t>(options_.ack_timeout_ms, 1000);
  jo.PublishAsync.MaxPending = 0;  // our own bound (max_in_flight) applies; never stall
  jo.PublishAsync.AckHandler = &JetStreamPublisher::OnAck;
  jo.PublishAsync.AckHandlerClosure = this;
  natsStatus s = natsConnection_JetStream(&js_, nc_, &jo);
  if (s != NATS_OK) return Status::Unavailable("jetstream context: " + NatsText(s));
  // A cluster that lost a node answers stream requests with timeouts until the streams that
  // node led have new leaders: retry those (bounded), refuse anything else at once.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.stream_setup_timeout_ms);
  for (const auto& [stream, subject] :
       {std::pair{options_.ingest_stream, options_.ingest_subject},
        std::pair{options_.dlq_stream, options_.dlq_subject}}) {
    for (;;) {
      Status st = EnsureStream(stream, subject);
      if (st.ok()) break;
      if (st.code() != StatusCode::kUnavailable || !natsclient::IsConnected(nc_) ||
          std::chrono::steady_clock::now() >= deadline)
        return st;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  reaper_ = std::thread([this] { ReaperLoop(); });
  return Status::Ok();
}

namespace {

std::string DescribeLimits(int64_t max_age_ns, int64_t max_bytes, jsDiscardPolicy discard) {
  return "max_age=" + (max_age_ns == 0 ? std::string("unlimited")
                                        : std::to_string(max_age_ns / 1'000'000'000) + "s") +
         " max_bytes=" + (max_bytes <= 0 ? std::string("unlimited") : std::to_string(max_bytes)) +
         " discard=" + (discard == js_DiscardNew ? "new" : "old");
}

}  // namespace

Status JetStreamPublisher::EnsureStream(const std::string& name, const std::string& subject) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char* subjects[] = {subject.c_str()};
  cfg.Name = name.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Retention = js_LimitsPolicy;
  cfg.Replicas = options_.replicas;
  cfg.Duplicates = options_.duplicate_window_ms * 1'000'000;  // nanoseconds
  cfg.MaxAge = options_.max_age_ms * 1'000'000;               // nanoseconds, 0 = unlimited
  cfg.MaxBytes = options_.max_bytes > 0 ? options_.max_bytes : -1;
  cfg.Discard = options_.discard_new ? js_DiscardNew : js_DiscardOld;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js_, name.c_str(), nullptr, &jerr);
  if (s == NATS_NOT_FOUND) {
    s = js_AddStream(&si, js_, &cfg, nullptr, &jerr);
    jsStreamInfo_Destroy(si);
    if (s != NATS_OK)
      return Status::Unavailable("create stream " + name + ": " + NatsText(s, jerr));
    return Status::Ok();
  }
  if (s != NATS_OK)
    return Status::Unavailable("jetstream stream info " + name + ": " + NatsText(s, jerr));
  const jsStreamConfig& have = *si->Config;
  bool memory = have.Storage != js_FileStorage;
  bool same_subjects = have.SubjectsLen == 1 && subject == have.Subjects[0];
  const int64_t have_max_bytes = have.MaxBytes > 0 ? have.MaxBytes : -1;
  bool same = same_subjects && have.Duplicates == cfg.Duplicates &&
              have.Replicas == cfg.Replicas && have.MaxAge == cfg.MaxAge &&
              have_max_bytes == cfg.MaxBytes && have.Discard == cfg.Discard;
  const std::string have_limits = DescribeLimits(have.MaxAge, have_max_bytes, have.Discard);
  jsStreamInfo_Destroy(si);
  if (memory)
    return Status::InvalidArgument("stream " + name + " exists with memory storage; a durable " +
                                   "queue needs file storage");
  if (same || !options_.reconcile_existing) return Status::Ok();
  si = nullptr;
  s = js_UpdateStream(&si, js_, &cfg, nullptr, &jerr);
  jsStreamInfo_Destroy(si);
  if (s != NATS_OK)
    return Status::InvalidArgument(
        "stream " + name + " exists with an incompatible config (" + have_limits +
        ") and cannot be updated to the configured one (" +
        DescribeLimits(cfg.MaxAge, cfg.MaxBytes, cfg.Discard) + "): " + NatsText(s, jerr));
  return Status::Ok();
}

JetStreamPublisher::~JetStreamPublisher() {
  if (reaper_.joinable()) {
    {
      const auto deadline = std::chrono::steady_clock::now() +
                            std::chrono::milliseconds(options_.drain_timeout_ms);
      MutexLock l(&mu_);
      while (!pending_.empty()) {
        if (drained_cv_.WaitUntil(&mu_, deadline) == std::cv_status::timeout) break;
      }
      stopping_ = true;
    }
    reaper_cv_.SignalAll();
    reaper_.join();
    ExpireTimedOut(/*all=*/true);
  }
  if (nc_ != nullptr) natsConnection_Close(nc_);
  // After Close no new ack callback starts; wait for one that may be running.
  while (handlers_running_.load() > 0) std::this_thread::yield();
  FreeAcked(/*only_full_batch=*/false);  // no ack handler can add to acked_ any more
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (nc_ != nullptr) natsConnection_Destroy(nc_);
}

void JetStreamPublisher::Publish(Envelope envelope, PublishCallback done) {
  if (natsConnection_Status(nc_) != NATS_CONN_STATUS_CONNECTED) {
    done(Status::Unavailable("Telemetry queue publish failed: NATS not connected"),
         PublishOutcome::kStored);
    return;
  }
  const std::string& subject =
      envelope.kind == Kind::kIngest ? options_.ingest_subject : options_.dlq_subject;
  const std::string& stream =
      envelope.kind == Kind::kIngest ? options_.ingest_stream : options_.dlq_stream;
  std::string msg_id = MessageIdFor(envelope);
  std::string bytes = envelope.TakeWireBytes();
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, bytes.data(),
                                static_cast<int>(bytes.size()));
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Nats-Msg-Id", msg_id.c_str());
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);
    done(Status::Unavailable("Telemetry queue publish failed: " + NatsText(s)),
         PublishOutcome::kStored);
    return;
  }
  {
    MutexLock l(&mu_);
    if (stopping_ || pending_.size() >= options_.max_in_flight) {
      natsMsg_Destroy(msg);
      done(Status::Unavailable(stopping_ ? "Telemetry queue publish failed: shutting down"
                                         : "Telemetry queue publish failed: too many "
                                           "unacknowledged publishes"),
           PublishOutcome::kStored);
      return;
    }
    // Registered before sending: the ack may arrive before js_PublishMsgAsync returns.
    Pending entry;
    entry.done = std::move(done);
    entry.deadline_us = SteadyMicros() + options_.ack_timeout_ms * 1000;
    pending_.emplace(msg, std::move(entry));
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.ExpectStream = stream.c_str();
  po.MaxWait = options_.ack_timeout_ms;
  natsMsg* sent = msg;
  s = js_PublishMsgAsync(js_, &sent, &po);
  PublishCallback cb;
  Status result;
  PublishOutcome outcome = PublishOutcome::kStored;
  bool destroy = false;
  {
    MutexLock l(&mu_);
    auto it = pending_.find(msg);
    if (it != pending_.end()) {
      it->second.in_call = false;
      if (it->second.completed_during_call) {
        // The ack (or a timeout) came while we were still inside the call: complete it now.
        cb = std::move(it->second.done);
        result = it->second.result;
        outcome = it->second.outcome;
        pending_.erase(it);
        destroy = true;
      } else if (s != NATS_OK) {
        cb = std::move(it->second.done);
        result = Status::Unavailable("Telemetry queue publish failed: " + NatsText(s));
        pending_.erase(it);
        destroy = true;
      }
    } else if (s != NATS_OK) {
      destroy = true;  // the reaper already failed it; the message is still ours
    }
  }
  if (destroy) natsMsg_Destroy(msg);
  if (cb) cb(result, outcome);
  if (destroy) drained_cv_.SignalAll();
}

void JetStreamPublisher::OnAck(jsCtx* /*js*/, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae,
                               void* closure) {
  auto* self = static_cast<JetStreamPublisher*>(closure);
  self->handlers_running_.fetch_add(1);
  Status result = Status::Ok();
  PublishOutcome outcome = PublishOutcome::kStored;
  if (pa != nullptr) {
    outcome = pa->Duplicate ? PublishOutcome::kDuplicate : PublishOutcome::kStored;
  } else {
    std::string why = pae != nullptr ? std::string(natsStatus_GetText(pae->Err)) : "no ack";
    if (pae != nullptr && pae->ErrText != nullptr) why += std::string(": ") + pae->ErrText;
    result = Status::Unavailable("Telemetry queue publish failed: " + why);
  }
  PublishCallback done;
  bool now_empty = false;
  {
    MutexLock l(&self->mu_);
    auto it = self->pending_.find(msg);
    if (it != self->pending_.end() && it->second.in_call) {
      // The publishing thread is still inside js_PublishMsgAsync reading this message; it
      // completes the publish and frees the message when the call returns.
      it->second.completed_during_call = true;
      it->second.result = result;
      it->second.outcome = outcome;
    } else {
      if (it != self->pending_.end()) {
        done = std::move(it->second.done);
        self->pending_.erase(it);
        now_empty = self->pending_.empty();
      }
      self->acked_.push_back(msg);
    }
  }
  self->FreeAcked(/*only_full_batch=*/true);
  if (done) done(result, outcome);
  if (now_empty) self->drained_cv_.SignalAll();
  self->handlers_running_.fetch_sub(1);
}

void JetStreamPublisher::FreeAcked(bool only_full_batch) {
  std::vector<natsMsg*> batch;
  {
    MutexLock l(&mu_);
    if (acked_.empty() || (only_full_batch && acked_.size() < kFreeBatch)) return;
    batch.swap(acked_);
    acked_.reserve(kFreeBatch);
  }
  for (natsMsg* m : batch) natsMsg_Destroy(m);
}

void JetStreamPublisher::ReaperLoop() {
  MutexLock l(&mu_);
  while (!stopping_) {
    reaper_cv_.WaitFor(&mu_, std::chrono::milliseconds(50));
    if (stopping_) break;
    l.Unlock();
    FreeAcked(/*only_full_batch=*/false);
    ExpireTimedOut(/*all=*/false);
    l.Lock();
  }
}

void JetStreamPublisher::ExpireTimedOut(bool all) {
  int64_t now = SteadyMicros();
  {
    MutexLock l(&mu_);
    if (pending_.empty()) return;
    bool any = all;
    for (auto it = pending_.begin(); !any && it != pending_.end(); ++it)
      any = it->second.deadline_us < now;
    if (!any) return;
  }
  // Something timed out: the connection is likely broken. Take every outstanding message
  // back from the library (late acks are then ignored) and fail all of them; retries carry
  // the same Nats-Msg-Id, so a message that was in fact stored is not stored twice.
  // (Called without mu_: the library holds its own lock while invoking OnAck, which takes mu_.)
  natsMsgList list{};
  natsStatus s = js_PublishAsyncGetPendingList(&list, js_);
  std::vector<PublishCallback> failed;
  {
    MutexLock l(&mu_);
    const std::string timeout_why = "Telemetry queue publish failed: no JetStream ack within " +
                                    std::to_string(options_.ack_timeout_ms) + " ms";
    if (s == NATS_OK) {
      for (int i = 0; i < list.Count; ++i) {
        auto it = pending_.find(list.Msgs[i]);
        if (it == pending_.end()) continue;
        if (it->second.in_call) {
          // Still being read inside js_PublishMsgAsync: the publishing thread completes it and
          // frees the message when the call returns.
          it->second.completed_during_call = true;
          it->second.result = Status::Unavailable(timeout_why);
          list.Msgs[i] = nullptr;
          continue;
        }
        failed.push_back(std::move(it->second.done));
        pending_.erase(it);
      }
    }
    // Expired entries the library no longer tracks (an ack being handled right now finds
    // nothing and only frees the message).
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.in_call) {
        ++it;  // completed by the publishing thread
        continue;
      }
      if (all || it->second.deadline_us < now) {
        failed.push_back(std::move(it->second.done));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (s == NATS_OK) natsMsgList_Destroy(&list);
  std::string why = "Telemetry queue publish failed: no JetStream ack within " +
                    std::to_string(options_.ack_timeout_ms) + " ms";
  for (auto& cb : failed) cb(Status::Unavailable(why), PublishOutcome::kStored);
  drained_cv_.SignalAll();
}

Status JetStreamPublisher::Health() const {
  natsConnStatus st = natsConnection_Status(nc_);
  if (st == NATS_CONN_STATUS_CONNECTED) return Status::Ok();
  return Status::Unavailable("NATS connection is " +
                             std::string(st == NATS_CONN_STATUS_RECONNECTING ? "reconnecting"
                                         : st == NATS_CONN_STATUS_CLOSED     ? "closed"
                                                                             : "not connected"));
}

size_t JetStreamPublisher::in_flight() const {
  MutexLock l(&mu_);
  return pending_.size();
}

Result<uint64_t> JetStreamPublisher::StoredCount(Kind kind) {
  const std::string& stream = kind == Kind::kIngest ? options_.ingest_stream : options_.dlq_stream;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js_, stream.c_str(), nullptr, &jerr);
  if (s != NATS_OK) return Status::Unavailable("stream info " + stream + ": " + NatsText(s, jerr));
  uint64_t n = si->State.Msgs;
  jsStreamInfo_Destroy(si);
  return n;
}

Result<std::pair<uint64_t, uint64_t>> JetStreamPublisher::SequenceRange(Kind kind) {
  const std::string& stream = kind == Kind::kIngest ? options_.ingest_stream : options_.dlq_stream;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js_, stream.c_str(), nullptr, &jerr);
  if (s != NATS_OK) return Status::Unavailable("stream info " + stream + ": " + NatsText(s, jerr));
  std::pair<uint64_t, uint64_t> r{si->State.FirstSeq, si->State.LastSeq};
  jsStreamInfo_Destroy(si);
  return r;
}

Result<StoredMessage> JetStreamPublisher::GetStored(Kind kind, uint64_t sequence) {
  const std::string& stream = kind == Kind::kIngest ? options_.ingest_stream : options_.dlq_stream;
  natsMsg* m = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetMsg(&m, js_, stream.c_str(), sequence, nullptr, &jerr);
  if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr)
    return Status::NotFound("no message " + std::to_string(sequence) + " in " + stream);
  if (s != NATS_OK) return Status::Unavailable("get message " + stream + ": " + NatsText(s, jerr));
  StoredMessage sm;
  sm.sequence = static_cast<int64_t>(sequence);
  sm.wire_bytes.assign(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
  natsMsg_Destroy(m);
  auto env = ParseEnvelope(sm.wire_bytes);
  if (env.ok()) sm.envelope = std::move(env).value();
  return sm;
}

Result<uint64_t> JetStreamPublisher::PublishIngestBytesSync(const std::string& bytes,
                                                            const std::string& msg_id) {
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, options_.ingest_subject.c_str(), nullptr, bytes.data(),
                                static_cast<int>(bytes.size()));
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Nats-Msg-Id", msg_id.c_str());
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.ExpectStream = options_.ingest_stream.c_str();
  po.MaxWait = options_.ack_timeout_ms;
  jsPubAck* pa = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (s == NATS_OK) s = js_PublishMsg(&pa, js_, msg, &po, &jerr);
  natsMsg_Destroy(msg);
  if (s != NATS_OK) return Status::Unavailable("publish to ingest: " + NatsText(s, jerr));
  uint64_t seq = pa->Sequence;
  jsPubAck_Destroy(pa);
  return seq;
}

Status JetStreamPublisher::DeleteStored(Kind kind, uint64_t sequence) {
  const std::string& stream = kind == Kind::kIngest ? options_.ingest_stream : options_.dlq_stream;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteMsg(js_, stream.c_str(), sequence, nullptr, &jerr);
  if (s != NATS_OK) return Status::Unavailable("delete message " + stream + ": " + NatsText(s, jerr));
  return Status::Ok();
}

// ---- JetStreamConsumer ----------------------------------------------------------------------

Result<std::unique_ptr<JetStreamConsumer>> JetStreamConsumer::Create(
    const JetStreamOptions& options, const std::string& stream, const std::string& subject,
    const std::string& durable, int64_t ack_wait_ms) {
  if (durable.empty() || durable.find('.') != std::string::npos)
    return Status::InvalidArgument("durable consumer name must be non-empty without '.'");
  if (ack_wait_ms < 0) return Status::InvalidArgument("consumer ack wait must not be negative");
  std::unique_ptr<JetStreamConsumer> c(new JetStreamConsumer());
  c->stream_ = stream;
  c->durable_ = durable;
  VV_RETURN_IF_ERROR(Connect(options, &c->nc_));
  natsStatus s = natsConnection_JetStream(&c->js_, c->nc_, nullptr);
  if (s != NATS_OK) return Status::Unavailable("jetstream context: " + NatsText(s));
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const int64_t ack_wait_ns = ack_wait_ms * 1'000'000;
  if (ack_wait_ns > 0) {
    // An existing durable keeps its config on bind: reconcile the ack wait first (the
    // server accepts an ack wait change on a live durable).
    jsConsumerInfo* ci = nullptr;
    s = js_GetConsumerInfo(&ci, c->js_, stream.c_str(), durable.c_str(), nullptr, &jerr);
    if (s == NATS_OK && ci->Config->AckWait != ack_wait_ns) {
      jsConsumerConfig cc = *ci->Config;
      cc.AckWait = ack_wait_ns;
      jsConsumerInfo* updated = nullptr;
      s = js_UpdateConsumer(&updated, c->js_, stream.c_str(), &cc, nullptr, &jerr);
      jsConsumerInfo_Destroy(updated);
      jsConsumerInfo_Destroy(ci);
      if (s != NATS_OK)
        return Status::InvalidArgument("durable consumer " + stream + "/" + durable +
                                       " exists with another ack wait and cannot be updated: " +
                                       NatsText(s, jerr));
    } else {
      jsConsumerInfo_Destroy(ci);
      if (s != NATS_OK && s != NATS_NOT_FOUND)
        return Status::Unavailable("consumer info " + stream + "/" + durable + ": " +
                                   NatsText(s, jerr));
    }
  }
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Config.AckPolicy = js_AckExplicit;
  so.Config.DeliverPolicy = js_DeliverAll;
  so.Config.AckWait = ack_wait_ns;
  jerr = static_cast<jsErrCode>(0);
  s = js_PullSubscribe(&c->sub_, c->js_, subject.c_str(), durable.c_str(), nullptr, &so, &jerr);
  if (s != NATS_OK)
    return Status::Unavailable("pull subscribe " + stream + "/" + durable + ": " +
                               NatsText(s, jerr));
  return c;
}

JetStreamConsumer::~JetStreamConsumer() {
  {
    MutexLock l(&mu_);
    for (auto& [seq, m] : unacked_) {
      (void)natsMsg_Nak(m, nullptr);  // best effort: back to the consumer now
      natsMsg_Destroy(m);
    }
    unacked_.clear();
  }
  if (sub_ != nullptr) natsSubscription_Destroy(sub_);
  if (nc_ != nullptr) natsConnection_Close(nc_);
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (nc_ != nullptr) natsConnection_Destroy(nc_);
}

Result<std::vector<StoredMessage>> JetStreamConsumer::Fetch(int batch, int64_t timeout_ms,
                                                            FetchMode mode) {
  std::vector<StoredMessage> out;
  if (batch <= 0) return out;
  natsMsgList list{};
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = natsSubscription_Fetch(&list, sub_, batch, std::max<int64_t>(timeout_ms, 1),
                                        &jerr);
  if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND) return out;
  if (s != NATS_OK) return Status::Unavailable("fetch: " + NatsText(s, jerr));
  MutexLock l(&mu_);
  for (int i = 0; i < list.Count; ++i) {
    natsMsg* m = list.Msgs[i];
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, m) != NATS_OK) continue;  // not a JetStream message
    int64_t seq = static_cast<int64_t>(meta->Sequence.Stream);
    const int64_t delivered = static_cast<int64_t>(meta->NumDelivered);
    jsMsgMetaData_Destroy(meta);
    std::string_view wire(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
    StoredMessage sm;
    if (mode == FetchMode::kParsed) {
      auto env = ParseEnvelope(wire);
      if (!env.ok()) {
        // Poison message: never deliverable as an envelope; terminate its redelivery.
        natsMsg_Term(m, nullptr);
        continue;
      }
      sm.envelope = std::move(env).value();
    }
    sm.sequence = seq;
    sm.wire_bytes = std::string(wire);
    sm.delivery_count = delivered;
    out.push_back(std::move(sm));
    auto [it, inserted] = unacked_.emplace(seq, m);
    if (!inserted) {  // redelivery of a message still held: keep the newest copy
      natsMsg_Destroy(it->second);
      it->second = m;
    }
    list.Msgs[i] = nullptr;  // ownership moved to unacked_
  }
  natsMsgList_Destroy(&list);
  return out;
}

Status JetStreamConsumer::Ack(int64_t sequence) {
  natsMsg* m = nullptr;
  {
    MutexLock l(&mu_);
    auto it = unacked_.find(sequence);
    if (it == unacked_.end()) return Status::NotFound("no fetched message with that sequence");
    m = it->second;
    unacked_.erase(it);
  }
  natsStatus s = natsMsg_Ack(m, nullptr);
  natsMsg_Destroy(m);
  if (s != NATS_OK) return Status::Unavailable("ack: " + NatsText(s));
  return Status::Ok();
}

Result<ConsumerState> JetStreamConsumer::State() {
  jsConsumerInfo* ci = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s =
      js_GetConsumerInfo(&ci, js_, stream_.c_str(), durable_.c_str(), nullptr, &jerr);
  if (s != NATS_OK) return Status::Unavailable("consumer info: " + NatsText(s, jerr));
  ConsumerState st;
  st.pending = ci->NumPending;
  st.ack_pending = ci->NumAckPending;
  jsConsumerInfo_Destroy(ci);
  return st;
}

}  // namespace vv::queue
