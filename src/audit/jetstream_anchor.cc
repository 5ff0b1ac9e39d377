#include "audit/jetstream_anchor.h"

#include <nats/nats.h>

#include <algorithm>
#include <utility>

#include "natsclient/connection.h"
#include "natsclient/server_list.h"

namespace vv::audit {

namespace {

constexpr const char* kExpectedLastSubjectSeqHeader = "Nats-Expected-Last-Subject-Sequence";
constexpr const char* kMsgIdHeader = "Nats-Msg-Id";
// Bound on what the verifier reads (one message per seal; far above any real log).
constexpr uint64_t kMaxAnchorMessages = uint64_t{1} << 24;

using natsclient::NatsText;

bool SubjectCovered(const std::vector<std::string>& subjects, const std::string& prefix,
                    const std::string& subject) {
  for (const std::string& s : subjects) {
    if (s == subject || s == prefix + ".>" || s == ">") return true;
  }
  return false;
}

Status ValidateOptions(const JetStreamAnchorOptions& o) {
  if (Status c = natsclient::ValidateOptions(o.nats); !c.ok())
    return Status::InvalidArgument("audit anchor: " + c.message());
  if (o.stream.empty() || o.stream.find_first_of(" .*>\t") != std::string::npos) {
    return Status::InvalidArgument("audit anchor: bad stream name \"" + o.stream + "\"");
  }
  if (o.subject_prefix.empty() || o.subject_prefix.find_first_of(" *>\t") != std::string::npos ||
      o.subject_prefix.front() == '.' || o.subject_prefix.back() == '.') {
    return Status::InvalidArgument("audit anchor: bad subject prefix \"" + o.subject_prefix +
                                   "\"");
  }
  if (!o.subject.empty()) {
    if (o.subject.rfind(o.subject_prefix + ".", 0) != 0 ||
        o.subject.size() <= o.subject_prefix.size() + 1 ||
        o.subject.find_first_of(" *>\t") != std::string::npos || o.subject.back() == '.') {
      return Status::InvalidArgument("audit anchor: subject \"" + o.subject +
                                     "\" must be a literal subject under " + o.subject_prefix +
                                     ".");
    }
  } else if (o.origin.empty()) {
    return Status::InvalidArgument("audit anchor: origin is empty");
  }
  if (o.replicas < 1 || o.replicas > 5) {
    return Status::InvalidArgument("audit anchor: replicas must be 1..5");
  }
  if (o.request_timeout_ms < 1) {
    return Status::InvalidArgument("audit anchor: request timeout must be positive");
  }
  return Status::Ok();
}

}  // namespace

std::string AnchorSubjectToken(std::string_view origin) {
  std::string out(origin);
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return out;
}

std::string AnchorSubject(std::string_view subject_prefix, std::string_view origin) {
  return std::string(subject_prefix) + "." + AnchorSubjectToken(origin);
}

bool IsNatsUrl(std::string_view s) {
  return s.rfind("nats://", 0) == 0 || s.rfind("tls://", 0) == 0;
}

JetStreamAnchorSink::JetStreamAnchorSink(const JetStreamAnchorOptions& options)
    : options_(options),
      subject_(options.subject.empty() ? AnchorSubject(options.subject_prefix, options.origin)
                                       : options.subject) {}

Result<std::unique_ptr<JetStreamAnchorSink>> JetStreamAnchorSink::Open(
    const JetStreamAnchorOptions& options) {
  VV_RETURN_IF_ERROR(ValidateOptions(options));
  std::unique_ptr<JetStreamAnchorSink> sink(new JetStreamAnchorSink(options));
  VV_RETURN_IF_ERROR(sink->Init());
  return sink;
}

Status JetStreamAnchorSink::Init() {
  const JetStreamAnchorOptions& o = options_;
  VV_ASSIGN_OR_RETURN(auto conn, natsclient::Connect(o.nats, "audit anchor"));
  nc_ = conn;
  natsStatus s = NATS_OK;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = o.request_timeout_ms;
  s = natsConnection_JetStream(&js_, nc_, &jo);
  if (s != NATS_OK) return Status::Unavailable("audit anchor jetstream context: " + NatsText(s));
  MutexLock l(&mu_);
  if (CheckConnectedLocked().ok()) {
    Status st = EnsureStreamLocked();
    // A stream that is not append-only (or a bad option) is a configuration error; an
    // outage just leaves the anchor lagging.
    if (!st.ok() && st.code() != StatusCode::kUnavailable) return st;
    if (!st.ok() && o.nats.require_connection) return st;
    if (st.ok()) {
      auto head = RefreshLocked();
      if (!head.ok() && head.status().code() == StatusCode::kDataLoss) return head.status();
    }
  }
  return Status::Ok();
}

JetStreamAnchorSink::~JetStreamAnchorSink() {
  if (nc_ != nullptr) natsConnection_Close(nc_);
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (nc_ != nullptr) natsConnection_Destroy(nc_);
}

bool JetStreamAnchorSink::connected() const {
  return nc_ != nullptr && natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
}

Status JetStreamAnchorSink::CheckConnectedLocked() const {
  if (!connected()) {
    return Status::Unavailable("audit anchor: NATS at " +
                               natsclient::RedactServerList(options_.nats.url) +
                               " is not connected");
  }
  return Status::Ok();
}

Status JetStreamAnchorSink::EnsureStreamLocked() {
  if (stream_ready_) return Status::Ok();
  const std::string& name = options_.stream;
  const std::string wildcard = options_.subject_prefix + ".>";
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js_, name.c_str(), nullptr, &jerr);
  if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
    jsStreamInfo_Destroy(si);
    if (!options_.create_stream) {
      return Status::NotFound("audit anchor stream " + name + " does not exist");
    }
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const char* subjects[] = {wildcard.c_str()};
    cfg.Name = name.c_str();
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Retention = js_LimitsPolicy;
    cfg.Discard = js_DiscardNew;  // never drop an old seal (there are no limits anyway)
    cfg.MaxMsgs = -1;
    cfg.MaxBytes = -1;
    cfg.MaxAge = 0;
    cfg.MaxMsgsPerSubject = -1;
    cfg.Replicas = options_.replicas;
    cfg.DenyDelete = true;
    cfg.DenyPurge = true;
    cfg.AllowRollup = false;
    si = nullptr;
    jerr = static_cast<jsErrCode>(0);
    s = js_AddStream(&si, js_, &cfg, nullptr, &jerr);
    jsStreamInfo_Destroy(si);
    if (s != NATS_OK) {
      return Status::Unavailable("audit anchor: create stream " + name + ": " + NatsText(s, jerr));
    }
    stream_ready_ = true;
    return Status::Ok();
  }
  if (s != NATS_OK) {
    return Status::Unavailable("audit anchor: stream info " + name + ": " + NatsText(s, jerr));
  }
  const jsStreamConfig* c = si->Config;
  std::vector<std::string> subjects;
  for (int i = 0; i < c->SubjectsLen; ++i) subjects.emplace_back(c->Subjects[i]);
  std::string why;
  if (!SubjectCovered(subjects, options_.subject_prefix, subject_)) {
    why = "its subjects do not include " + subject_;
  } else if (options_.create_stream) {
    if (c->Storage != js_FileStorage) why = "it uses memory storage";
    else if (!c->DenyDelete) why = "deny_delete is off";
    else if (!c->DenyPurge) why = "deny_purge is off";
    else if (c->AllowRollup) why = "rollups are allowed";
    else if (c->Retention != js_LimitsPolicy) why = "its retention is not limits";
    else if (c->MaxMsgs > 0 || c->MaxBytes > 0 || c->MaxAge > 0 || c->MaxMsgsPerSubject > 0)
      why = "it has limits (old seals would be discarded)";
  }
  jsStreamInfo_Destroy(si);
  if (!why.empty()) {
    return Status::InvalidArgument("audit anchor stream " + name + " exists but is not an " +
                                   "append-only anchor: " + why);
  }
  stream_ready_ = true;
  return Status::Ok();
}

Result<std::optional<AnchorRecord>> JetStreamAnchorSink::RefreshLocked() {
  head_known_ = false;
  VV_RETURN_IF_ERROR(CheckConnectedLocked());
  VV_RETURN_IF_ERROR(EnsureStreamLocked());
  natsMsg* msg = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetLastMsg(&msg, js_, options_.stream.c_str(), subject_.c_str(), nullptr,
                               &jerr);
  if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) {
    natsMsg_Destroy(msg);
    head_.reset();
    head_seq_ = 0;
    head_known_ = true;
    return std::optional<AnchorRecord>();
  }
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);
    return Status::Unavailable("audit anchor: last message on " + subject_ + ": " +
                               NatsText(s, jerr));
  }
  const uint64_t seq = natsMsg_GetSequence(msg);
  std::string_view data(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
  auto rec = AnchorRecord::FromLine(data);
  natsMsg_Destroy(msg);
  if (!rec.ok()) {
    return Status::DataLoss("fork_detected: the anchor's last message on " + subject_ +
                            " (stream sequence " + std::to_string(seq) +
                            ") is not an anchor record: " + rec.status().message());
  }
  head_ = std::move(rec).value();
  head_seq_ = seq;
  head_known_ = true;
  return head_;
}

Result<std::optional<AnchorRecord>> JetStreamAnchorSink::Refresh() {
  MutexLock l(&mu_);
  return RefreshLocked();
}

std::optional<AnchorRecord> JetStreamAnchorSink::Latest() const {
  MutexLock l(&mu_);
  return head_known_ ? head_ : std::nullopt;
}

Status JetStreamAnchorSink::Publish(const AnchorRecord& record) {
  MutexLock l(&mu_);
  if (!head_known_) {
    VV_RETURN_IF_ERROR(RefreshLocked().status());
  }
  if (head_.has_value() && !AnchorBefore(*head_, record)) {
    if (SamePosition(record, *head_) && record.entry_hash != head_->entry_hash) {
      return Status::DataLoss("fork_detected: the anchor's seal at line " +
                              std::to_string(record.index) + " on " + subject_ +
                              " differs from this log's seal");
    }
    return Status::Ok();  // already anchored
  }
  VV_RETURN_IF_ERROR(CheckConnectedLocked());
  const std::string line = record.ToLine();
  const std::string expected = std::to_string(head_seq_);
  // Segment 0 keeps the pre-rotation id format.
  const std::string msg_id =
      options_.origin + "/" +
      (record.segment > 0 ? "s" + std::to_string(record.segment) + "/" : std::string()) +
      std::to_string(record.index) + "/" + record.entry_hash;
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject_.c_str(), nullptr, line.data(),
                                static_cast<int>(line.size()));
  // Set explicitly: jsPubOptions.ExpectLastSubjectSeq cannot express "no message yet" (0).
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, kExpectedLastSubjectSeqHeader, expected.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, kMsgIdHeader, msg_id.c_str());
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);
    return Status::Unavailable("audit anchor: build message: " + NatsText(s));
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = options_.request_timeout_ms;
  po.ExpectStream = options_.stream.c_str();
  jsPubAck* pa = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  s = js_PublishMsg(&pa, js_, msg, &po, &jerr);
  natsMsg_Destroy(msg);
  if (s == NATS_OK && pa != nullptr) {
    const bool duplicate = pa->Duplicate;
    const uint64_t seq = pa->Sequence;
    jsPubAck_Destroy(pa);
    if (duplicate) {
      // Stored before (an earlier attempt whose ack was lost): re-read the head next time.
      head_known_ = false;
      return Status::Ok();
    }
    head_ = record;
    head_seq_ = seq;
    return Status::Ok();
  }
  jsPubAck_Destroy(pa);
  head_known_ = false;
  if (jerr == JSStreamWrongLastSequenceErr) {
    return Status::DataLoss("fork_detected: the anchor subject " + subject_ +
                            " no longer ends at stream sequence " + expected +
                            " (another writer appended a different history); seal at line " +
                            std::to_string(record.index) + " refused");
  }
  return Status::Unavailable("audit anchor: publish seal at line " +
                             std::to_string(record.index) + ": " + NatsText(s, jerr));
}

Result<AnchorStreamInfo> JetStreamAnchorSink::StreamInfo() {
  MutexLock l(&mu_);
  VV_RETURN_IF_ERROR(CheckConnectedLocked());
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js_, options_.stream.c_str(), nullptr, &jerr);
  if (s != NATS_OK) {
    jsStreamInfo_Destroy(si);
    if (s == NATS_NOT_FOUND) return Status::NotFound("audit anchor stream not found");
    return Status::Unavailable("audit anchor stream info: " + NatsText(s, jerr));
  }
  AnchorStreamInfo out;
  const jsStreamConfig* c = si->Config;
  out.file_storage = c->Storage == js_FileStorage;
  out.deny_delete = c->DenyDelete;
  out.deny_purge = c->DenyPurge;
  out.allow_rollup = c->AllowRollup;
  out.max_msgs = c->MaxMsgs;
  out.max_bytes = c->MaxBytes;
  out.max_age_ns = c->MaxAge;
  out.max_msgs_per_subject = c->MaxMsgsPerSubject;
  for (int i = 0; i < c->SubjectsLen; ++i) out.subjects.emplace_back(c->Subjects[i]);
  out.messages = si->State.Msgs;
  out.last_sequence = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  return out;
}

Result<std::vector<AnchorRecord>> JetStreamAnchorSink::ReadAll() {
  MutexLock l(&mu_);
  VV_RETURN_IF_ERROR(CheckConnectedLocked());
  VV_RETURN_IF_ERROR(EnsureStreamLocked());
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js_, options_.stream.c_str(), nullptr, &jerr);
  if (s != NATS_OK) {
    jsStreamInfo_Destroy(si);
    return Status::Unavailable("audit anchor stream info: " + NatsText(s, jerr));
  }
  const uint64_t first = si->State.FirstSeq;
  const uint64_t last = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  std::vector<AnchorRecord> out;
  if (last == 0 || first > last) return out;
  if (last - first >= kMaxAnchorMessages) {
    return Status::InvalidArgument("audit anchor stream has too many messages to read");
  }
  for (uint64_t seq = std::max<uint64_t>(first, 1); seq <= last; ++seq) {
    natsMsg* msg = nullptr;
    jerr = static_cast<jsErrCode>(0);
    s = js_GetMsg(&msg, js_, options_.stream.c_str(), seq, nullptr, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) {
      natsMsg_Destroy(msg);
      continue;  // a gap (cannot happen with deny_delete, but not ours to judge here)
    }
    if (s != NATS_OK) {
      natsMsg_Destroy(msg);
      return Status::Unavailable("audit anchor: read stream sequence " + std::to_string(seq) +
                                 ": " + NatsText(s, jerr));
    }
    const char* subj = natsMsg_GetSubject(msg);
    if (subj == nullptr || subject_ != subj) {
      natsMsg_Destroy(msg);
      continue;
    }
    std::string_view data(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    auto rec = AnchorRecord::FromLine(data);
    natsMsg_Destroy(msg);
    if (!rec.ok()) {
      return Status::InvalidArgument("anchor stream sequence " + std::to_string(seq) + ": " +
                                     rec.status().message());
    }
    if (!out.empty() && !AnchorBefore(out.back(), *rec)) {
      return Status::InvalidArgument("anchor stream sequence " + std::to_string(seq) +
                                     ": seal (segment, index) does not increase");
    }
    out.push_back(std::move(rec).value());
  }
  return out;
}

Result<std::vector<AnchorRecord>> FetchJetStreamAnchors(const JetStreamAnchorOptions& options) {
  JetStreamAnchorOptions o = options;
  o.nats.require_connection = true;
  o.create_stream = false;
  VV_ASSIGN_OR_RETURN(auto sink, JetStreamAnchorSink::Open(o));
  return sink->ReadAll();
}

}  // namespace vv::audit
