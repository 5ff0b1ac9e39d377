#include "audit/verifier.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
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

json::Value SegmentLink::ToDetails() const {
  json::Value d = json::Value::MakeObject();
  d.Set("segment", segment);
  d.Set("previous_segment", segment - 1);
  d.Set("previous_lines", previous_lines);
  d.Set("previous_seal_hash", previous_seal_hash);
  d.Set("origin", origin);
  d.Set("previous_file", previous_file);
  return d;
}

Result<SegmentLink> SegmentLink::FromDetails(const json::Value& d) {
  if (!d.is_object() || d.as_object().size() != 6) {
    return Status::InvalidArgument(
        "segment link needs exactly segment, previous_segment, previous_lines, "
        "previous_seal_hash, origin and previous_file");
  }
  auto get_int = [&d](std::string_view k) -> std::optional<int64_t> {
    const json::Value* v = d.Find(k);
    if (v == nullptr || !v->is_int()) return std::nullopt;
    return v->as_int64();
  };
  SegmentLink l;
  auto segment = get_int("segment");
  auto previous = get_int("previous_segment");
  auto lines = get_int("previous_lines");
  if (!segment.has_value() || *segment < 1 || !previous.has_value() || *previous != *segment - 1) {
    return Status::InvalidArgument("segment link: segment must be >= 1 and previous_segment "
                                   "segment - 1");
  }
  if (!lines.has_value() || *lines < 2) {
    return Status::InvalidArgument("segment link: previous_lines must be >= 2");
  }
  const std::string* hash = StringField(d, "previous_seal_hash");
  const std::string* origin = StringField(d, "origin");
  const std::string* file = StringField(d, "previous_file");
  if (hash == nullptr || !IsHex(*hash, 64)) {
    return Status::InvalidArgument("segment link: previous_seal_hash is not 64 hex characters");
  }
  if (origin == nullptr || !IsValidKeyName(*origin) || origin->size() > 256) {
    return Status::InvalidArgument("segment link: origin is not a valid checkpoint origin");
  }
  if (file == nullptr || file->size() > 4096) {
    return Status::InvalidArgument("segment link: previous_file is not a string");
  }
  l.segment = *segment;
  l.previous_lines = *lines;
  l.previous_seal_hash = *hash;
  l.origin = *origin;
  l.previous_file = *file;
  return l;
}

ChainVerifier::ChainVerifier(VerifyOptions opts) : opts_(std::move(opts)) {
  std::stable_sort(opts_.anchors.begin(), opts_.anchors.end(), AnchorBefore);
  for (const AnchorRecord& a : opts_.anchors) {
    auto note = ParseSignedNote(a.checkpoint);
    if (!note.ok()) continue;
    auto cp = ParseCheckpointBody(note->body);
    if (!cp.ok()) continue;
    anchor_origin_ = cp->origin;
    break;
  }
}

bool ChainVerifier::SelectAnchors() {
  if (anchors_selected_) return true;
  anchors_selected_ = true;
  const int64_t seg = segment();
  std::optional<AnchorRecord> previous;  // last anchored seal of segment seg - 1
  bool older_only = !opts_.anchors.empty();
  std::vector<AnchorRecord> mine;
  for (AnchorRecord& a : opts_.anchors) {
    if (a.segment >= seg) older_only = false;
    if (a.segment == seg - 1) previous = a;
    if (a.segment > seg && !later_anchor_.has_value()) later_anchor_ = a;
    if (a.segment == seg) mine.push_back(std::move(a));
  }
  opts_.anchors = std::move(mine);
  if (!link_.has_value()) return true;
  const std::string prev = "segment " + std::to_string(seg - 1);
  if (previous.has_value()) {
    if (previous->index != link_->previous_lines ||
        previous->entry_hash != link_->previous_seal_hash) {
      return Fail(kReasonSegmentLinkMismatch,
                  "line 1 links to the seal at line " + std::to_string(link_->previous_lines) +
                      " of " + prev + " (" + link_->previous_seal_hash +
                      ") but the last anchored seal of " + prev + " is at line " +
                      std::to_string(previous->index) + " (" + Excerpt(previous->entry_hash) +
                      ")");
    }
  } else if (older_only) {
    return Fail(kReasonSegmentLinkMismatch,
                "the anchor holds no seal of " + prev + " (the segment this log links to)");
  }
  return true;
}

bool ChainVerifier::CheckSegmentStart(int64_t line_no, const json::Value& details) {
  if (line_no != 1) {
    return Fail(kReasonSegmentLinkMismatch,
                "a segment start record on line " + std::to_string(line_no) +
                    " (only line 1 of a segment may link to the previous segment)");
  }
  auto link = SegmentLink::FromDetails(details);
  if (!link.ok()) return Fail(kReasonSegmentLinkMismatch, link.status().message());
  if (!anchor_origin_.empty() && link->origin != anchor_origin_) {
    return Fail(kReasonOriginMismatch, "the segment links to origin \"" + link->origin +
                                           "\" but the anchored seals are of origin \"" +
                                           anchor_origin_ + "\"");
  }
  link_ = std::move(link).value();
  return true;
}

bool ChainVerifier::Finish() {
  if (!result_.ok) return false;
  if (!SelectAnchors()) return false;
  if (later_anchor_.has_value() && !opts_.allow_later_segments) {
    return Fail(kReasonTruncatedAfterSeal,
                "this log is segment " + std::to_string(segment()) + " but a seal of segment " +
                    std::to_string(later_anchor_->segment) + " (line " +
                    std::to_string(later_anchor_->index) +
                    ") is anchored: the live log was rotated away or moved; verify the whole "
                    "chain of segments");
  }
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
  if (!anchor_origin_.empty() && cp.origin != anchor_origin_) {
    return Fail(kReasonOriginMismatch,
                "the log's checkpoints are of origin \"" + Excerpt(cp.origin) +
                    "\" but the anchored seals are of origin \"" + anchor_origin_ +
                    "\" (another replica's anchor?)");
  }
  if (checkpoint_origin_.empty()) checkpoint_origin_ = cp.origin;
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
    info.segment = segment();
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
  // 4. Segment links (line 1 only), then the anchors of this segment.
  if (event_type == kSegmentStartEventType && !CheckSegmentStart(line_no, details)) return false;
  if (!SelectAnchors()) return false;
  // 5. Seals must seal the entry right before them.
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

std::string SegmentPath(const std::string& live_path, int64_t segment) {
  char num[24];
  std::snprintf(num, sizeof(num), "%06lld", static_cast<long long>(segment));
  return live_path + "." + num;
}

Result<std::optional<SegmentLink>> ReadSegmentLink(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound("cannot open " + path + ": " + std::strerror(errno));
  // A segment start record is small; read at most one bounded first line.
  std::string head(64 * 1024, '\0');
  size_t got = 0;
  while (got < head.size()) {
    ssize_t n = ::read(fd, head.data() + got, head.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
    if (std::memchr(head.data(), '\n', got) != nullptr) break;
  }
  ::close(fd);
  head.resize(got);
  const size_t nl = head.find('\n');
  const std::optional<SegmentLink> none;
  if (nl == std::string::npos) return none;  // empty, or a torn/oversized first line
  auto rec = json::Parse(std::string_view(head).substr(0, nl));
  if (!rec.ok() || !rec->is_object()) return none;  // the chain check names it
  const std::string* type = StringField(*rec, "event_type");
  const json::Value* details = rec->Find("details");
  if (type == nullptr || *type != kSegmentStartEventType || details == nullptr) return none;
  auto link = SegmentLink::FromDetails(*details);
  if (!link.ok()) return none;  // verification reports segment_link_mismatch
  return std::optional<SegmentLink>(std::move(link).value());
}

VerifyResult VerifySegmentChain(const std::vector<std::string>& paths, VerifyOptions opts,
                                std::vector<SegmentReport>* segments, int64_t* broken_segment,
                                std::string* broken_file) {
  struct Seg {
    std::string path;
    int64_t number = 0;
  };
  auto fail = [&](std::string_view reason, std::string detail, int64_t line, int64_t seg,
                  const std::string& file) {
    VerifyResult r;
    r.ok = false;
    r.reason = std::string(reason);
    r.detail = std::move(detail);
    r.broken_at = line;
    if (broken_segment != nullptr) *broken_segment = seg;
    if (broken_file != nullptr) *broken_file = file;
    return r;
  };
  if (paths.empty()) return fail(kReasonIoError, "no segment files given", 0, -1, "");
  std::vector<Seg> order;
  for (const std::string& p : paths) {
    auto link = ReadSegmentLink(p);
    if (!link.ok()) return fail(kReasonIoError, link.status().message(), 0, -1, p);
    order.push_back({p, link->has_value() ? (*link)->segment : 0});
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const Seg& a, const Seg& b) { return a.number < b.number; });
  for (size_t i = 0; i < order.size(); ++i) {
    const int64_t want = i == 0 ? 0 : order[i - 1].number + 1;
    if (i > 0 && order[i].number == order[i - 1].number) {
      return fail(kReasonMissingSegment,
                  "two files claim segment " + std::to_string(order[i].number) + ": " +
                      order[i - 1].path + " and " + order[i].path,
                  0, order[i].number, order[i].path);
    }
    if (order[i].number != want) {
      const std::string missing = order[i].number - want == 1
                                      ? "segment " + std::to_string(want) + " is"
                                      : "segments " + std::to_string(want) + ".." +
                                            std::to_string(order[i].number - 1) + " are";
      return fail(kReasonMissingSegment,
                  missing + " missing (" +
                      (i == 0 ? "the first file given, " + order[i].path + ", is segment "
                              : "between " + order[i - 1].path + " and " + order[i].path +
                                    ", segment ") +
                      std::to_string(order[i].number) + ")",
                  0, want, i == 0 ? order[i].path : order[i - 1].path);
    }
  }
  VerifyResult total;
  std::string prev_hash, prev_origin, prev_path;
  int64_t prev_lines = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const Seg& seg = order[i];
    VerifyOptions o = opts;
    o.allow_later_segments = i + 1 < order.size();
    int fd = ::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return fail(kReasonIoError, "cannot open " + seg.path + ": " + std::strerror(errno), 0,
                  seg.number, seg.path);
    }
    ChainVerifier v(std::move(o));
    ScanInfo info;
    std::string error;
    const bool read_ok = ScanLogFd(fd, &v, &info, &error);
    ::close(fd);
    if (!read_ok) return fail(kReasonIoError, seg.path + ": " + error, 0, seg.number, seg.path);
    v.Finish();
    VerifyResult r = v.result();
    if (segments != nullptr) segments->push_back({seg.path, seg.number, r});
    const std::string where = "segment " + std::to_string(seg.number) + " (" + seg.path + ")";
    if (!r.ok) {
      return fail(r.reason, where + ": line " + std::to_string(r.broken_at) + ": " + r.detail,
                  r.broken_at, seg.number, seg.path);
    }
    if (i > 0) {
      const SegmentLink& l = *v.link();  // number > 0: line 1 is a valid link
      std::string why;
      if (l.previous_lines != prev_lines) {
        why = "previous_lines " + std::to_string(l.previous_lines) + " but " + prev_path +
              " has " + std::to_string(prev_lines) + " lines";
      } else if (l.previous_seal_hash != prev_hash) {
        why = "previous_seal_hash " + l.previous_seal_hash + " but the last line of " +
              prev_path + " is " + prev_hash;
      } else if (!prev_origin.empty() && l.origin != prev_origin) {
        why = "origin \"" + l.origin + "\" but " + prev_path + " is sealed under \"" +
              prev_origin + "\"";
      }
      if (!why.empty()) {
        return fail(kReasonSegmentLinkMismatch, where + ": line 1 links to the previous segment "
                                                    "with " + why,
                    1, seg.number, seg.path);
      }
    }
    if (i + 1 < order.size() && !v.ends_on_seal()) {
      return fail(kReasonSegmentLinkMismatch,
                  where + " does not end on a checkpoint seal (a rotated segment is sealed "
                          "last): line " + std::to_string(r.entries - v.entries_since_seal() + 1) +
                      " follows its last seal",
                  r.entries - v.entries_since_seal() + 1, seg.number, seg.path);
    }
    prev_hash = r.latest_hash;
    prev_lines = r.entries;
    prev_origin = v.checkpoint_origin();
    prev_path = seg.path;
    total.entries += r.entries;
    total.seals += r.seals;
    total.latest_hash = r.latest_hash;
    total.sealed_size = r.sealed_size;
    total.unsigned_seals = total.unsigned_seals || r.unsigned_seals;
    if (!r.signature_key.empty()) total.signature_key = r.signature_key;
    if (r.anchored_size >= 0) total.anchored_size = r.anchored_size;
  }
  return total;
}

}  // namespace vv::audit
