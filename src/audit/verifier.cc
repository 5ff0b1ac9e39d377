#include "audit/verifier.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <string>
#include <utility>

#include "audit/record.h"

namespace vv::audit {

namespace {

constexpr std::array<std::string_view, 7> kKeys = {
    "actor", "details", "entry_hash", "event_type", "index", "previous_hash", "timestamp"};

// Short printable excerpt of a (possibly binary) string for error details.
std::string Excerpt(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  if (s.size() > kMax) out.append("...");
  return out;
}

}  // namespace

json::Value VerifyResult::ToJson() const {
  json::Value v = json::Value::MakeObject();
  v.Set("ok", ok);
  if (ok) {
    v.Set("entries", entries);
    v.Set("latest_hash", latest_hash);
  } else {
    v.Set("broken_at", broken_at);
    v.Set("reason", reason);
    v.Set("detail", detail);
  }
  return v;
}

bool ChainVerifier::Fail(std::string_view reason, std::string detail) {
  result_.ok = false;
  result_.broken_at = lines_ + 1;
  result_.reason = std::string(reason);
  result_.detail = std::move(detail);
  return false;
}

bool ChainVerifier::AddMalformedLine(std::string detail) {
  if (!result_.ok) return false;
  return Fail(kReasonMalformedLine, std::move(detail));
}

bool ChainVerifier::AddLine(std::string_view line, bool terminated) {
  if (!result_.ok) return false;
  if (!terminated) {
    return Fail(kReasonTornTail, "last line (" + std::to_string(line.size()) +
                                     " bytes) has no trailing newline: a torn write");
  }
  if (line.size() > kMaxLineBytes) {
    return Fail(kReasonMalformedLine,
                "line longer than " + std::to_string(kMaxLineBytes) + " bytes");
  }
  Result<json::Value> parsed = json::Parse(line);
  if (!parsed.ok()) {
    return Fail(kReasonMalformedLine,
                "not JSON (" + parsed.status().message() + "): " + Excerpt(line));
  }
  const json::Value& rec = parsed.value();
  if (!rec.is_object()) return Fail(kReasonMalformedLine, "not a JSON object");
  for (const auto& [key, unused] : rec.as_object()) {
    bool known = false;
    for (std::string_view k : kKeys) known = known || key == k;
    if (!known) return Fail(kReasonMalformedLine, "unexpected key \"" + Excerpt(key) + "\"");
  }
  for (std::string_view k : kKeys) {
    if (rec.Find(k) == nullptr) {
      return Fail(kReasonMalformedLine, "missing key \"" + std::string(k) + "\"");
    }
  }
  const json::Value& index = *rec.Find("index");
  const json::Value& details = *rec.Find("details");
  if (!index.is_int() || !index.as_int64().has_value()) {
    return Fail(kReasonMalformedLine, "index is not a 64-bit integer");
  }
  if (!details.is_object()) return Fail(kReasonMalformedLine, "details is not an object");
  for (std::string_view k : {"actor", "entry_hash", "event_type", "previous_hash", "timestamp"}) {
    if (!rec.Find(k)->is_string()) {
      return Fail(kReasonMalformedLine, std::string(k) + " is not a string");
    }
  }
  const std::string& entry_hash = rec.Find("entry_hash")->as_string();
  const std::string& event_type = rec.Find("event_type")->as_string();
  const std::string& previous_hash = rec.Find("previous_hash")->as_string();
  const std::string& timestamp = rec.Find("timestamp")->as_string();
  const std::string details_canonical = json::Canonical(details);
  RecordFields fields{index.int_text(),  timestamp,    event_type, rec.Find("actor")->as_string(),
                      details_canonical, previous_hash};

  // 1. The record's own hash (the reference checks it first).
  const std::string recomputed = EntryHash(fields);
  if (recomputed != entry_hash) {
    return Fail(kReasonEntryHashMismatch,
                "entry_hash " + Excerpt(entry_hash) + " but the record hashes to " + recomputed);
  }
  // 2. The link to the previous line.
  if (previous_hash != result_.latest_hash) {
    return Fail(kReasonPreviousHashMismatch, "previous_hash " + Excerpt(previous_hash) +
                                                 " but the previous line's entry_hash is \"" +
                                                 result_.latest_hash + "\"");
  }
  // 3. Numbering: index = line number, or a seal repeating the previous index (reference style).
  const int64_t idx = *index.as_int64();
  const int64_t line_no = lines_ + 1;
  const bool is_seal = event_type == kSealEventType;
  const bool reference_seal = is_seal && lines_ > 0 && idx == last_index_;
  if (idx != line_no && !reference_seal) {
    return Fail(kReasonIndexGap, "index " + std::to_string(idx) + " on line " +
                                     std::to_string(line_no) + " (previous index " +
                                     std::to_string(last_index_) + ")");
  }
  // 4. Seals must seal the entry right before them.
  if (is_seal) {
    if (lines_ == 0 || last_was_seal_) {
      return Fail(kReasonSealMismatch, "seal without a preceding entry");
    }
    const json::Value* sealed_index = details.Find("sealed_index");
    const json::Value* last_entry_hash = details.Find("last_entry_hash");
    const json::Value* sealed_at = details.Find("sealed_at");
    if (sealed_index == nullptr || !sealed_index->is_int() ||
        sealed_index->as_int64() != std::optional<int64_t>(last_index_)) {
      return Fail(kReasonSealMismatch,
                  "sealed_index does not equal the previous index " + std::to_string(last_index_));
    }
    if (last_entry_hash == nullptr || !last_entry_hash->is_string() ||
        last_entry_hash->as_string() != result_.latest_hash) {
      return Fail(kReasonSealMismatch, "last_entry_hash does not equal the previous entry_hash");
    }
    if (sealed_at == nullptr || !sealed_at->is_string() || sealed_at->as_string() != timestamp) {
      return Fail(kReasonSealMismatch, "sealed_at does not equal the seal's timestamp");
    }
  } else {
    ++non_seal_entries_;
  }
  ++lines_;
  last_index_ = idx;
  last_was_seal_ = is_seal;
  result_.entries = lines_;
  result_.latest_hash = entry_hash;
  return true;
}

bool ScanLogFd(int fd, ChainVerifier* verifier, ScanInfo* info, std::string* error) {
  std::string line;        // current partial line
  bool oversized = false;  // current line exceeded kMaxLineBytes (its bytes are dropped)
  int64_t offset = 0;      // bytes consumed so far
  int64_t line_begin = 0;
  std::string buf(64 * 1024, '\0');
  auto record_failure = [&](int64_t end) {
    info->fail_line_begin = line_begin;
    info->fail_line_end = end;
  };
  if (::lseek(fd, 0, SEEK_SET) < 0) {
    *error = std::string("lseek: ") + std::strerror(errno);
    return false;
  }
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = std::string("read: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) break;
    size_t pos = 0;
    const size_t len = static_cast<size_t>(n);
    while (pos < len) {
      const void* nl = std::memchr(buf.data() + pos, '\n', len - pos);
      size_t stop = nl ? static_cast<size_t>(static_cast<const char*>(nl) - buf.data()) : len;
      if (!oversized) {
        line.append(buf.data() + pos, stop - pos);
        if (line.size() > kMaxLineBytes) {
          oversized = true;
          line.clear();
          line.shrink_to_fit();
        }
      }
      offset += static_cast<int64_t>(stop - pos);
      pos = stop;
      if (nl == nullptr) break;
      // Complete line.
      ++offset;
      ++pos;
      if (verifier->ok()) {
        bool good = oversized ? verifier->AddMalformedLine("line longer than " +
                                                           std::to_string(kMaxLineBytes) + " bytes")
                              : verifier->AddLine(line, true);
        if (!good) record_failure(offset);
      }
      line.clear();
      oversized = false;
      line_begin = offset;
    }
    if (!verifier->ok()) break;  // no need to read further
  }
  if (verifier->ok() && offset > line_begin) {
    // Trailing bytes without '\n'.
    verifier->AddLine(line, false);
    record_failure(offset);
  }
  struct stat st;
  info->file_size = ::fstat(fd, &st) == 0 ? static_cast<int64_t>(st.st_size) : offset;
  return true;
}

VerifyResult VerifyLogText(std::string_view text) {
  ChainVerifier v;
  size_t pos = 0;
  while (pos < text.size() && v.ok()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      v.AddLine(text.substr(pos), false);
      break;
    }
    v.AddLine(text.substr(pos, nl - pos), true);
    pos = nl + 1;
  }
  return v.result();
}

VerifyResult VerifyLogFile(const std::string& path) {
  VerifyResult r;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r.ok = false;
    r.reason = std::string(kReasonIoError);
    r.detail = "cannot open " + path + ": " + std::strerror(errno);
    return r;
  }
  ChainVerifier v;
  ScanInfo info;
  std::string error;
  bool read_ok = ScanLogFd(fd, &v, &info, &error);
  ::close(fd);
  if (!read_ok) {
    r.ok = false;
    r.reason = std::string(kReasonIoError);
    r.detail = "cannot read " + path + ": " + error;
    return r;
  }
  return v.result();
}

}  // namespace vv::audit
