#pragma once
// PostgresServer: a throwaway PostgreSQL 15 server for tests. Start() runs initdb (bootstrap
// superuser "vv_admin", trust authentication on loopback only) in a private TempDir and starts
// `postgres` on a free loopback port with fsync off; the destructor stops it (fast shutdown,
// then SIGKILL) and removes the directory. PostgreSQL refuses to run as root, so when the
// test runs as root the data directory is handed to the 'postgres' user and the binaries run
// under `setpriv --reuid postgres` (which execs, so the child pid is the postmaster).
//
// Missing binaries (/usr/lib/postgresql/15/bin or $VV_POSTGRES_BIN_DIR): use
// VV_REQUIRE_SERVER(server) (fakes/servers.h), which FAILS the test unless
// VV_ALLOW_MISSING_SERVERS=1.
//
// Thread-safety: none (used from the test thread). Ownership: owns the child and the dir.

#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "fakes/process.h"
#include "fakes/temp_dir.h"

namespace vv::testing {

class PostgresServer {
 public:
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // initdb (first call) + start, waits until pg_isready answers (up to 30 s).
  Status Start();
  void Stop();
  // Immediate shutdown (SIGQUIT: no shutdown checkpoint, WAL not flushed to standbys), as a
  // crash; the data dir is kept.
  void Crash();
  // Streaming replication (cluster-ready clients, issue 14): instead of Start(), makes this
  // server a hot standby of the running `primary` (pg_basebackup -R -X stream from it, as
  // vv_admin over loopback, which initdb's pg_hba trusts for replication) and starts it on a
  // free port of its own. Read-only until Promote().
  Status StartStandbyOf(const PostgresServer& primary);
  // Promotes a standby to primary (SELECT pg_promote(), which waits until it is done).
  Status Promote();
  bool binary_found() const { return bin_dir_.has_value(); }
  const std::string& name() const { return name_; }
  std::string Log() const;
  int port() const { return port_; }
  // libpq URL for `user` (no password: trust auth) on database `db`.
  std::string Url(const std::string& user, const std::string& db = "postgres") const;
  std::string admin_url() const { return Url("vv_admin"); }
  // Runs SQL through psql as the bootstrap superuser; output in *out (-At: unaligned rows).
  Status Psql(const std::string& sql, std::string* out = nullptr) const;

 private:
  std::vector<std::string> AsPostgres(std::vector<std::string> argv) const;
  bool Answers() const;

  std::string name_ = "postgres";
  std::optional<std::string> bin_dir_;
  TempDir dir_;
  int port_ = 0;
  bool initialized_ = false;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace vv::testing
