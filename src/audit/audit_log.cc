#include "audit/audit_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <utility>

#include "audit/record.h"
#include "audit/verifier.h"
#include "common/encoding.h"
#include "common/file.h"

namespace vv::audit {

namespace {

constexpr auto kSealTimerPoll = std::chrono::milliseconds(250);

std::string ErrnoText(int err) { return std::strerror(err); }

// The new segment's name while a rotation writes it.
std::string RotatingPath(const std::string& path) { return path + ".rotating"; }

}  // namespace

AuditLog::AuditLog(std::string path, const AuditLogOptions& opts, const Clock& clock,
                   Sealer sealer, std::unique_ptr<LogFile> file,
                   std::unique_ptr<AnchorPublisher> anchor)
    : path_(std::move(path)),
      opts_(opts),
      clock_(clock),
      sealer_(std::move(sealer)),
      file_(std::move(file)),
      anchor_(std::move(anchor)) {}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path,
                                                 const AuditLogOptions& opts, const Clock& clock) {
  if (opts.seal_every < 1) {
    return Status::InvalidArgument("audit log seal_every must be >= 1, got " +
                                   std::to_string(opts.seal_every));
  }
  if (opts.seal_interval_seconds < 0) {
    return Status::InvalidArgument("audit log seal_interval_seconds must be >= 0");
  }
  // The seal key first: a bad key must not leave a locked, half-opened log behind.
  VV_ASSIGN_OR_RETURN(Sealer sealer,
                      Sealer::Make(opts.checkpoint_origin, opts.actor_system, opts.seal_signer,
                                   opts.seal_key, opts.seal_key_path));
  // Owned here until the LogFile takes it: every refusal below closes it (and so unlocks).
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    return Status::Unavailable("cannot open audit log " + path + ": " + ErrnoText(errno));
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err == EWOULDBLOCK) {
      return Status::Unavailable("audit log " + path +
                                 " is already open by another writer (exclusive lock held)");
    }
    return Status::Unavailable("cannot lock audit log " + path + ": " + ErrnoText(err));
  }

  // The anchor and its head (AnchorPublisher::Open).
  AnchorPublisherOptions aopts;
  aopts.shared_sink = opts.shared_anchor_sink;
  aopts.sink = opts.anchor_sink;
  aopts.file_anchor = opts.file_anchor;
  aopts.file_anchor_sync = opts.fsync != FsyncPolicy::kNone;
  aopts.retry_ms = opts.anchor_retry_ms;
  aopts.on_integrity_failure = opts.on_integrity_failure;
  VV_ASSIGN_OR_RETURN(std::unique_ptr<AnchorPublisher> anchor,
                      AnchorPublisher::Open(path, std::move(aopts)));
  const std::optional<AnchorRecord>& latest_anchor = anchor->head_at_open();

  // Read the existing chain once, checking it against the latest anchored seal and
  // collecting the seals not yet anchored.
  std::vector<AnchorRecord> unanchored;
  VerifyOptions vopts;
  if (latest_anchor.has_value()) vopts.anchors.push_back(*latest_anchor);
  vopts.on_seal = [&unanchored, &latest_anchor](const SealInfo& seal) {
    if (!latest_anchor.has_value() || AnchorBefore(*latest_anchor, seal)) {
      unanchored.push_back(seal);
    }
  };
  ChainVerifier verifier(std::move(vopts));
  ScanInfo info;
  std::string error;
  if (!ScanLogFd(fd.get(), &verifier, &info, &error)) {
    return Status::Unavailable("cannot read audit log " + path + ": " + error);
  }
  int64_t truncated_bytes = 0;
  int64_t size = info.file_size;
  if (!verifier.ok()) {
    const VerifyResult& r = verifier.result();
    const bool tail_line = info.fail_line_end == info.file_size;
    const bool torn =
        tail_line && (r.reason == kReasonTornTail || r.reason == kReasonMalformedLine);
    if (!torn) {
      return Status::DataLoss("audit log " + path + " is broken at line " +
                              std::to_string(r.broken_at) + " (" + r.reason + ": " + r.detail +
                              "); refusing to append to a broken chain");
    }
    truncated_bytes = info.file_size - info.fail_line_begin;
    if (::ftruncate(fd.get(), info.fail_line_begin) != 0 || ::fdatasync(fd.get()) != 0) {
      return Status::Unavailable("cannot truncate the torn tail of audit log " + path + ": " +
                                 ErrnoText(errno));
    }
    size = info.fail_line_begin;
  }
  if (latest_anchor.has_value() && latest_anchor->segment > verifier.segment()) {
    return Status::DataLoss("audit log " + path + " is segment " +
                            std::to_string(verifier.segment()) + " but a seal of segment " +
                            std::to_string(latest_anchor->segment) +
                            " is anchored (truncated_after_seal: the log was moved aside "
                            "without vv-audit rotate); refusing to append");
  }
  if (latest_anchor.has_value() && latest_anchor->segment == verifier.segment() &&
      latest_anchor->index > verifier.lines()) {
    return Status::DataLoss("audit log " + path + " ends at line " +
                            std::to_string(verifier.lines()) + " but its seal at line " +
                            std::to_string(latest_anchor->index) +
                            " is anchored (truncated_after_seal); refusing to append");
  }
  if (info.file_size == 0) (void)SyncParentDirectory(path);  // best effort, as before
  // An interrupted rotation (audit-format.md section 6) may have left the segment's rotated
  // name as a second link to this very file, or an unused new segment: remove both.
  {
    const std::string stale = SegmentPath(path, verifier.segment());
    struct stat live_st, stale_st;
    if (::fstat(fd.get(), &live_st) == 0 && ::stat(stale.c_str(), &stale_st) == 0 &&
        live_st.st_dev == stale_st.st_dev && live_st.st_ino == stale_st.st_ino) {
      ::unlink(stale.c_str());
    }
    ::unlink(RotatingPath(path).c_str());
  }

  auto file = std::make_unique<LogFile>(path, std::move(fd), size, opts.fsync);
  std::unique_ptr<AuditLog> log(new AuditLog(path, opts, clock, std::move(sealer),
                                             std::move(file), std::move(anchor)));
  {
    // Not shared yet; held so the analysis sees every guarded write under mu_.
    MutexLock l(&log->mu_);
    log->lines_ = verifier.lines();
    log->non_seal_entries_ = verifier.non_seal_entries();
    log->last_hash_ = verifier.last_hash();
    log->entries_since_seal_ = verifier.entries_since_seal();
    log->last_seal_hash_ = verifier.last_seal_hash();
    log->tree_ = verifier.tree();
    log->segment_ = verifier.segment();
    log->last_seal_mono_us_ = clock.MonotonicMicros();
  }
  // Seals go to the anchor only once they are durable in the log.
  LogFile* raw_file = log->file_.get();
  std::function<Status()> durable;
  if (opts.fsync != FsyncPolicy::kNone) durable = [raw_file] { return raw_file->Sync(); };
  log->anchor_->Start(std::move(unanchored), std::move(durable));
  if (truncated_bytes > 0) {
    json::Value details = json::Value::MakeObject();
    details.Set("truncated_bytes", truncated_bytes);
    details.Set("reason", "torn_tail");
    Status s;
    {
      MutexLock l(&log->mu_);
      s = log->AppendLocked(kRecoveredEventType, opts.actor_system, json::Canonical(details));
    }
    if (s.ok()) s = log->file_->Sync();
    if (!s.ok()) return s;  // the destructor stops and closes
    log->anchor_->Kick();
  }
  // The file's one background thread: the kBatch flusher, and the tick (seal timer, local
  // anchor retries) when either is configured.
  const bool seal_timer = opts.seal_interval_seconds > 0;
  const bool local_retry = log->anchor_->configured() && !log->anchor_->remote() &&
                           opts.anchor_retry_ms > 0;
  std::chrono::milliseconds tick_every{0};
  if (seal_timer) tick_every = kSealTimerPoll;
  if (local_retry) {
    const std::chrono::milliseconds retry(opts.anchor_retry_ms);
    tick_every = tick_every.count() > 0 ? std::min(tick_every, retry) : retry;
  }
  AuditLog* raw = log.get();
  log->file_->StartBackground([raw] { raw->Tick(); }, tick_every);
  return log;
}

AuditLog::~AuditLog() {
  anchor_->Stop();
  file_->StopBackground();  // before the state Tick() uses goes
}

std::string AuditLog::BuildLineLocked(int64_t index, std::string_view event_type,
                                      std::string_view actor, const std::string& details_canonical,
                                      const std::string& previous_hash, std::string* out) const {
  const std::string index_text = std::to_string(index);
  const std::string timestamp = IsoFormatUtc(clock_.NowMicros());
  RecordFields f{index_text, timestamp, event_type, actor, details_canonical, previous_hash};
  std::string hash = EntryHash(f);
  AppendRecordLine(f, hash, out);
  return hash;
}

Result<std::string> AuditLog::BuildSealLineLocked(int64_t sealed_index,
                                                  const std::string& sealed_hash,
                                                  const merkle::CompactTree& tree,
                                                  std::string* out, AnchorRecord* info) const {
  if (Status allowed = anchor_->SealAllowed(); !allowed.ok())
    return Status(allowed.code(), "audit log " + path_ + ": " + allowed.message());
  Sealer::At at;
  at.seal_index = sealed_index + 1;
  at.sealed_index = sealed_index;
  at.sealed_hash = &sealed_hash;
  at.tree = &tree;
  at.previous_seal_hash = &last_seal_hash_;
  at.segment = segment_;
  at.sealed_at = IsoFormatUtc(clock_.NowMicros());
  auto hash = sealer_.BuildLine(at, out, info);
  if (!hash.ok())
    return Status(hash.status().code(), "audit log " + path_ + ": " + hash.status().message());
  return hash;
}

struct AuditLog::StagedEntry {
  int64_t index = 0;
  std::string hash;
  std::string leaf;
  bool seal = false;
  std::string seal_hash;
  AnchorRecord seal_info;
};

Status AuditLog::StageEntryLocked(std::string_view event_type, std::string_view actor,
                                  const std::string& details_canonical, std::string* buf,
                                  StagedEntry* staged) const {
  const size_t begin = buf->size();
  buf->reserve(begin + 256 + details_canonical.size() * 2);
  staged->index = lines_ + 1;
  staged->hash =
      BuildLineLocked(staged->index, event_type, actor, details_canonical, last_hash_, buf);
  staged->leaf = merkle::EntryLeafHash(staged->hash);
  staged->seal = entries_since_seal_ + 1 >= opts_.seal_every;
  if (staged->seal) {
    merkle::CompactTree tree = tree_;
    tree.Append(staged->leaf);
    auto sealed =
        BuildSealLineLocked(staged->index, staged->hash, tree, buf, &staged->seal_info);
    if (!sealed.ok()) {
      buf->resize(begin);
      return sealed.status();
    }
    staged->seal_hash = std::move(sealed).value();
  }
  return Status::Ok();
}

void AuditLog::ApplyEntryLocked(StagedEntry&& staged, std::vector<AnchorRecord>* seals) {
  lines_ = staged.index;
  ++non_seal_entries_;
  ++entries_since_seal_;
  last_hash_ = std::move(staged.hash);
  tree_.Append(std::move(staged.leaf));
  if (staged.seal) {
    lines_ = staged.index + 1;
    entries_since_seal_ = 0;
    tree_.Append(merkle::EntryLeafHash(staged.seal_hash));
    last_hash_ = staged.seal_hash;
    last_seal_hash_ = std::move(staged.seal_hash);
    last_seal_mono_us_ = clock_.MonotonicMicros();
    seals->push_back(std::move(staged.seal_info));
  }
}

Status AuditLog::AppendLocked(std::string_view event_type, std::string_view actor,
                              const std::string& details_canonical) {
  VV_RETURN_IF_ERROR(file_->Health());
  std::string buf;
  StagedEntry staged;
  VV_RETURN_IF_ERROR(StageEntryLocked(event_type, actor, details_canonical, &buf, &staged));
  VV_RETURN_IF_ERROR(file_->Write(buf));
  std::vector<AnchorRecord> seals;
  ApplyEntryLocked(std::move(staged), &seals);
  for (auto& r : seals) anchor_->Queue(std::move(r));
  return Status::Ok();
}

Status AuditLog::SealLocked() {
  VV_RETURN_IF_ERROR(file_->Health());
  std::string buf;
  AnchorRecord info;
  VV_ASSIGN_OR_RETURN(std::string hash,
                      BuildSealLineLocked(lines_, last_hash_, tree_, &buf, &info));
  VV_RETURN_IF_ERROR(file_->Write(buf));
  lines_ += 1;
  entries_since_seal_ = 0;
  tree_.Append(merkle::EntryLeafHash(hash));
  last_hash_ = hash;
  last_seal_hash_ = std::move(hash);
  last_seal_mono_us_ = clock_.MonotonicMicros();
  anchor_->Queue(std::move(info));
  return Status::Ok();
}

Status AuditLog::SealNow() {
  Status s;
  {
    MutexLock l(&mu_);
    if (lines_ == 0 || entries_since_seal_ == 0) return Status::Ok();
    s = SealLocked();
  }
  anchor_->Kick();
  return s;
}

void AuditLog::Tick() {
  if (opts_.seal_interval_seconds > 0) {
    const int64_t interval_us = opts_.seal_interval_seconds * 1000000;
    {
      MutexLock l(&mu_);
      if (entries_since_seal_ > 0 && clock_.MonotonicMicros() - last_seal_mono_us_ >= interval_us)
        (void)SealLocked();  // a failure is sticky in the file's health or retried next tick
    }
    anchor_->Kick();
  }
  anchor_->RetryTick();
}

Status AuditLog::WriteHealth() const {
  VV_RETURN_IF_ERROR(file_->Health());
  const AnchorState st = anchor_->state();
  if (st.forked) return st.status;
  return Status::Ok();
}

int64_t AuditLog::segment() const {
  MutexLock l(&mu_);
  return segment_;
}

Result<RotateResult> AuditLog::Rotate() {
  MutexLock io(&anchor_->io_mutex());
  MutexLock l(&mu_);
  VV_RETURN_IF_ERROR(file_->Health());
  if (lines_ == 0) {
    return Status::NotFound("audit log " + path_ + " is empty: nothing to rotate");
  }
  const std::string rotated = SegmentPath(path_, segment_);
  struct stat st;
  if (::lstat(rotated.c_str(), &st) == 0) {
    return Status::AlreadyExists("cannot rotate audit log " + path_ + ": " + rotated +
                                      " already exists (never overwritten)");
  }
  // 1. The segment ends on a checkpoint seal.
  if (entries_since_seal_ > 0 || last_seal_hash_ != last_hash_) VV_RETURN_IF_ERROR(SealLocked());
  if (Status synced = file_->Sync(); !synced.ok()) {
    return Status::Unavailable(synced.message() + " (before rotation)");
  }
  // 2. Every seal of the segment is anchored (appends wait: mu_ is held).
  if (anchor_->configured()) {
    if (Status allowed = anchor_->SealAllowed(); !allowed.ok())
      return Status(allowed.code(), "audit log " + path_ + ": " + allowed.message());
    if (Status err = anchor_->PublishAllLocked(); !err.ok()) {
      return Status(err.code(), "cannot rotate audit log " + path_ +
                                    ": its last seal is not anchored (" + err.message() +
                                    "); nothing rotated");
    }
  }
  // 3. The new segment's first record.
  SegmentLink link;
  link.segment = segment_ + 1;
  link.previous_lines = lines_;
  link.previous_seal_hash = last_hash_;
  link.origin = opts_.checkpoint_origin;
  link.previous_file = std::filesystem::path(rotated).filename().string();
  std::string line;
  const std::string hash = BuildLineLocked(1, kSegmentStartEventType, opts_.actor_system,
                                           json::Canonical(link.ToDetails()), "", &line);
  // 4. Crash-safe switch: the new segment is written and synced under a temporary name, the
  //    live file gets its segment name as a second (hard) link, then rename() atomically puts
  //    the new segment at path_. At every instant path_ is a complete segment; a crash before
  //    the rename leaves only a stale link, which Open() removes.
  const std::string tmp = RotatingPath(path_);
  ::unlink(tmp.c_str());
  UniqueFd nfd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600));
  if (!nfd.valid()) {
    return Status::Unavailable("cannot rotate audit log " + path_ + ": create " + tmp + ": " +
                               ErrnoText(errno));
  }
  auto fail = [&](const std::string& why, bool unlink_rotated) -> Status {
    nfd.Reset();
    ::unlink(tmp.c_str());
    if (unlink_rotated) ::unlink(rotated.c_str());
    return Status::Unavailable("cannot rotate audit log " + path_ + ": " + why +
                               "; nothing rotated");
  };
  if (::flock(nfd.get(), LOCK_EX | LOCK_NB) != 0) return fail("lock: " + ErrnoText(errno), false);
  size_t off = 0;
  while (off < line.size()) {
    ssize_t w = ::write(nfd.get(), line.data() + off, line.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return fail("write: " + ErrnoText(w < 0 ? errno : EIO), false);
    off += static_cast<size_t>(w);
  }
  if (::fdatasync(nfd.get()) != 0) return fail("fdatasync: " + ErrnoText(errno), false);
  if (::link(path_.c_str(), rotated.c_str()) != 0) {
    return fail("link to " + rotated + ": " + ErrnoText(errno), false);
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    return fail("rename " + tmp + ": " + ErrnoText(errno), true);
  }
  (void)SyncParentDirectory(path_);  // best effort, as before
  // 5. Switch the writer to the new file.
  RotateResult out;
  out.sealed_segment = segment_;
  out.rotated_path = rotated;
  out.sealed_lines = lines_;
  out.last_seal_hash = last_hash_;
  file_->Replace(std::move(nfd), static_cast<int64_t>(line.size()));  // old one fdatasync'd above
  segment_ = link.segment;
  lines_ = 1;
  non_seal_entries_ = 1;
  entries_since_seal_ = 1;
  last_hash_ = hash;
  last_seal_hash_.clear();
  tree_ = merkle::CompactTree();
  tree_.Append(merkle::EntryLeafHash(hash));
  last_seal_mono_us_ = clock_.MonotonicMicros();
  out.segment = segment_;
  return out;
}

namespace {
// AppendBatch stops at its first failure: the records after it are not written.
void FailAfter(size_t failed, std::vector<Status>* out) {
  for (size_t j = failed + 1; j < out->size(); ++j)
    (*out)[j] = Status::Unavailable("audit record not written: an earlier record of its batch "
                                    "failed (" + (*out)[failed].message() + ")");
}
}  // namespace

std::vector<Status> AuditSink::AppendBatch(std::vector<AuditEntry>& entries) {
  std::vector<Status> out(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    out[i] = Append(entries[i].event_type, entries[i].actor, std::move(entries[i].details));
    if (out[i].ok()) continue;
    FailAfter(i, &out);
    break;
  }
  return out;
}

Result<std::string> AuditLog::CanonicalDetails(json::Value& details) {
  if (details.is_null()) details = json::Value::MakeObject();
  if (!details.is_object()) {
    return Status::InvalidArgument("audit details must be a JSON object");
  }
  ReplaceInvalidUtf8(&details);  // client bytes: the record must re-verify whatever was sent
  return json::Canonical(details);
}

Status AuditLog::Append(std::string_view event_type, std::string_view actor, json::Value details) {
  VV_ASSIGN_OR_RETURN(std::string details_canonical, CanonicalDetails(details));
  {
    MutexLock l(&mu_);
    VV_RETURN_IF_ERROR(AppendLocked(event_type, actor, details_canonical));
  }
  anchor_->Kick();
  return file_->AfterWrite(1);
}

std::vector<Status> AuditLog::AppendBatch(std::vector<AuditEntry>& entries) {
  std::vector<Status> out(entries.size());
  // Canonical details outside the lock; the batch ends at the first invalid record.
  std::vector<std::string> canonical;
  canonical.reserve(entries.size());
  size_t n = 0;
  Status first_error;
  for (; n < entries.size(); ++n) {
    Result<std::string> c = CanonicalDetails(entries[n].details);
    if (!c.ok()) {
      first_error = c.status();
      break;
    }
    canonical.push_back(std::move(c).value());
    entries[n].details = json::Value();
  }
  size_t written = 0;  // entries[0..written) are in the file
  if (n > 0) {
    MutexLock l(&mu_);
    Status s = file_->Health();
    if (!s.ok()) {
      first_error = s;
    } else {
      // The chain state before the batch: a failed write() puts it back (nothing written).
      const int64_t lines = lines_, non_seal = non_seal_entries_, since_seal = entries_since_seal_;
      const int64_t seal_mono = last_seal_mono_us_;
      std::string last_hash = last_hash_, last_seal_hash = last_seal_hash_;
      merkle::CompactTree tree = tree_;
      std::string buf;
      std::vector<AnchorRecord> seals;  // queued only once their lines are in the file
      size_t staged_n = 0;
      for (; staged_n < n; ++staged_n) {
        StagedEntry staged;
        Status st = StageEntryLocked(entries[staged_n].event_type, entries[staged_n].actor,
                                     canonical[staged_n], &buf, &staged);
        if (!st.ok()) {
          first_error = st;
          break;
        }
        ApplyEntryLocked(std::move(staged), &seals);
      }
      Status w = buf.empty() ? Status::Ok() : file_->Write(buf);
      if (w.ok()) {
        written = staged_n;
        for (auto& r : seals) anchor_->Queue(std::move(r));
      } else {
        lines_ = lines;
        non_seal_entries_ = non_seal;
        entries_since_seal_ = since_seal;
        last_seal_mono_us_ = seal_mono;
        last_hash_ = std::move(last_hash);
        last_seal_hash_ = std::move(last_seal_hash);
        tree_ = std::move(tree);
        first_error = w;
      }
    }
  }
  Status synced;
  if (written > 0) {
    anchor_->Kick();
    synced = file_->AfterWrite(written);
  }
  for (size_t i = 0; i < written; ++i) out[i] = synced;
  if (written < out.size()) {
    out[written] = first_error;
    FailAfter(written, &out);
  }
  return out;
}

Status AuditLog::Sync() { return file_->Sync(); }

AnchorState AuditLog::anchor_state() const { return anchor_->state(); }

Status AuditLog::anchor_status() const { return anchor_->status(); }

int64_t AuditLog::line_count() const {
  MutexLock l(&mu_);
  return lines_;
}

std::string AuditLog::last_hash() const {
  MutexLock l(&mu_);
  return last_hash_;
}

}  // namespace vv::audit
