// vv-audit: operations on the tamper-evident audit log (docs/audit-format.md).
//   vv-audit verify LOG [--anchor FILE|nats://HOST:PORT] [--anchor-subject SUBJ]
//                       [--anchor-stream NAME] [--origin NAME] [--no-anchor]
//                       [--public-key B64|FILE]
//       Verifies the hash chain, the signed Merkle checkpoints and the anchored seals (the
//       anchor LOG.anchor beside the log is used without flags when it exists). With a NATS
//       URL the anchored seals are read from the JetStream anchor stream (subject
//       vectorvue.audit.anchor.<origin token>; the origin defaults to the log's first
//       checkpoint's origin line).
//   vv-audit verify DIR | SEGMENT... | --chain LOG   [same options]
//       Verifies a chain of rotated segments (docs/audit-format.md section 6): a directory
//       holding one log and its LOG.NNNNNN segments, the files listed, or LOG and its
//       segments beside it. Names the exact break: missing_segment, segment_link_mismatch, or
//       the failing segment K, its file and line. The anchor default is LIVE-LOG.anchor.
//   vv-audit rotate [--admin HOST:PORT] [--token-file FILE]
//       Asks the running gateway (admin listener, POST /admin/audit/rotate with the admin
//       token; default 127.0.0.1:9464, token from VV_TG_ADMIN_TOKEN when no file is given) to
//       seal and anchor its audit log and start a new linked segment. `kill -USR1 <pid>` does
//       the same on the gateway and the engine.
//   vv-audit prove LOG --index I
//       Prints an RFC 6962 inclusion proof of entry I (its 1-based index) against the log's
//       latest checkpoint.
//   vv-audit check-proof PROOF.json [--public-key B64|FILE]
//       Verifies such a proof offline (no log access).
//   vv-audit public-key (--key FILE | --pkcs11-token LABEL --pkcs11-key-label KEY) [--origin NAME]
//       Prints the seal key's public key, signed-note key id and verifier key.
//   vv-audit pkcs11-keygen --pkcs11-token LABEL --pkcs11-key-label KEY [--origin NAME]
//       Creates the seal key pair inside the PKCS#11 token (private key non-extractable) and
//       prints its public key as public-key does.
//   vv-audit report LOG --html OUT.html [--anchor FILE] [--no-anchor] [--public-key B64|FILE]
//       Writes a self-contained HTML report (inline SVG charts: decisions over time, accepted
//       vs rejected by reason, by identity and tenant, seal/anchor status, verification).
//       Exit 0 when written and the log verifies, 1 when written but it does not.
//   PKCS#11 options: [--pkcs11-module SO] [--pin-file FILE | --pin-env VAR]
//       (default module SoftHSM2's, default PIN variable VV_AUDIT_PKCS11_PIN).
// Every command prints its result as canonical JSON on the last stdout line (--json is accepted
// for the common convention; JSON is this tool's only output format). Exit (tools/cli/cli.h,
// docs/cli.md): 0 when ok, 1 when the log/proof does not verify or on an operational error
// (kept at 1: scripts and tests already depend on it), 2 on a usage error.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "audit/anchor.h"
#include "audit/checkpoint.h"
#include "audit/jetstream_anchor.h"
#include "audit/pkcs11_seal_signer.h"
#include "audit/report.h"
#include "audit/verifier.h"
#include "cli/cli.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "common/env.h"
#include "crypto/crypto.h"
#include "crypto/merkle.h"
#include "json/json.h"

namespace {

using vv::json::Value;

// Exit status (docs/cli.md): 0 ok; 3 when a log, anchor or proof was read and does NOT
// verify; 1 when it could not be checked at all (I/O, key or token errors, internal).
int Emit(const Value& v, bool ok) {
  std::cout << vv::json::Canonical(v) << std::endl;
  if (ok) return vv::cli::kExitOk;
  const Value* reason = v.is_object() ? v.Find("reason") : nullptr;
  const std::string r = reason != nullptr && reason->is_string() ? reason->as_string() : "";
  // The reasons that mean "checked, and it does not verify"; anything else (io_error,
  // key_error, pkcs11_error, internal, not_covered, no_checkpoint) could not be checked.
  static const char* const kDoesNotVerify[] = {
      "entry_hash_mismatch",  "previous_hash_mismatch", "index_gap",        "malformed_line",
      "seal_mismatch",        "torn_tail",              "seal_signature_invalid",
      "merkle_root_mismatch", "truncated_after_seal",   "fork_detected",    "malformed_proof",
      "inclusion_proof_invalid", "log_not_verified",    "origin_mismatch",  "segment_link_mismatch",
      "missing_segment"};
  for (const char* reason_name : kDoesNotVerify) {
    if (r == reason_name) return vv::cli::kExitVerifyFailed;
  }
  return vv::cli::kExitFailed;
}

int EmitError(std::string_view reason, const std::string& detail) {
  std::cerr << "vv-audit: " << reason << ": " << detail << "\n";
  Value v = Value::MakeObject();
  v.Set("ok", false);
  v.Set("reason", std::string(reason));
  v.Set("detail", detail);
  return Emit(v, false);
}

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The embedded anchor beside the log: LOG.anchor, else the only other file in the log's
// directory whose name starts with the log's file name and ends in ".anchor".
std::optional<std::string> FindAnchor(const std::string& log_path) {
  const std::string def = vv::audit::DefaultAnchorPath(log_path);
  if (IsRegularFile(def)) return def;
  std::error_code ec;
  std::filesystem::path p(log_path);
  std::filesystem::path dir = p.parent_path().empty() ? "." : p.parent_path();
  const std::string base = p.filename().string();
  std::optional<std::string> found;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() > base.size() + 7 && name.rfind(base, 0) == 0 &&
        name.compare(name.size() - 7, 7, ".anchor") == 0 && e.is_regular_file(ec)) {
      if (found.has_value()) return std::nullopt;  // ambiguous: use --anchor
      found = e.path().string();
    }
  }
  return found;
}

std::optional<std::optional<vv::crypto::Ed25519PublicKey>> ParseKeyOption(const std::string& arg) {
  if (arg.empty()) return std::optional<vv::crypto::Ed25519PublicKey>();
  auto key = vv::audit::ParsePublicKeyArg(arg);
  if (!key.ok()) {
    std::cerr << "vv-audit: --public-key: " << key.status().message() << "\n";
    return std::nullopt;
  }
  return std::optional<vv::crypto::Ed25519PublicKey>(std::move(key).value());
}

struct JetStreamArgs {
  std::string subject;
  std::string stream = std::string(vv::audit::kDefaultAnchorStream);
  std::string origin;
};

// The origin line of the log's first checkpoint seal, else its segment link's origin.
std::optional<std::string> LogOrigin(const std::string& log_path) {
  std::optional<std::string> origin;
  if (auto link = vv::audit::ReadSegmentLink(log_path); link.ok() && link->has_value()) {
    origin = (*link)->origin;
  }
  vv::audit::VerifyOptions opts;
  opts.on_seal = [&origin](const vv::audit::SealInfo& s) {
    if (origin.has_value()) return;
    auto note = vv::audit::ParseSignedNote(s.checkpoint);
    if (!note.ok()) return;
    auto cp = vv::audit::ParseCheckpointBody(note->body);
    if (cp.ok()) origin = cp->origin;
  };
  (void)vv::audit::VerifyLogFile(log_path, std::move(opts));
  return origin;
}

// The anchored seals from a file or, for a NATS URL, from the JetStream anchor stream.
vv::Result<vv::audit::AnchorFile> LoadAnchors(const std::string& log_path,
                                              const std::string& anchor,
                                              const JetStreamArgs& js) {
  if (!vv::audit::IsNatsUrl(anchor)) return vv::audit::LoadAnchorFile(anchor);
  vv::audit::JetStreamAnchorOptions o;
  o.nats.url = anchor;
  o.stream = js.stream;
  o.nats.name = "vv-audit-verify";
  o.nats.connect_timeout_ms = 3000;
  o.request_timeout_ms = 3000;
  if (!js.subject.empty()) {
    o.subject = js.subject;
    const size_t dot = js.subject.rfind('.');
    if (dot != std::string::npos && dot > 0) o.subject_prefix = js.subject.substr(0, dot);
  } else {
    o.origin = !js.origin.empty()
                   ? js.origin
                   : LogOrigin(log_path).value_or(std::string(vv::audit::kDefaultCheckpointOrigin));
  }
  auto records = vv::audit::FetchJetStreamAnchors(o);
  if (!records.ok()) {
    // Bad records are a defect of the anchor; anything else is operational.
    if (records.status().code() == vv::StatusCode::kInvalidArgument &&
        records.status().message().rfind("anchor stream sequence", 0) == 0) {
      return records.status();
    }
    return vv::Status::Unavailable(records.status().message());
  }
  std::cerr << "vv-audit: " << records->size() << " anchored seals read from JetStream subject "
            << (o.subject.empty() ? vv::audit::AnchorSubject(o.subject_prefix, o.origin)
                                  : o.subject)
            << "\n";
  vv::audit::AnchorFile out;
  out.records = std::move(records).value();
  return out;
}

int RunVerify(const std::string& log_path, std::string anchor_path, bool no_anchor,
              const std::string& public_key_arg, const JetStreamArgs& js,
              const std::vector<std::string>& chain) {
  auto key = ParseKeyOption(public_key_arg);
  if (!key.has_value()) return 2;
  vv::audit::VerifyOptions opts;
  opts.public_key = *key;
  if (anchor_path.empty() && !no_anchor) anchor_path = FindAnchor(log_path).value_or("");
  if (!anchor_path.empty()) {
    auto file = LoadAnchors(log_path, anchor_path, js);
    vv::audit::VerifyResult bad;
    bad.ok = false;
    if (!file.ok()) {
      bad.reason = file.status().code() == vv::StatusCode::kInvalidArgument
                       ? std::string(vv::audit::kReasonMalformedLine)
                       : std::string(vv::audit::kReasonIoError);
      bad.detail = "anchor " + anchor_path + ": " + file.status().message();
    } else {
      bad = vv::audit::CheckAnchors(file->records, opts.public_key);
      if (bad.ok) opts.anchors = std::move(file->records);
      if (!bad.ok) bad.detail = "anchor " + anchor_path + ": " + bad.detail;
    }
    if (!bad.ok) {
      std::cerr << "audit anchor " << anchor_path << ": BROKEN (" << bad.reason
                << "): " << bad.detail << "\n";
      return Emit(bad.ToJson(), false);
    }
  }
  if (chain.empty()) {
    vv::audit::VerifyResult r = vv::audit::VerifyLogFile(log_path, std::move(opts));
    if (!r.ok) {
      std::cerr << "audit log " << log_path << ": BROKEN at line " << r.broken_at << " ("
                << r.reason << "): " << r.detail << "\n";
    } else if (r.unsigned_seals) {
      std::cerr << "audit log " << log_path << ": warning: seals are not signed\n";
    }
    return Emit(r.ToJson(), r.ok);
  }
  std::vector<vv::audit::SegmentReport> segments;
  int64_t broken_segment = -1;
  std::string broken_file;
  vv::audit::VerifyResult r = vv::audit::VerifySegmentChain(chain, std::move(opts), &segments,
                                                            &broken_segment, &broken_file);
  Value v = r.ToJson();
  v.Set("segments", static_cast<int64_t>(segments.size()));
  if (!r.ok) {
    if (broken_segment >= 0) v.Set("segment", broken_segment);
    if (!broken_file.empty()) v.Set("file", broken_file);
    std::cerr << "audit log chain " << log_path << ": BROKEN (" << r.reason << "): " << r.detail
              << "\n";
  } else if (r.unsigned_seals) {
    std::cerr << "audit log chain " << log_path << ": warning: seals are not signed\n";
  }
  return Emit(v, r.ok);
}

// The files of a chain: DIR (the one log in it that has LOG.NNNNNN segments or LOG.anchor,
// with its segments), LOG with --chain (LOG and its LOG.NNNNNN siblings), or several files.
// *live = the live log (anchor and origin lookups). Empty result + *error on failure.
std::vector<std::string> ChainFiles(const std::vector<std::string>& args, bool chain_flag,
                                    std::string* live, std::string* error) {
  namespace fs = std::filesystem;
  auto is_segment_of = [](const std::string& name, const std::string& base) {
    if (name.size() != base.size() + 7 || name.compare(0, base.size(), base) != 0 ||
        name[base.size()] != '.') {
      return false;
    }
    for (size_t i = base.size() + 1; i < name.size(); ++i) {
      if (name[i] < '0' || name[i] > '9') return false;
    }
    return true;
  };
  auto with_segments = [&](const fs::path& log) {
    std::vector<std::string> out;
    std::error_code ec;
    const fs::path dir = log.parent_path().empty() ? fs::path(".") : log.parent_path();
    const std::string base = log.filename().string();
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.is_regular_file(ec) && is_segment_of(e.path().filename().string(), base)) {
        out.push_back(e.path().string());
      }
    }
    std::sort(out.begin(), out.end());
    out.push_back(log.string());
    return out;
  };
  std::error_code ec;
  if (args.size() > 1) {
    // The live log is the file with the highest segment number.
    int64_t best = -1;
    for (const auto& a : args) {
      auto link = vv::audit::ReadSegmentLink(a);
      const int64_t n = link.ok() && link->has_value() ? (*link)->segment : 0;
      if (n > best) {
        best = n;
        *live = a;
      }
    }
    return args;
  }
  const fs::path arg(args.front());
  if (fs::is_directory(arg, ec)) {
    std::vector<std::string> bases;
    for (const auto& e : fs::directory_iterator(arg, ec)) {
      if (!e.is_regular_file(ec)) continue;
      const std::string name = e.path().filename().string();
      const std::string anchor = name + ".anchor";
      bool live_log = fs::is_regular_file(arg / anchor, ec);
      for (const auto& f : fs::directory_iterator(arg, ec)) {
        live_log = live_log || is_segment_of(f.path().filename().string(), name);
      }
      if (live_log) bases.push_back(name);
    }
    if (bases.size() != 1) {
      std::sort(bases.begin(), bases.end());
      std::string names;
      for (const auto& b : bases) names += (names.empty() ? "" : ", ") + b;
      *error = bases.empty() ? "no audit log with segments or an anchor in " + arg.string()
                             : arg.string() + " holds several logs (" + names +
                                   "): name one with --chain LOG";
      return {};
    }
    *live = (arg / bases.front()).string();
    return with_segments(arg / bases.front());
  }
  *live = arg.string();
  if (!chain_flag) return {};
  return with_segments(arg);
}

// POST /admin/audit/rotate on the loopback admin listener (plain HTTP, bearer token).
int RunRotate(const std::string& admin, const std::string& token_file) {
  const size_t colon = admin.rfind(':');
  std::string host = colon == std::string::npos ? admin : admin.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  if (colon != std::string::npos) {
    try {
      port = std::stoi(admin.substr(colon + 1));
    } catch (const std::exception&) {
      port = 0;
    }
  }
  if (port <= 0 || port > 65535) {
    std::cerr << "vv-audit: --admin must be HOST:PORT (got '" << admin << "')\n";
    return 2;
  }
  if (host == "localhost") host = "127.0.0.1";
  in_addr a4{};
  in6_addr a6{};
  const bool v4 = ::inet_pton(AF_INET, host.c_str(), &a4) == 1;
  const bool v6 = !v4 && ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
  if (!(v4 && (ntohl(a4.s_addr) >> 24) == 127) && !(v6 && IN6_IS_ADDR_LOOPBACK(&a6))) {
    std::cerr << "vv-audit: --admin must be a loopback address (the admin listener is "
                 "loopback-only)\n";
    return 2;
  }
  std::string token;
  if (!token_file.empty()) {
    struct stat st;
    if (::stat(token_file.c_str(), &st) != 0 || (st.st_mode & 077) != 0) {
      return EmitError("key_error", "token file " + token_file +
                                        " is missing or readable by group/others (chmod 0600)");
    }
    auto bytes = vv::crypto::ReadFileBytes(token_file);
    if (!bytes.ok()) return EmitError("io_error", bytes.status().message());
    token = std::string(vv::StripAsciiWhitespace(*bytes));
  } else if (const char* t = std::getenv("VV_TG_ADMIN_TOKEN")) {
    token = std::string(vv::StripAsciiWhitespace(t));
  }
  if (token.empty()) {
    std::cerr << "vv-audit: rotate needs the admin token: --token-file FILE or VV_TG_ADMIN_TOKEN\n";
    return 2;
  }
  const int fd = ::socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return EmitError("io_error", "socket: " + std::string(std::strerror(errno)));
  timeval tv{60, 0};  // the gateway waits for the anchor (bounded by its request timeout)
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int rc;
  if (v4) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr = a4;
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  } else {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(static_cast<uint16_t>(port));
    sa.sin6_addr = a6;
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  }
  if (rc != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return EmitError("io_error", "cannot connect to the admin listener " + admin + ": " + why);
  }
  const std::string req = "POST /admin/audit/rotate HTTP/1.1\r\nHost: " + admin +
                          "\r\nAuthorization: Bearer " + token +
                          "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  bool sent = true;
  for (size_t off = 0; off < req.size();) {
    const ssize_t w = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (w <= 0) {
      sent = false;
      break;
    }
    off += static_cast<size_t>(w);
  }
  std::string resp;
  char buf[4096];
  while (sent && resp.size() < 64 * 1024) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  int status = 0;
  if (resp.rfind("HTTP/1.", 0) == 0 && resp.size() > 12) status = std::atoi(resp.c_str() + 9);
  const size_t body_at = resp.find("\r\n\r\n");
  auto body = vv::json::Parse(body_at == std::string::npos ? "" : resp.substr(body_at + 4));
  if (status == 200 && body.ok() && body->is_object()) {
    Value v = *body;
    v.Set("ok", true);
    return Emit(v, true);
  }
  std::string detail = "HTTP " + std::to_string(status);
  if (body.ok() && body->is_object()) {
    const Value* e = body->Find("error");
    if (e == nullptr) e = body->Find("detail");
    if (e != nullptr && e->is_string()) detail += ": " + e->as_string();
  } else if (status == 0) {
    detail = "no HTTP response from " + admin;
  }
  return EmitError(status == 401 ? "unauthorized" : "rotate_failed", detail);
}

// Reads line `line_no` (1-based) of a file, without its '\n'.
std::optional<std::string> ReadLine(const std::string& path, int64_t line_no) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  for (int64_t i = 1; std::getline(in, line); ++i) {
    if (i == line_no) return line;
  }
  return std::nullopt;
}

int RunProve(const std::string& log_path, int64_t index) {
  std::vector<std::string> leaves;
  std::optional<vv::audit::SealInfo> latest;
  vv::audit::VerifyOptions opts;
  opts.leaf_hashes = &leaves;
  opts.on_seal = [&latest](const vv::audit::SealInfo& s) { latest = s; };
  vv::audit::VerifyResult r = vv::audit::VerifyLogFile(log_path, std::move(opts));
  if (!r.ok) {
    return EmitError("log_not_verified", "the log does not verify (" + r.reason + " at line " +
                                             std::to_string(r.broken_at) + "): " + r.detail);
  }
  if (!latest.has_value()) return EmitError("no_checkpoint", "the log has no checkpoint seal");
  if (index < 1 || index > latest->tree_size) {
    return EmitError("not_covered", "entry " + std::to_string(index) +
                                        " is not covered by the latest checkpoint (tree size " +
                                        std::to_string(latest->tree_size) + ")");
  }
  const uint64_t leaf_index = static_cast<uint64_t>(index - 1);
  auto proof = vv::crypto::merkle::InclusionProof(leaves, leaf_index,
                                                 static_cast<uint64_t>(latest->tree_size));
  if (!proof.ok()) return EmitError("internal", proof.status().message());
  auto line = ReadLine(log_path, index);
  auto record =
      line.has_value() ? vv::json::Parse(*line) : vv::Result<Value>(vv::Status::NotFound(""));
  if (!record.ok()) return EmitError("internal", "cannot re-read line " + std::to_string(index));
  Value out = Value::MakeObject();
  out.Set("index", index);
  out.Set("leaf_index", static_cast<int64_t>(leaf_index));
  out.Set("tree_size", latest->tree_size);
  out.Set("entry_hash", record->Find("entry_hash")->as_string());
  out.Set("leaf_hash", vv::Base64Encode(leaves[leaf_index]));
  Value hashes = Value::MakeArray();
  for (const std::string& h : *proof) hashes.Push(vv::Base64Encode(h));
  out.Set("proof", std::move(hashes));
  out.Set("root_hash", latest->root_hash);
  out.Set("checkpoint", latest->checkpoint);
  out.Set("public_key", latest->public_key);
  out.Set("record", std::move(record).value());
  return Emit(out, true);
}

int RunCheckProof(const std::string& proof_path, const std::string& public_key_arg) {
  auto key = ParseKeyOption(public_key_arg);
  if (!key.has_value()) return 2;
  auto bytes = vv::crypto::ReadFileBytes(proof_path);
  if (!bytes.ok()) return EmitError("io_error", bytes.status().message());
  if (bytes->size() > (16u << 20)) return EmitError("malformed_proof", "proof file too large");
  // Tolerate tool output with log lines before the JSON: use the last non-empty line.
  std::string text = *bytes;
  auto parsed = vv::json::Parse(text);
  if (!parsed.ok()) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    size_t nl = text.rfind('\n');
    parsed = vv::json::Parse(nl == std::string::npos ? text : text.substr(nl + 1));
  }
  if (!parsed.ok() || !parsed->is_object()) {
    return EmitError("malformed_proof", "proof is not a JSON object");
  }
  const Value& p = *parsed;
  auto str = [&](std::string_view k) -> const std::string* {
    const Value* v = p.Find(k);
    return v != nullptr && v->is_string() ? &v->as_string() : nullptr;
  };
  auto integer = [&](std::string_view k) -> std::optional<int64_t> {
    const Value* v = p.Find(k);
    return v != nullptr && v->is_int() ? v->as_int64() : std::nullopt;
  };
  const std::string* checkpoint = str("checkpoint");
  const std::string* entry_hash = str("entry_hash");
  const std::string* public_key = str("public_key");
  const Value* proof_v = p.Find("proof");
  auto leaf_index = integer("leaf_index");
  auto tree_size = integer("tree_size");
  if (checkpoint == nullptr || entry_hash == nullptr || proof_v == nullptr ||
      !proof_v->is_array() || !leaf_index.has_value() || !tree_size.has_value() ||
      *leaf_index < 0 || *tree_size < 0) {
    return EmitError("malformed_proof",
                     "needs checkpoint, entry_hash, proof[], leaf_index and tree_size");
  }
  std::vector<std::string> proof;
  for (const Value& h : proof_v->as_array()) {
    auto raw = h.is_string() ? vv::Base64DecodeStrict(h.as_string()) : std::nullopt;
    if (!raw.has_value() || raw->size() != 32) {
      return EmitError("malformed_proof", "proof hashes must be base64 of 32 bytes");
    }
    proof.push_back(std::move(*raw));
  }
  auto note = vv::audit::ParseSignedNote(*checkpoint);
  if (!note.ok()) return EmitError("malformed_proof", "checkpoint: " + note.status().message());
  auto cp = vv::audit::ParseCheckpointBody(note->body);
  if (!cp.ok()) return EmitError("malformed_proof", "checkpoint: " + cp.status().message());
  if (cp->tree_size != static_cast<uint64_t>(*tree_size)) {
    return EmitError("inclusion_proof_invalid", "tree_size differs from the checkpoint's size");
  }
  // Signature.
  std::string signature_key;
  if (!note->signatures.empty() || key->has_value()) {
    std::optional<vv::crypto::Ed25519PublicKey> k = *key;
    if (!k.has_value()) {
      auto embedded = vv::crypto::Ed25519PublicKey::FromBase64(public_key ? *public_key : "");
      if (!embedded.ok()) {
        return EmitError("seal_signature_invalid", "signed checkpoint without a public_key");
      }
      k = std::move(embedded).value();
    }
    vv::Status s = vv::audit::VerifyNoteSignature(*note, cp->origin, *k);
    if (!s.ok()) return EmitError("seal_signature_invalid", s.message());
    signature_key = key->has_value() ? "pinned" : "embedded";
  }
  // The record, when present, must hash to entry_hash.
  if (const Value* rec = p.Find("record"); rec != nullptr) {
    if (!rec->is_object() || rec->Find("entry_hash") == nullptr) {
      return EmitError("malformed_proof", "record is not an audit record");
    }
    Value copy = *rec;
    copy.Erase("entry_hash");
    const std::string recomputed = vv::crypto::Sha256Hex(vv::json::Canonical(copy));
    const Value* rec_hash = rec->Find("entry_hash");
    const Value* rec_index = rec->Find("index");
    if (!rec_hash->is_string() || rec_hash->as_string() != *entry_hash ||
        recomputed != *entry_hash) {
      return EmitError("entry_hash_mismatch", "the record does not hash to entry_hash");
    }
    if (rec_index == nullptr || !rec_index->is_int() ||
        rec_index->as_int64() != std::optional<int64_t>(*leaf_index + 1)) {
      return EmitError("inclusion_proof_invalid", "record index is not leaf_index + 1");
    }
  }
  const std::string leaf = vv::crypto::merkle::EntryLeafHash(*entry_hash);
  if (leaf.empty()) return EmitError("malformed_proof", "entry_hash is not 64 hex characters");
  vv::Status s = vv::crypto::merkle::VerifyInclusion(static_cast<uint64_t>(*leaf_index),
                                                    cp->tree_size, leaf, proof, cp->root_hash);
  if (!s.ok()) return EmitError("inclusion_proof_invalid", s.message());
  Value out = Value::MakeObject();
  out.Set("ok", true);
  out.Set("leaf_index", *leaf_index);
  out.Set("tree_size", *tree_size);
  out.Set("entry_hash", *entry_hash);
  out.Set("origin", cp->origin);
  if (signature_key.empty()) {
    out.Set("unsigned_seals", true);
    std::cerr << "vv-audit: warning: the checkpoint is not signed\n";
  } else {
    out.Set("signature_key", signature_key);
  }
  return Emit(out, true);
}

struct Pkcs11Args {
  std::string module = vv::pkcs11::kDefaultModule;
  std::string token;
  std::string key_label;
  std::string pin_file;
  std::string pin_env = vv::pkcs11::kAuditSealPinEnv;
};

vv::Result<std::unique_ptr<vv::pkcs11::Token>> OpenToken(const Pkcs11Args& a) {
  auto pin = vv::pkcs11::ResolvePin(a.pin_file, a.pin_env, vv::ProcessEnv(), "PKCS#11 token");
  if (!pin.ok()) return pin.status();
  vv::pkcs11::TokenOptions o;
  o.module_path = a.module;
  o.token_label = a.token;
  o.pin = std::move(pin).value();
  auto t = vv::pkcs11::Token::Open(o);
  vv::crypto::Wipe(&o.pin);
  return t;
}

int EmitPublicKey(const vv::crypto::Ed25519PublicKey& pub, const std::string& origin,
                  const std::string& source) {
  std::cout << vv::crypto::PublicKeyToPem(pub);
  Value out = Value::MakeObject();
  out.Set("public_key", pub.ToBase64());
  out.Set("key_name", origin);
  out.Set("key_id", vv::HexEncode(vv::audit::NoteKeyId(origin, pub)));
  out.Set("verifier_key", vv::audit::NoteVerifierKey(origin, pub));
  out.Set("source", source);
  return Emit(out, true);
}

bool CheckOrigin(const std::string& origin) {
  if (vv::audit::IsValidKeyName(origin)) return true;
  std::cerr << "vv-audit: --origin must be non-empty without spaces or '+'\n";
  return false;
}

int RunPublicKey(const std::string& key_path, const Pkcs11Args& p11, const std::string& origin) {
  if (!CheckOrigin(origin)) return 2;
  if (key_path.empty() == p11.token.empty()) {
    std::cerr << "vv-audit: give either --key FILE or --pkcs11-token LABEL\n";
    return 2;
  }
  if (!key_path.empty()) {
    auto key = vv::audit::LoadSealKey(key_path);
    if (!key.ok()) return EmitError("key_error", key.status().message());
    return EmitPublicKey(key->PublicKey(), origin, "key-file");
  }
  if (p11.key_label.empty()) {
    std::cerr << "vv-audit: --pkcs11-key-label is required with --pkcs11-token\n";
    return 2;
  }
  auto token = OpenToken(p11);
  if (!token.ok()) return EmitError("pkcs11_error", token.status().message());
  // Open the signer (not only the public key): it proves the pair signs and verifies.
  auto signer = vv::audit::Pkcs11SealSigner::Open(origin, std::move(token).value(), p11.key_label);
  if (!signer.ok()) return EmitError("key_error", signer.status().message());
  return EmitPublicKey((*signer)->public_key(), origin, "pkcs11");
}

int RunPkcs11Keygen(const Pkcs11Args& p11, const std::string& origin) {
  if (!CheckOrigin(origin)) return 2;
  auto token = OpenToken(p11);
  if (!token.ok()) return EmitError("pkcs11_error", token.status().message());
  auto pub = vv::audit::Pkcs11SealSigner::GenerateKeyPair(**token, p11.key_label);
  if (!pub.ok()) return EmitError("key_error", pub.status().message());
  return EmitPublicKey(*pub, origin, "pkcs11");
}

// ---- vv-audit report (issue 16) ----------------------------------------------------------

struct ReportArgs {
  std::string log_path, html_path, anchor_path, public_key;
  bool no_anchor = false;
};

int RunReport(ReportArgs a) {
  auto key = ParseKeyOption(a.public_key);
  if (!key.has_value()) return 2;
  std::string text;
  {
    std::ifstream in(a.log_path, std::ios::binary);
    if (!in) return EmitError("io_error", "cannot read " + a.log_path);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  vv::audit::VerifyOptions opts;
  opts.public_key = *key;
  vv::audit::VerifyResult r;
  if (a.anchor_path.empty() && !a.no_anchor) a.anchor_path = FindAnchor(a.log_path).value_or("");
  if (!a.anchor_path.empty()) {
    auto file = LoadAnchors(a.log_path, a.anchor_path, JetStreamArgs{});
    if (!file.ok()) {
      r.ok = false;
      r.reason = std::string(vv::audit::kReasonIoError);
      r.detail = "anchor " + a.anchor_path + ": " + file.status().message();
    } else {
      r = vv::audit::CheckAnchors(file->records, opts.public_key);
      if (r.ok) opts.anchors = std::move(file->records);
      else r.detail = "anchor " + a.anchor_path + ": " + r.detail;
    }
  }
  if (r.ok) r = vv::audit::VerifyLogText(text, std::move(opts));
  vv::audit::ReportContext ctx;
  ctx.log_path = a.log_path;
  ctx.generated_at = vv::IsoFormatUtc(vv::SystemClock().NowMicros());
  const vv::audit::ReportData data = vv::audit::CollectReport(text);
  const std::string html = vv::audit::RenderReportHtml(data, r, ctx);
  {
    std::ofstream out(a.html_path, std::ios::binary | std::ios::trunc);
    out << html;
    out.flush();
    if (!out) return EmitError("io_error", "cannot write " + a.html_path);
  }
  Value v = Value::MakeObject();
  v.Set("ok", r.ok);
  v.Set("html", a.html_path);
  v.Set("records", data.lines);
  v.Set("accepted", data.decisions.accepted);
  v.Set("rejected", data.decisions.rejected);
  if (!r.ok) v.Set("reason", r.reason);
  return Emit(v, r.ok);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vv-audit: tamper-evident audit log tools"};
  vv::cli::Setup(app, {"vv-audit",
                       "  vv-audit verify /var/lib/vectorvue/audit.jsonl --public-key seal.pub\n"
                       "  vv-audit verify audit.jsonl --anchor nats://127.0.0.1:4222\n"
                       "  vv-audit prove audit.jsonl --index 42 > proof.json\n"
                       "  vv-audit check-proof proof.json --public-key <B64>",
                       "  3: the log, anchor or proof does not verify (reason in the JSON).\n"
                       "  1: it could not be checked (I/O, key or token error)."});
  bool json_flag = false;
  app.add_flag("--json", json_flag, "JSON output (always on for this tool)");
  app.require_subcommand(1);

  std::vector<std::string> verify_paths;
  std::string anchor_path, public_key;
  bool no_anchor = false, chain_flag = false;
  CLI::App* verify = app.add_subcommand("verify", "Verify an audit log or a chain of segments");
  verify->add_option("LOG", verify_paths,
                     "The audit log (JSONL); or a directory / several files: a chain of "
                     "rotated segments")
      ->required();
  verify->add_flag("--chain", chain_flag, "Verify LOG with its rotated LOG.NNNNNN segments");
  verify->add_option("--anchor", anchor_path,
                     "Anchor file (default: LOG.anchor when present), or nats://HOST:PORT for "
                     "the JetStream anchor stream");
  JetStreamArgs js_args;
  verify->add_option("--anchor-subject", js_args.subject,
                     "JetStream anchor subject (default: vectorvue.audit.anchor.<origin>)");
  verify->add_option("--anchor-stream", js_args.stream, "JetStream anchor stream name");
  verify->add_option("--origin", js_args.origin,
                     "Checkpoint origin naming the anchor subject (default: the log's)");
  verify->add_flag("--no-anchor", no_anchor, "Do not use the anchor beside the log");
  verify->add_option("--public-key", public_key,
                     "Pinned seal public key: base64, verifier key, or a file");

  std::string rotate_admin = "127.0.0.1:9464", rotate_token_file;
  CLI::App* rotate = app.add_subcommand(
      "rotate", "Rotate the running gateway's audit log (seal, anchor, new linked segment)");
  rotate->add_option("--admin", rotate_admin, "Admin listener HOST:PORT (loopback)");
  rotate->add_option("--token-file", rotate_token_file,
                     "Admin token file (0600; default: VV_TG_ADMIN_TOKEN)");

  std::string prove_path;
  int64_t prove_index = 0;
  CLI::App* prove = app.add_subcommand("prove", "Print an inclusion proof for one entry");
  prove->add_option("LOG", prove_path, "Path to the audit log")->required();
  prove->add_option("--index", prove_index, "1-based index of the entry")->required();

  std::string proof_path, proof_key;
  CLI::App* check = app.add_subcommand("check-proof", "Verify an inclusion proof offline");
  check->add_option("PROOF", proof_path, "Proof JSON file (output of prove)")->required();
  check->add_option("--public-key", proof_key, "Pinned seal public key");

  std::string key_path, origin = std::string(vv::audit::kDefaultCheckpointOrigin);
  Pkcs11Args p11;
  auto add_pkcs11 = [&](CLI::App* cmd, bool required) {
    auto* t = cmd->add_option("--pkcs11-token", p11.token, "PKCS#11 token label");
    auto* k = cmd->add_option("--pkcs11-key-label", p11.key_label, "Seal key pair label");
    if (required) {
      t->required();
      k->required();
    }
    cmd->add_option("--pkcs11-module", p11.module, "PKCS#11 module (default SoftHSM2)");
    cmd->add_option("--pin-file", p11.pin_file, "User PIN file (mode 0400/0600)");
    cmd->add_option("--pin-env", p11.pin_env, "Variable holding the user PIN");
    cmd->add_option("--origin", origin, "Checkpoint origin (the signature key name)");
  };
  CLI::App* pubkey = app.add_subcommand("public-key", "Print the seal key's public key");
  pubkey->add_option("--key", key_path, "Seal key file (PEM or raw 32-byte seed)");
  add_pkcs11(pubkey, false);
  CLI::App* keygen =
      app.add_subcommand("pkcs11-keygen", "Create the seal key pair inside a PKCS#11 token");
  add_pkcs11(keygen, true);

  ReportArgs report_args;  // vv-audit report (issue 16)
  CLI::App* report = app.add_subcommand("report", "Write a self-contained HTML report of a log");
  report->add_option("LOG", report_args.log_path, "Path to the audit log (JSONL)")->required();
  report->add_option("--html", report_args.html_path, "Output HTML file")->required();
  report->add_option("--anchor", report_args.anchor_path, "Anchor file (default: LOG.anchor)");
  report->add_flag("--no-anchor", report_args.no_anchor, "Do not use the anchor beside the log");
  report->add_option("--public-key", report_args.public_key, "Pinned seal public key");

  if (int rc = vv::cli::Parse(app, argc, argv); rc >= 0) return rc;
  try {
    if (verify->parsed()) {
      std::string live, error;
      const std::vector<std::string> chain = ChainFiles(verify_paths, chain_flag, &live, &error);
      if (!error.empty()) {
        std::cerr << "vv-audit: " << error << "\n";
        return 2;
      }
      return RunVerify(live, anchor_path, no_anchor, public_key, js_args, chain);
    }
    if (rotate->parsed()) return RunRotate(rotate_admin, rotate_token_file);
    if (prove->parsed()) return RunProve(prove_path, prove_index);
    if (check->parsed()) return RunCheckProof(proof_path, proof_key);
    if (pubkey->parsed()) return RunPublicKey(key_path, p11, origin);
    if (keygen->parsed()) return RunPkcs11Keygen(p11, origin);
    if (report->parsed()) return RunReport(report_args);
  } catch (const std::exception& e) {
    std::cerr << "vv-audit: internal error: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
