#include "audit/audit_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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

constexpr auto kBatchInterval = std::chrono::milliseconds(20);
constexpr auto kSealTimerPoll = std::chrono::milliseconds(250);

std::string ErrnoText(int err) { return std::strerror(err); }

// The new segment's name while a rotation writes it.
std::string RotatingPath(const std::string& path) { return path + ".rotating"; }

}  // namespace

AuditLog::AuditLog(std::string path, int fd, const AuditLogOptions& opts, const Clock& clock)
    : path_(std::move(path)), fd_(fd), opts_(opts), clock_(clock) {}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path,
                                                 const AuditLogOptions& opts, const Clock& clock) {
  if (opts.seal_every < 1) {
    return Status::InvalidArgument("audit log seal_every must be >= 1, got " +
                                   std::to_string(opts.seal_every));
  }
  if (opts.seal_interval_seconds < 0) {
    return Status::InvalidArgument("audit log seal_interval_seconds must be >= 0");
  }
  if (!IsValidKeyName(opts.checkpoint_origin)) {
    return Status::InvalidArgument("audit checkpoint origin must be non-empty, without spaces "
                                   "or '+': \"" + opts.checkpoint_origin + "\"");
  }
  // The seal key first: a bad key must not leave a locked, half-opened log behind.
  std::shared_ptr<const SealSigner> signer;
  if (opts.seal_signer != nullptr) {
    if (opts.seal_signer->key_name() != opts.checkpoint_origin) {
      return Status::InvalidArgument("audit seal signer key name '" +
                                     opts.seal_signer->key_name() +
                                     "' differs from the checkpoint origin '" +
                                     opts.checkpoint_origin + "'");
    }
    signer = opts.seal_signer;
  } else if (opts.seal_key != nullptr) {
    signer = std::make_shared<CheckpointSigner>(opts.checkpoint_origin, *opts.seal_key);
  } else if (!opts.seal_key_path.empty()) {
    auto key = LoadSealKey(opts.seal_key_path);
    if (!key.ok()) {
      return Status(key.status().code(), "audit seal key: " + key.status().message());
    }
    signer = std::make_shared<CheckpointSigner>(opts.checkpoint_origin, std::move(key).value());
  }
  // Owned here until the AuditLog takes it: every refusal below closes it (and so unlocks).
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

  // The anchor.
  std::unique_ptr<FileAnchorSink> own_anchor;
  AnchorSink* anchor =
      opts.shared_anchor_sink != nullptr ? opts.shared_anchor_sink.get() : opts.anchor_sink;
  if (anchor == nullptr && opts.file_anchor) {
    auto a = FileAnchorSink::Open(DefaultAnchorPath(path), opts.fsync != FsyncPolicy::kNone);
    if (!a.ok()) return a.status();
    own_anchor = std::move(a).value();
    anchor = own_anchor.get();
  }
  // The anchor's head. Unreachable (remote outage): the check against it is deferred and
  // every seal of the log stays pending until the head is known (ReconcileAnchorHead).
  std::optional<AnchorRecord> latest_anchor;
  bool anchor_synced = false;
  Status anchor_error;
  if (anchor != nullptr) {
    auto head = anchor->Refresh();
    if (head.ok()) {
      latest_anchor = std::move(head).value();
      anchor_synced = true;
    } else if (head.status().code() == StatusCode::kDataLoss) {
      return Status::DataLoss("audit anchor: " + head.status().message());
    } else {
      anchor_error = Status::Unavailable("audit anchor lagging (unreachable at open): " +
                                         head.status().message());
    }
  }

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

  const int raw_fd = fd.get();
  std::unique_ptr<AuditLog> log(new AuditLog(path, fd.Release(), opts, clock));
  bool anchor_now = false;
  {
    // Not shared yet; held so the analysis sees every guarded write under mu_.
    MutexLock l(&log->mu_);
    log->lines_ = verifier.lines();
    log->non_seal_entries_ = verifier.non_seal_entries();
    log->last_hash_ = verifier.last_hash();
    log->size_ = size;
    log->entries_since_seal_ = verifier.entries_since_seal();
    log->last_seal_hash_ = verifier.last_seal_hash();
    log->tree_ = verifier.tree();
    log->segment_ = verifier.segment();
    log->last_seal_mono_us_ = clock.MonotonicMicros();
    log->signer_ = std::move(signer);
    log->own_anchor_ = std::move(own_anchor);
    log->anchor_ = anchor;
    log->pending_anchors_ = std::move(unanchored);
    log->anchor_synced_ = anchor_synced;
    log->anchor_error_ = anchor_error;
    log->last_anchored_ = latest_anchor;
    anchor_now = anchor != nullptr && !anchor->remote() && !log->pending_anchors_.empty();
  }
  if (anchor_now) log->AnchorPass();
  if (truncated_bytes > 0) {
    json::Value details = json::Value::MakeObject();
    details.Set("truncated_bytes", truncated_bytes);
    details.Set("reason", "torn_tail");
    Status s;
    {
      MutexLock l(&log->mu_);
      s = log->AppendLocked(kRecoveredEventType, opts.actor_system, json::Canonical(details));
    }
    if (s.ok() && ::fdatasync(raw_fd) != 0) {
      s = Status::Unavailable("fdatasync of audit log " + path + ": " + ErrnoText(errno));
    }
    if (!s.ok()) return s;  // the destructor closes fd
    log->AfterSeal();
  }
  if (opts.fsync == FsyncPolicy::kBatch) {
    log->flusher_ = std::thread([raw = log.get()] { raw->FlusherLoop(); });
  }
  if (opts.seal_interval_seconds > 0) {
    log->timer_ = std::thread([raw = log.get()] { raw->SealTimerLoop(); });
  }
  if (anchor != nullptr && (anchor->remote() || opts.anchor_retry_ms > 0)) {
    if (anchor->remote()) {
      MutexLock l(&log->anchor_cv_mu_);
      log->anchor_kick_ = true;  // publish what is pending, off this thread
    }
    log->anchor_thread_ = std::thread([raw = log.get()] { raw->AnchorLoop(); });
  }
  return log;
}

AuditLog::~AuditLog() {
  {
    MutexLock l(&anchor_cv_mu_);
    anchor_stop_ = true;
  }
  anchor_cv_.SignalAll();
  if (anchor_thread_.joinable()) anchor_thread_.join();
  {
    MutexLock l(&timer_mu_);
    timer_stop_ = true;
  }
  timer_cv_.SignalAll();
  if (timer_.joinable()) timer_.join();
  {
    MutexLock l(&sync_mu_);
    stop_ = true;
  }
  sync_cv_.SignalAll();
  if (flusher_.joinable()) flusher_.join();
  ::fdatasync(fd_);
  ::close(fd_);  // releases the flock
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

Result<std::string> AuditLog::BuildSealLineLocked(int64_t seal_index, int64_t sealed_index,
                                          const std::string& sealed_hash,
                                          const merkle::CompactTree& tree, std::string* out,
                                          AnchorRecord* info) const {
  const std::string index_text = std::to_string(seal_index);
  const std::string sealed_at = IsoFormatUtc(clock_.NowMicros());
  Checkpoint cp{opts_.checkpoint_origin, tree.size(), tree.Root()};
  const std::string root_b64 = Base64Encode(cp.root_hash);
  const std::string body = CheckpointBody(cp);
  std::string note = body + "\n";
  std::string signature_b64, key_id_hex, public_key_b64;
  if (signer_ != nullptr) {
    auto signed_body = signer_->Sign(body);
    if (!signed_body.ok()) {
      return Status::Unavailable("audit log " + path_ + ": cannot sign the seal (" +
                                 std::string(signer_->kind()) +
                                 "): " + signed_body.status().message());
    }
    const std::string& sig = *signed_body;
    note += signer_->SignatureLine(sig);
    signature_b64 = Base64Encode(sig);
    key_id_hex = HexEncode(signer_->key_id());
    public_key_b64 = signer_->public_key().ToBase64();
  }
  json::Value details = json::Value::MakeObject();
  details.Set("sealed_index", sealed_index);
  details.Set("last_entry_hash", sealed_hash);
  details.Set("sealed_at", sealed_at);
  details.Set("tree_size", static_cast<int64_t>(tree.size()));
  details.Set("root_hash", root_b64);
  details.Set("previous_seal_hash", last_seal_hash_);
  details.Set("checkpoint", note);
  details.Set("public_key", public_key_b64);
  details.Set("key_id", key_id_hex);
  details.Set("signature", signature_b64);
  const std::string details_canonical = json::Canonical(details);
  RecordFields f{index_text,         sealed_at,         kSealEventType,
                 opts_.actor_system, details_canonical, sealed_hash};
  std::string hash = EntryHash(f);
  AppendRecordLine(f, hash, out);
  info->segment = segment_;
  info->index = seal_index;
  info->entry_hash = hash;
  info->tree_size = static_cast<int64_t>(tree.size());
  info->root_hash = root_b64;
  info->checkpoint = std::move(note);
  info->public_key = public_key_b64;
  info->sealed_at = sealed_at;
  info->previous_seal_hash = last_seal_hash_;
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

Status AuditLog::WritableLocked() const {
  if (!broken_.ok()) return Status::Unavailable(broken_.message());
  if (sync_failed_.load(std::memory_order_acquire)) {
    MutexLock l(&sync_mu_);
    return Status::Unavailable(sync_error_.message());
  }
  return Status::Ok();
}

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
    Status allowed = SealAllowedLocked();
    if (!allowed.ok()) {
      buf->resize(begin);
      return allowed;
    }
    merkle::CompactTree tree = tree_;
    tree.Append(staged->leaf);
    auto sealed = BuildSealLineLocked(staged->index + 1, staged->index, staged->hash, tree, buf,
                                      &staged->seal_info);
    if (!sealed.ok()) {
      buf->resize(begin);
      return sealed.status();
    }
    staged->seal_hash = std::move(sealed).value();
  }
  return Status::Ok();
}

void AuditLog::ApplyEntryLocked(StagedEntry&& staged) {
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
    if (anchor_ != nullptr) {
      pending_anchors_.push_back(std::move(staged.seal_info));
      seal_queued_.store(true, std::memory_order_release);
    }
  }
}

Status AuditLog::AppendLocked(std::string_view event_type, std::string_view actor,
                              const std::string& details_canonical) {
  VV_RETURN_IF_ERROR(WritableLocked());
  std::string buf;
  StagedEntry staged;
  VV_RETURN_IF_ERROR(StageEntryLocked(event_type, actor, details_canonical, &buf, &staged));
  VV_RETURN_IF_ERROR(WriteAllLocked(buf));
  ApplyEntryLocked(std::move(staged));
  return Status::Ok();
}

Status AuditLog::SealAllowedLocked() const {
  if (anchor_forked_.ok()) return Status::Ok();
  return Status::DataLoss("audit log " + path_ + ": refusing to seal onto a forked anchor (" +
                          anchor_forked_.message() + ")");
}

Status AuditLog::SealLocked() {
  if (!broken_.ok()) return Status::Unavailable(broken_.message());
  VV_RETURN_IF_ERROR(SealAllowedLocked());
  std::string buf;
  AnchorRecord info;
  const int64_t index = lines_ + 1;
  VV_ASSIGN_OR_RETURN(std::string hash,
                      BuildSealLineLocked(index, lines_, last_hash_, tree_, &buf, &info));
  VV_RETURN_IF_ERROR(WriteAllLocked(buf));
  lines_ = index;
  entries_since_seal_ = 0;
  tree_.Append(merkle::EntryLeafHash(hash));
  last_hash_ = hash;
  last_seal_hash_ = std::move(hash);
  last_seal_mono_us_ = clock_.MonotonicMicros();
  if (anchor_ != nullptr) {
    pending_anchors_.push_back(std::move(info));
    seal_queued_.store(true, std::memory_order_release);
  }
  return Status::Ok();
}

Status AuditLog::SealNow() {
  Status s;
  {
    MutexLock l(&mu_);
    if (lines_ == 0 || entries_since_seal_ == 0) return Status::Ok();
    s = SealLocked();
  }
  AfterSeal();
  return s;
}

void AuditLog::AfterSeal() {
  if (anchor_ == nullptr || !seal_queued_.load(std::memory_order_acquire)) return;
  if (anchor_->remote()) {
    {
      MutexLock l(&anchor_cv_mu_);
      anchor_kick_ = true;
    }
    anchor_cv_.Signal();
    return;
  }
  AnchorPass();
}

void AuditLog::AnchorPass() {
  MutexLock io(&anchor_io_mu_);
  seal_queued_.store(false, std::memory_order_release);
  std::vector<AnchorRecord> batch;
  std::optional<AnchorRecord> last;
  bool synced = false;
  {
    MutexLock l(&mu_);
    if (anchor_ == nullptr || !anchor_forked_.ok() || pending_anchors_.empty()) return;
    batch = pending_anchors_;  // only this pass removes from the front (under anchor_io_mu_)
    last = last_anchored_;
    synced = anchor_synced_;
  }
  // An anchored seal must never be lost from the log: make it durable first.
  Status err;
  size_t done = 0;
  if (opts_.fsync != FsyncPolicy::kNone && SyncFd() != 0) {
    err = Status::Unavailable("fdatasync of audit log " + path_ + " before anchoring failed: " +
                              ErrnoText(errno));
  } else {
    err = PublishBatch(batch, last, synced, &done);
  }
  Status newly_forked;  // reported after mu_ is released
  {
    MutexLock l(&mu_);
    newly_forked = ApplyAnchorResultLocked(batch, done, err);
  }
  if (!newly_forked.ok() && opts_.on_integrity_failure) opts_.on_integrity_failure(newly_forked);
}

Status AuditLog::PublishBatch(const std::vector<AnchorRecord>& batch,
                              const std::optional<AnchorRecord>& last, bool synced,
                              size_t* done) {
  *done = 0;
  if (!synced) {
    VV_ASSIGN_OR_RETURN(auto head, anchor_->Refresh());
    VV_ASSIGN_OR_RETURN(auto skip, ReconcileAnchorHead(head, last, batch));
    *done = skip;
  }
  for (; *done < batch.size(); ++*done) {
    VV_RETURN_IF_ERROR(anchor_->Publish(batch[*done]));
  }
  return Status::Ok();
}

Status AuditLog::ApplyAnchorResultLocked(const std::vector<AnchorRecord>& batch, size_t done,
                                         const Status& err) {
  Status newly_forked;
  pending_anchors_.erase(pending_anchors_.begin(),
                         pending_anchors_.begin() + static_cast<std::ptrdiff_t>(done));
  if (done > 0) last_anchored_ = batch[done - 1];
  if (err.ok()) {
    anchor_synced_ = true;
    anchor_error_ = Status::Ok();
  } else if (err.code() == StatusCode::kDataLoss) {
    if (anchor_forked_.ok()) newly_forked = Status::DataLoss("audit anchor: " + err.message());
    anchor_forked_ = Status::DataLoss("audit anchor: " + err.message());
    anchor_error_ = anchor_forked_;
  } else {
    anchor_synced_ = false;  // re-read the head before the next attempt
    anchor_error_ = Status::Unavailable("audit anchor lagging (" +
                                        std::to_string(pending_anchors_.size()) +
                                        " seals pending): " + err.message());
  }
  return newly_forked;
}

Status AuditLog::WriteHealth() const {
  {
    MutexLock l(&mu_);
    if (!broken_.ok()) return Status::Unavailable(broken_.message());
    if (!anchor_forked_.ok()) return anchor_forked_;
  }
  if (sync_failed_.load(std::memory_order_acquire)) {
    MutexLock l(&sync_mu_);
    return Status::Unavailable(sync_error_.message());
  }
  return Status::Ok();
}

int AuditLog::SyncFd() {
  ReaderMutexLock l(&fd_mu_);
  return ::fdatasync(fd_);
}

int64_t AuditLog::segment() const {
  MutexLock l(&mu_);
  return segment_;
}

Result<RotateResult> AuditLog::Rotate() {
  MutexLock io(&anchor_io_mu_);
  MutexLock l(&mu_);
  if (!broken_.ok()) return Status::Unavailable(broken_.message());
  if (sync_failed_.load(std::memory_order_acquire)) {
    return Status::Unavailable("audit log " + path_ + ": an fdatasync failed; not rotating");
  }
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
  if (::fdatasync(fd_) != 0) {
    return Status::Unavailable("fdatasync of audit log " + path_ + " before rotation: " +
                               ErrnoText(errno));
  }
  // 2. Every seal of the segment is anchored (appends wait: mu_ is held).
  if (anchor_ != nullptr) {
    VV_RETURN_IF_ERROR(SealAllowedLocked());
    const std::vector<AnchorRecord> batch = pending_anchors_;
    size_t done = 0;
    Status err = PublishBatch(batch, last_anchored_, anchor_synced_, &done);
    // The hook only counts and logs (it never calls back into this log), so it may run
    // under mu_ here.
    if (Status forked = ApplyAnchorResultLocked(batch, done, err);
        !forked.ok() && opts_.on_integrity_failure)
      opts_.on_integrity_failure(forked);
    seal_queued_.store(false, std::memory_order_release);
    if (!err.ok()) {
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
  {
    WriterMutexLock fl(&fd_mu_);
    ::close(fd_);  // fdatasync'd above; releases the old file's lock
    fd_ = nfd.Release();
  }
  segment_ = link.segment;
  lines_ = 1;
  non_seal_entries_ = 1;
  entries_since_seal_ = 1;
  last_hash_ = hash;
  size_ = static_cast<int64_t>(line.size());
  last_seal_hash_.clear();
  tree_ = merkle::CompactTree();
  tree_.Append(merkle::EntryLeafHash(hash));
  last_seal_mono_us_ = clock_.MonotonicMicros();
  out.segment = segment_;
  return out;
}

void AuditLog::AnchorLoop() {
  const auto retry = std::chrono::milliseconds(opts_.anchor_retry_ms > 0 ? opts_.anchor_retry_ms
                                                                          : 1000);
  MutexLock al(&anchor_cv_mu_);
  while (!anchor_stop_) {
    const auto deadline = std::chrono::steady_clock::now() + retry;
    while (!anchor_stop_ && !anchor_kick_) {
      if (anchor_cv_.WaitUntil(&anchor_cv_mu_, deadline) == std::cv_status::timeout) break;
    }
    if (anchor_stop_) break;
    const bool kicked = anchor_kick_;
    anchor_kick_ = false;
    al.Unlock();
    bool run = kicked;
    if (!run) {
      MutexLock l(&mu_);
      run = !pending_anchors_.empty() && anchor_forked_.ok() &&
            (opts_.anchor_retry_ms > 0 || anchor_->remote());
    }
    if (run) AnchorPass();
    al.Lock();
  }
}

AnchorState AuditLog::anchor_state() const {
  MutexLock l(&mu_);
  AnchorState st;
  st.configured = anchor_ != nullptr;
  st.forked = !anchor_forked_.ok();
  st.pending_seals = static_cast<int64_t>(pending_anchors_.size());
  st.lagging = !anchor_error_.ok() && !st.forked;
  st.last_anchored_index = last_anchored_.has_value() ? last_anchored_->index : 0;
  st.status = anchor_error_;
  return st;
}

Status AuditLog::anchor_status() const {
  MutexLock l(&mu_);
  return anchor_error_;
}

void AuditLog::SealTimerLoop() {
  const int64_t interval_us = opts_.seal_interval_seconds * 1000000;
  MutexLock tl(&timer_mu_);
  while (!timer_stop_) {
    const auto deadline = std::chrono::steady_clock::now() + kSealTimerPoll;
    while (!timer_stop_) {
      if (timer_cv_.WaitUntil(&timer_mu_, deadline) == std::cv_status::timeout) break;
    }
    if (timer_stop_) break;
    tl.Unlock();
    {
      MutexLock l(&mu_);
      if (entries_since_seal_ > 0 && clock_.MonotonicMicros() - last_seal_mono_us_ >= interval_us) {
        (void)SealLocked();  // a failure is sticky in broken_ or retried on the next tick
      }
    }
    AfterSeal();
    tl.Lock();
  }
}

Status AuditLog::WriteAllLocked(const std::string& bytes) {
  size_t done = 0;
  int err = 0;
  while (done < bytes.size()) {
    ssize_t w = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (w == 0) {
      err = EIO;
      break;
    }
    done += static_cast<size_t>(w);
  }
  if (err == 0) {
    size_ += static_cast<int64_t>(bytes.size());
    record_writes_.fetch_add(1, std::memory_order_relaxed);
    return Status::Ok();
  }
  std::string msg = "write to audit log " + path_ + " failed: " + ErrnoText(err);
  // Roll back a partial line so the chain stays intact for the next append.
  if (::ftruncate(fd_, size_) != 0) {
    broken_ = Status::Unavailable(msg + "; rollback failed (" + ErrnoText(errno) +
                                  "), audit log disabled until reopened");
  }
  return Status::Unavailable(msg);
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
  AfterSeal();
  return AfterWrite(1);
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
    Status s = WritableLocked();
    if (!s.ok()) {
      first_error = s;
    } else {
      // The chain state before the batch: a failed write() puts it back (nothing written).
      const int64_t lines = lines_, non_seal = non_seal_entries_, since_seal = entries_since_seal_;
      const int64_t seal_mono = last_seal_mono_us_;
      const size_t anchors = pending_anchors_.size();
      std::string last_hash = last_hash_, last_seal_hash = last_seal_hash_;
      merkle::CompactTree tree = tree_;
      std::string buf;
      size_t staged_n = 0;
      for (; staged_n < n; ++staged_n) {
        StagedEntry staged;
        Status st = StageEntryLocked(entries[staged_n].event_type, entries[staged_n].actor,
                                     canonical[staged_n], &buf, &staged);
        if (!st.ok()) {
          first_error = st;
          break;
        }
        ApplyEntryLocked(std::move(staged));
      }
      Status w = buf.empty() ? Status::Ok() : WriteAllLocked(buf);
      if (w.ok()) {
        written = staged_n;
      } else {
        lines_ = lines;
        non_seal_entries_ = non_seal;
        entries_since_seal_ = since_seal;
        last_seal_mono_us_ = seal_mono;
        pending_anchors_.resize(anchors);
        last_hash_ = std::move(last_hash);
        last_seal_hash_ = std::move(last_seal_hash);
        tree_ = std::move(tree);
        first_error = w;
      }
    }
  }
  Status synced;
  if (written > 0) {
    AfterSeal();
    synced = AfterWrite(written);
  }
  for (size_t i = 0; i < written; ++i) out[i] = synced;
  if (written < out.size()) {
    out[written] = first_error;
    FailAfter(written, &out);
  }
  return out;
}

Status AuditLog::AfterWrite(uint64_t records) {
  switch (opts_.fsync) {
    case FsyncPolicy::kNone:
      break;
    case FsyncPolicy::kAlways:
      // Outside the append mutex: fdatasync covers every write issued before it.
      if (SyncFd() != 0) {
        Status s = Status::Unavailable("fdatasync of audit log " + path_ + ": " + ErrnoText(errno));
        {
          MutexLock l(&sync_mu_);
          sync_error_ = s;
        }
        sync_failed_.store(true, std::memory_order_release);
        return s;
      }
      break;
    case FsyncPolicy::kBatch: {
      bool wake;
      {
        MutexLock l(&sync_mu_);
        written_seq_ += records;
        wake = flusher_idle_;
      }
      // While the flusher sits in its kBatchInterval pause it re-checks written_seq_ when the
      // pause ends; waking it there would only cost a futex call and a context switch.
      if (wake) sync_cv_.Signal();
      break;
    }
  }
  return Status::Ok();
}

Status AuditLog::Sync() {
  if (SyncFd() != 0) {
    return Status::Unavailable("fdatasync of audit log " + path_ + ": " + ErrnoText(errno));
  }
  return Status::Ok();
}

int64_t AuditLog::line_count() const {
  MutexLock l(&mu_);
  return lines_;
}

std::string AuditLog::last_hash() const {
  MutexLock l(&mu_);
  return last_hash_;
}

void AuditLog::FlusherLoop() {
  MutexLock l(&sync_mu_);
  for (;;) {
    flusher_idle_ = true;
    while (!stop_ && written_seq_ == synced_seq_) sync_cv_.Wait(&sync_mu_);
    flusher_idle_ = false;
    if (written_seq_ == synced_seq_) break;  // stop_ and nothing pending
    const uint64_t target = written_seq_;
    l.Unlock();
    const int rc = SyncFd();
    const int err = errno;
    l.Lock();
    if (rc != 0) {
      sync_error_ =
          Status::Unavailable("fdatasync of audit log " + path_ + " failed: " + ErrnoText(err));
      sync_failed_.store(true, std::memory_order_release);
    }
    synced_seq_ = target;
    // At most one fdatasync per interval; a stop request ends the wait early.
    if (!stop_) {
      const auto deadline = std::chrono::steady_clock::now() + kBatchInterval;
      while (!stop_) {
        if (sync_cv_.WaitUntil(&sync_mu_, deadline) == std::cv_status::timeout) break;
      }
    }
  }
}

}  // namespace vv::audit
