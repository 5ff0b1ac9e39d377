#include "common/logging.h"

#include <spdlog/pattern_formatter.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "common/text.h"

namespace vv::logging {

namespace {

// The fields of the record being logged on this thread (set by LogWithFields only for the
// duration of its spdlog call; the default logger's sinks format synchronously).
thread_local const Fields* tls_fields = nullptr;

constexpr char kHex[] = "0123456789abcdef";


void AppendUtc(std::chrono::system_clock::time_point t, std::string* out) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];  // room for any int the compiler cannot bound (-Wformat-truncation)
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  *out += buf;
}

std::string_view LevelName(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

class Formatter final : public spdlog::formatter {
 public:
  Formatter(std::string component, Format format)
      : component_(std::move(component)), format_(format) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line;
    line.reserve(128 + msg.payload.size());
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    const Fields* f = tls_fields;
    if (format_ == Format::kJson) {
      line += "{\"ts\":\"";
      AppendUtc(msg.time, &line);
      line += "\",\"level\":\"";
      line += LevelName(msg.level);
      line += "\",\"component\":\"";
      AppendJsonEscaped(component_, &line);
      line += "\",\"msg\":\"";
      AppendJsonEscaped(payload, &line, kMaxMessageBytes);
      line += '"';
      auto field = [&](std::string_view key, std::string_view v) {
        if (v.empty()) return;
        line += ",\"";
        line += key;
        line += "\":\"";
        AppendJsonEscaped(v, &line);
        line += '"';
      };
      if (f != nullptr) {
        field("request_id", f->request_id);
        field("identity", f->identity);
        field("reason", f->reason);
      }
      line += "}\n";
    } else {
      AppendUtc(msg.time, &line);
      line += ' ';
      line += LevelName(msg.level);
      line += ' ';
      AppendTextEscaped(component_, &line);
      line += ' ';
      AppendTextEscaped(payload, &line, kMaxMessageBytes);
      auto field = [&](std::string_view key, std::string_view v) {
        if (v.empty()) return;
        line += ' ';
        line += key;
        line += "=\"";
        AppendTextEscaped(v, &line);
        line += '"';
      };
      if (f != nullptr) {
        field("request_id", f->request_id);
        field("identity", f->identity);
        field("reason", f->reason);
      }
      line += '\n';
    }
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<Formatter>(component_, format_);
  }

 private:
  std::string component_;
  Format format_;
};

}  // namespace

Result<spdlog::level::level_enum> ParseLevel(std::string_view s) {
  if (s == "trace") return spdlog::level::trace;
  if (s == "debug") return spdlog::level::debug;
  if (s == "info") return spdlog::level::info;
  if (s == "warn" || s == "warning") return spdlog::level::warn;
  if (s == "error") return spdlog::level::err;
  if (s == "critical") return spdlog::level::critical;
  if (s == "off") return spdlog::level::off;
  std::string shown;
  AppendTextEscaped(s, &shown, 64);
  return Status::InvalidArgument("invalid log level \"" + shown + "\" (valid: " +
                                 std::string(kValidLevels) + ")");
}

Result<Format> ParseFormat(std::string_view s) {
  if (s == "text") return Format::kText;
  if (s == "json") return Format::kJson;
  std::string shown;
  AppendTextEscaped(s, &shown, 64);
  return Status::InvalidArgument("invalid log format \"" + shown + "\" (valid: " +
                                 std::string(kValidFormats) + ")");
}

std::string_view FormatName(Format f) { return f == Format::kJson ? "json" : "text"; }

void AppendJsonEscaped(std::string_view s, std::string* out, size_t max_bytes) {
  bool cut = text::ForEachCodePoint(s, max_bytes, [&](uint32_t cp, std::string_view bytes,
                                                      bool valid) {
    if (!valid) {
      *out += "\\ufffd";
      return;
    }
    if (cp == '"') *out += "\\\"";
    else if (cp == '\\') *out += "\\\\";
    else if (cp == '\n') *out += "\\n";
    else if (cp == '\r') *out += "\\r";
    else if (cp == '\t') *out += "\\t";
    else if (cp < 0x20 || cp == 0x7f) {
      *out += "\\u00";
      *out += kHex[(cp >> 4) & 0xf];
      *out += kHex[cp & 0xf];
    } else {
      out->append(bytes);
    }
  });
  if (cut) *out += "...";
}

void AppendTextEscaped(std::string_view s, std::string* out, size_t max_bytes) {
  bool cut = text::ForEachCodePoint(s, max_bytes, [&](uint32_t cp, std::string_view bytes,
                                                      bool valid) {
    if (!valid || cp < 0x20 || cp == 0x7f) {
      *out += "\\x";
      *out += kHex[(static_cast<unsigned char>(bytes[0]) >> 4) & 0xf];
      *out += kHex[static_cast<unsigned char>(bytes[0]) & 0xf];
      return;
    }
    if (cp == '"' || cp == '\\') *out += '\\';
    out->append(bytes);
  });
  if (cut) *out += "...";
}

std::unique_ptr<spdlog::formatter> MakeFormatter(std::string_view component, Format format) {
  return std::make_unique<Formatter>(std::string(component), format);
}

void Setup(std::string_view component, Format format, spdlog::level::level_enum level) {
  spdlog::set_formatter(MakeFormatter(component, format));
  spdlog::set_level(level);
}

void LogWithFields(spdlog::level::level_enum level, std::string_view msg, const Fields& fields) {
  const Fields* prev = tls_fields;
  tls_fields = &fields;
  spdlog::log(level, "{}", msg);
  tls_fields = prev;
}

bool BackendStateLog::Observe(std::string_view backend, const Status& status) {
  const State next = status.ok() ? State::kUp : State::kDown;
  // The line is written under the lock so concurrent observers log transitions in the order
  // the state changed (a "down" can never appear after the "up again" that followed it).
  MutexLock l(&mu_);
  auto it = states_.find(backend);
  if (it == states_.end()) it = states_.emplace(std::string(backend), State::kUnknown).first;
  const State prev = it->second;
  if (prev == next) return false;
  it->second = next;
  if (next == State::kDown) {
    spdlog::warn("backend {} down: {}", backend, status.ToString());
  } else if (prev == State::kDown) {
    spdlog::info("backend {} up again", backend);
  } else {
    spdlog::info("backend {} up", backend);
  }
  return true;
}

BackendStateLog& Backends() {
  static BackendStateLog* log = new BackendStateLog();  // never destroyed: used at exit
  return *log;
}

}  // namespace vv::logging
