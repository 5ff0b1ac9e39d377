#include "audit/verifier.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <string>
#include <utility>

#include <algorithm>

#include "audit/checkpoint.h"
#include "audit/record.h"
#include "common/encoding.h"

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

const std::string* StringField(const json::Value& obj, std::string_view key) {
  const json::Value* v = obj.Find(key);
  return v != nullptr && v->is_string() ? &v->as_string() : nullptr;
}

// Signature check of one checkpoint note. `pinned` wins over the embedded key. Returns "" when
// the note is validly signed or unsigned (*is_signed tells which), else why it is not.
std::string CheckNoteSignature(const SignedNote& note, const std::string& origin,
                               const std::string& public_key_b64,
                               const std::optional<crypto::Ed25519PublicKey>& pinned,
                               bool* is_signed) {
  *is_signed = !note.signatures.empty();
  if (!*is_signed) {
    return pinned.has_value() ? "checkpoint is unsigned but a seal public key is pinned" : "";
  }
  crypto::Ed25519PublicKey key;
  if (pinned.has_value()) {
    key = *pinned;
  } else {
    auto k = crypto::Ed25519PublicKey::FromBase64(public_key_b64);
    if (!k.ok()) return "signed checkpoint without a valid public_key";
    key = std::move(k).value();
  }
  Status s = VerifyNoteSignature(note, origin, key);
  if (!s.ok()) return s.message();
  return "";
}

// Parses a checkpoint note and checks it states (tree_size, root_b64). "" when consistent.
std::string CheckCheckpointText(const std::string& text, int64_t tree_size,
                                const std::string& root_b64, SignedNote* note,
                                Checkpoint* cp) {
  auto n = ParseSignedNote(text);
  if (!n.ok()) return "checkpoint is not a signed note: " + n.status().message();
  auto c = ParseCheckpointBody(n->body);
  if (!c.ok()) return "checkpoint body: " + c.status().message();
  if (c->tree_size != static_cast<uint64_t>(tree_size) || Base64Encode(c->root_hash) != root_b64) {
    return "checkpoint text states a different tree size or root than the seal";
  }
  *note = std::move(n).value();
  *cp = std::move(c).value();
  return "";
}

}  // namespace

json::Value VerifyResult::ToJson() const {
  json::Value v = json::Value::MakeObject();
  v.Set("ok", ok);
  if (ok) {
    v.Set("entries", entries);
    v.Set("latest_hash", latest_hash);
    v.Set("sealed_size", sealed_size);
    if (unsigned_seals) v.Set("unsigned_seals", true);
    if (!signature_key.empty()) v.Set("signature_key", signature_key);
    if (anchored_size >= 0) v.Set("anchored_size", anchored_size);
  } else {
    v.Set("broken_at", broken_at);
    v.Set("reason", reason);
    v.Set("detail", detail);
  }
  return v;
}

ChainVerifier::ChainVerifier(VerifyOptions opts) : opts_(std::move(opts)) {
  std::stable_sort(opts_.anchors.begin(), opts_.anchors.end(),
                   [](const AnchorRecord& a, const AnchorRecord& b) { return a.index < b.index; });
}

bool ChainVerifier::Finish() {
  if (!result_.ok) return false;
  if (next_anchor_ < opts_.anchors.size()) {
    const AnchorRecord& a = opts_.anchors[next_anchor_];
    return Fail(kReasonTruncatedAfterSeal,
                "the log ends after line " + std::to_string(lines_) +
                    " but a seal at line " + std::to_string(a.index) + " (tree size " +
                    std::to_string(a.tree_size) + ") is anchored");
  }
  return true;
}

bool ChainVerifier::CheckCheckpointSeal(const json::Value& details, const std::string& entry_hash,
                                        const std::string& timestamp) {
  const json::Value* tree_size = details.Find("tree_size");
  if (!tree_size->is_int() || tree_size->as_int64() != std::optional<int64_t>(lines_)) {
    return Fail(kReasonMerkleRootMismatch,
                "tree_size does not equal the " + std::to_string(lines_) +
                    " lines before the seal");
  }
  const std::string root_b64 = Base64Encode(tree_.Root());
  const std::string* root_hash = StringField(details, "root_hash");
  if (root_hash == nullptr || *root_hash != root_b64) {
    return Fail(kReasonMerkleRootMismatch, "root_hash is not the Merkle root of the " +
                                               std::to_string(lines_) + " lines before the seal (" +
                                               root_b64 + ")");
  }
  const std::string* previous_seal = StringField(details, "previous_seal_hash");
  if (previous_seal == nullptr || *previous_seal != last_seal_hash_) {
    return Fail(kReasonSealMismatch,
                "previous_seal_hash does not name the previous seal \"" + last_seal_hash_ + "\"");
  }
  const std::string* checkpoint = StringField(details, "checkpoint");
  const std::string* public_key = StringField(details, "public_key");
  const std::string* key_id = StringField(details, "key_id");
  const std::string* signature = StringField(details, "signature");
  if (checkpoint == nullptr || public_key == nullptr || key_id == nullptr ||
      signature == nullptr) {
    return Fail(kReasonSealMismatch,
                "seal lacks checkpoint, public_key, key_id or signature strings");
  }
  SignedNote note;
  Checkpoint cp;
  std::string err = CheckCheckpointText(*checkpoint, lines_, root_b64, &note, &cp);
  if (!err.empty()) return Fail(kReasonSealMismatch, err);
  bool is_signed = false;
  err = CheckNoteSignature(note, cp.origin, *public_key, opts_.public_key, &is_signed);
  if (!err.empty()) return Fail(kReasonSealSignatureInvalid, err);
  if (is_signed) {
    // The convenience copies must match the note's signature line.
    bool match = false;
    for (const NoteSignature& sig : note.signatures) {
      match = match || (sig.key_name == cp.origin && HexEncode(sig.key_id) == *key_id &&
                        Base64Encode(sig.signature) == *signature);
    }
    if (!match) {
      return Fail(kReasonSealSignatureInvalid,
                  "key_id / signature do not match the checkpoint's signature line");
    }
    result_.signature_key = opts_.public_key.has_value() ? "pinned" : "embedded";
  } else {
    if (!signature->empty() || !key_id->empty()) {
      return Fail(kReasonSealSignatureInvalid, "signature field without a signature line");
    }
    result_.unsigned_seals = true;
  }
  seen_checkpoint_ = true;
  result_.sealed_size = lines_;
  ++result_.seals;
  if (opts_.on_seal) {
    SealInfo info;
    info.index = lines_ + 1;
    info.entry_hash = entry_hash;
    info.tree_size = lines_;
    info.root_hash = root_b64;
    info.checkpoint = *checkpoint;
    info.public_key = *public_key;
    info.sealed_at = timestamp;
    info.previous_seal_hash = last_seal_hash_;
    opts_.on_seal(info);
  }
  last_seal_hash_ = entry_hash;
  return true;
}

bool ChainVerifier::CheckAnchorAt(int64_t line_no, const std::string& entry_hash) {
  while (next_anchor_ < opts_.anchors.size() && opts_.anchors[next_anchor_].index <= line_no) {
    const AnchorRecord& a = opts_.anchors[next_anchor_];
    if (a.index == line_no) {
      if (a.entry_hash != entry_hash) {
        return Fail(kReasonForkDetected, "line " + std::to_string(line_no) +
                                             " differs from the anchored seal (anchored hash " +
                                             Excerpt(a.entry_hash) + ")");
      }
      if (a.root_hash != Base64Encode(tree_.Root())) {
        return Fail(kReasonForkDetected, "the Merkle root at tree size " +
                                             std::to_string(a.tree_size) +
                                             " differs from the anchored root");
      }
      result_.anchored_size = a.tree_size;
    }
    ++next_anchor_;
  }
  return true;
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
    if (details.Find("tree_size") != nullptr) {
      if (idx != line_no) return Fail(kReasonIndexGap, "checkpoint seal repeats an index");
      if (!CheckCheckpointSeal(details, entry_hash, timestamp)) return false;
    } else if (seen_checkpoint_) {
      return Fail(kReasonSealMismatch, "legacy seal without a checkpoint after checkpoint seals");
    }
    entries_since_seal_ = 0;
  } else {
    ++non_seal_entries_;
    ++entries_since_seal_;
  }
  if (!CheckAnchorAt(line_no, entry_hash)) return false;
  std::string leaf = merkle::EntryLeafHash(entry_hash);
  if (leaf.empty()) return Fail(kReasonMalformedLine, "entry_hash is not 64 hex characters");
  if (opts_.leaf_hashes != nullptr) opts_.leaf_hashes->push_back(leaf);
  tree_.Append(std::move(leaf));
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

VerifyResult VerifyLogText(std::string_view text, VerifyOptions opts) {
  ChainVerifier v(std::move(opts));
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
  v.Finish();
  return v.result();
}

VerifyResult VerifyLogFile(const std::string& path, VerifyOptions opts) {
  VerifyResult r;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r.ok = false;
    r.reason = std::string(kReasonIoError);
    r.detail = "cannot open " + path + ": " + std::strerror(errno);
    return r;
  }
  ChainVerifier v(std::move(opts));
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
  v.Finish();
  return v.result();
}

VerifyResult CheckAnchors(const std::vector<AnchorRecord>& anchors,
                          const std::optional<crypto::Ed25519PublicKey>& public_key) {
  VerifyResult r;
  for (size_t i = 0; i < anchors.size(); ++i) {
    const AnchorRecord& a = anchors[i];
    auto fail = [&](std::string_view reason, const std::string& detail) {
      r.ok = false;
      r.broken_at = 0;
      r.reason = std::string(reason);
      r.detail = "anchor line " + std::to_string(i + 1) + " (seal at line " +
                 std::to_string(a.index) + "): " + detail;
      return r;
    };
    SignedNote note;
    Checkpoint cp;
    std::string err = CheckCheckpointText(a.checkpoint, a.tree_size, a.root_hash, &note, &cp);
    if (!err.empty()) return fail(kReasonMalformedLine, err);
    bool is_signed = false;
    err = CheckNoteSignature(note, cp.origin, a.public_key, public_key, &is_signed);
    if (!err.empty()) return fail(kReasonSealSignatureInvalid, err);
    (void)is_signed;
  }
  return r;
}

}  // namespace vv::audit
