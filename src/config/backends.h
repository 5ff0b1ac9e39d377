#pragma once
// The backends a deployment chooses once at start-up, as types (issue 13): the config tables
// parse the names below into these enums, so no component compares backend strings and a
// misspelt name can only fail the load. Name() gives the canonical spelling for logs, the
// effective-config line and metric labels (a fixed set: never a configured string).

#include <array>
#include <string_view>
#include <utility>

namespace vv::config {

// The nonce store and the rate limiter: in-process, or shared by every replica through Redis.
enum class StateBackend { kMemory, kRedis };
// The durable queue between gateway and engine.
enum class QueueBackend { kEmbedded, kNats };
// The evidence store and the execution-graph store.
enum class StoreBackend { kSqlite, kPostgres };

// Each enum's accepted names: the canonical one first (the one Name() prints), then aliases.
template <class E>
struct BackendNames;
template <>
struct BackendNames<StateBackend> {
  static constexpr std::array<std::pair<std::string_view, StateBackend>, 2> kNames{
      {{"memory", StateBackend::kMemory}, {"redis", StateBackend::kRedis}}};
};
template <>
struct BackendNames<QueueBackend> {
  static constexpr std::array<std::pair<std::string_view, QueueBackend>, 3> kNames{
      {{"embedded", QueueBackend::kEmbedded},
       {"nats", QueueBackend::kNats},
       {"memory", QueueBackend::kEmbedded}}};
};
template <>
struct BackendNames<StoreBackend> {
  static constexpr std::array<std::pair<std::string_view, StoreBackend>, 4> kNames{
      {{"sqlite", StoreBackend::kSqlite},
       {"postgres", StoreBackend::kPostgres},
       {"sqlite3", StoreBackend::kSqlite},
       {"postgresql", StoreBackend::kPostgres}}};
};

// The canonical name, or "" for a value outside the enum (a hand-built struct).
template <class E>
constexpr std::string_view Name(E value) {
  for (const auto& [name, v] : BackendNames<E>::kNames)
    if (v == value) return name;
  return {};
}

}  // namespace vv::config
