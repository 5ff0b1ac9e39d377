#include "audit/anchor.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "common/file.h"
#include "crypto/crypto.h"

namespace vv::audit {

namespace {

constexpr int64_t kMaxAnchorFileBytes = int64_t{1} << 32;

}  // namespace

json::Value AnchorRecord::ToJson() const {
  json::Value v = json::Value::MakeObject();
  if (segment > 0) v.Set("segment", segment);
  v.Set("index", index);
  v.Set("entry_hash", entry_hash);
  v.Set("tree_size", tree_size);
  v.Set("root_hash", root_hash);
  v.Set("checkpoint", checkpoint);
  v.Set("public_key", public_key);
  v.Set("sealed_at", sealed_at);
  v.Set("previous_seal_hash", previous_seal_hash);
  return v;
}

std::string AnchorRecord::ToLine() const { return json::Canonical(ToJson()); }

Result<AnchorRecord> AnchorRecord::FromJson(const json::Value& v) {
  if (!v.is_object()) return Status::InvalidArgument("anchor record is not a JSON object");
  const bool has_segment = v.Find("segment") != nullptr;
  if (v.as_object().size() != (has_segment ? 9u : 8u)) {
    return Status::InvalidArgument(
        "anchor record must have exactly 8 keys (9 with \"segment\")");
  }
  AnchorRecord r;
  auto get_int = [&](std::string_view k, int64_t* out) -> Status {
    const json::Value* f = v.Find(k);
    if (f == nullptr || !f->is_int() || !f->as_int64().has_value() || *f->as_int64() < 0) {
      return Status::InvalidArgument("anchor record: " + std::string(k) +
                                     " is not a non-negative integer");
    }
    *out = *f->as_int64();
    return Status::Ok();
  };
  auto get_str = [&](std::string_view k, std::string* out) -> Status {
    const json::Value* f = v.Find(k);
    if (f == nullptr || !f->is_string()) {
      return Status::InvalidArgument("anchor record: " + std::string(k) + " is not a string");
    }
    *out = f->as_string();
    return Status::Ok();
  };
  if (has_segment) {
    VV_RETURN_IF_ERROR(get_int("segment", &r.segment));
    if (r.segment == 0) {
      return Status::InvalidArgument("anchor record: segment 0 is written without the key");
    }
  }
  VV_RETURN_IF_ERROR(get_int("index", &r.index));
  VV_RETURN_IF_ERROR(get_int("tree_size", &r.tree_size));
  VV_RETURN_IF_ERROR(get_str("entry_hash", &r.entry_hash));
  VV_RETURN_IF_ERROR(get_str("root_hash", &r.root_hash));
  VV_RETURN_IF_ERROR(get_str("checkpoint", &r.checkpoint));
  VV_RETURN_IF_ERROR(get_str("public_key", &r.public_key));
  VV_RETURN_IF_ERROR(get_str("sealed_at", &r.sealed_at));
  VV_RETURN_IF_ERROR(get_str("previous_seal_hash", &r.previous_seal_hash));
  if (r.index < 2 || r.tree_size != r.index - 1) {
    return Status::InvalidArgument("anchor record: tree_size must be index - 1 (index >= 2)");
  }
  return r;
}

Result<AnchorRecord> AnchorRecord::FromLine(std::string_view line) {
  auto parsed = json::Parse(line);
  if (!parsed.ok()) return Status::InvalidArgument("anchor line is not JSON: " +
                                                   parsed.status().message());
  return FromJson(parsed.value());
}

Result<size_t> ReconcileAnchorHead(const std::optional<AnchorRecord>& head,
                                   const std::optional<AnchorRecord>& last,
                                   const std::vector<AnchorRecord>& pending) {
  if (!head.has_value()) {
    if (last.has_value()) {
      return Status::DataLoss("fork_detected: the anchor no longer holds the seal at line " +
                              std::to_string(last->index) + " (anchored seals were lost)");
    }
    return size_t{0};
  }
  if (last.has_value() && SamePosition(*head, *last) && head->entry_hash == last->entry_hash) {
    return size_t{0};
  }
  for (size_t i = 0; i < pending.size(); ++i) {
    if (!SamePosition(pending[i], *head)) continue;
    if (pending[i].entry_hash == head->entry_hash) return i + 1;
    return Status::DataLoss("fork_detected: the anchor's seal at line " +
                            std::to_string(head->index) + " differs from this log's seal");
  }
  return Status::DataLoss("fork_detected: the anchor's latest seal (line " +
                          std::to_string(head->index) + ", " + head->entry_hash +
                          ") is not a seal of this log");
}

std::string DefaultAnchorPath(const std::string& log_path) { return log_path + ".anchor"; }

Result<AnchorFile> ParseAnchorText(std::string_view text) {
  AnchorFile out;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      out.torn_tail = true;
      break;
    }
    ++line_no;
    auto rec = AnchorRecord::FromLine(text.substr(pos, nl - pos));
    if (!rec.ok()) {
      return Status::InvalidArgument("anchor line " + std::to_string(line_no) + ": " +
                                     rec.status().message());
    }
    if (!out.records.empty() && !AnchorBefore(out.records.back(), *rec)) {
      return Status::InvalidArgument("anchor line " + std::to_string(line_no) +
                                     ": seal (segment, index) does not increase");
    }
    out.records.push_back(std::move(rec).value());
    pos = nl + 1;
  }
  return out;
}

Result<AnchorFile> LoadAnchorFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::NotFound("anchor file " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::InvalidArgument("anchor file " + path + " is not a file");
  }
  if (st.st_size > kMaxAnchorFileBytes) {
    return Status::InvalidArgument("anchor file " + path + " is too large");
  }
  VV_ASSIGN_OR_RETURN(auto bytes, crypto::ReadFileBytes(path));
  return ParseAnchorText(bytes);
}

Result<std::unique_ptr<FileAnchorSink>> FileAnchorSink::Open(const std::string& path, bool sync) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    return Status::Unavailable("cannot open anchor file " + path + ": " + std::strerror(errno));
  }
  auto bytes = crypto::ReadFileBytes(path);
  if (!bytes.ok()) return Status::Unavailable(bytes.status().message());
  auto file = ParseAnchorText(*bytes);
  if (!file.ok()) {
    return Status::DataLoss("anchor file " + path + " is malformed: " + file.status().message());
  }
  int64_t size = static_cast<int64_t>(bytes->size());
  if (file->torn_tail) {
    // Keep only the complete lines.
    size_t nl = bytes->rfind('\n');
    const int64_t keep = nl == std::string::npos ? 0 : static_cast<int64_t>(nl) + 1;
    if (::ftruncate(fd.get(), keep) != 0 || ::fdatasync(fd.get()) != 0) {
      return Status::Unavailable("cannot truncate the torn tail of anchor file " + path);
    }
    size = keep;
  }
  std::unique_ptr<FileAnchorSink> sink(new FileAnchorSink(path, fd.Release(), sync, size));
  if (!file->records.empty()) sink->latest_ = file->records.back();
  return sink;
}

FileAnchorSink::~FileAnchorSink() { ::close(fd_); }

Status AnchorSink::PublishAll(std::span<const AnchorRecord> records, size_t* done) {
  for (*done = 0; *done < records.size(); ++*done) VV_RETURN_IF_ERROR(Publish(records[*done]));
  return Status::Ok();
}

Status FileAnchorSink::Publish(const AnchorRecord& record) {
  size_t done = 0;
  return PublishAll(std::span<const AnchorRecord>(&record, 1), &done);
}

Status FileAnchorSink::PublishAll(std::span<const AnchorRecord> records, size_t* done) {
  // Records the file already holds (a republish after an outage) count as stored.
  *done = 0;
  while (*done < records.size() && latest_.has_value() && !AnchorBefore(*latest_, records[*done]))
    ++*done;
  if (*done == records.size()) return Status::Ok();
  std::string lines;
  for (size_t i = *done; i < records.size(); ++i) lines += records[i].ToLine() + "\n";
  size_t off = 0;
  while (off < lines.size()) {
    ssize_t w = ::write(fd_, lines.data() + off, lines.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      std::string msg = "write to anchor file " + path_ + " failed: " + std::strerror(errno);
      if (::ftruncate(fd_, size_) != 0) msg += " (rollback failed)";
      return Status::Unavailable(msg);
    }
    off += static_cast<size_t>(w);
  }
  if (sync_ && ::fdatasync(fd_) != 0) {
    // Not durable: take the lines back, so a retry appends them once, not twice.
    std::string msg = "fdatasync of anchor file " + path_ + ": " + std::strerror(errno);
    if (::ftruncate(fd_, size_) != 0) msg += " (rollback failed)";
    return Status::Unavailable(msg);
  }
  size_ += static_cast<int64_t>(lines.size());
  latest_ = records.back();
  *done = records.size();
  return Status::Ok();
}

}  // namespace vv::audit
