#include "fakes/postgres_server.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "fakes/servers.h"

namespace vv::testing {

namespace {

std::optional<std::string> FindPostgresBinDir() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("VV_POSTGRES_BIN_DIR")) candidates.push_back(env);
  candidates.push_back("/usr/lib/postgresql/15/bin");
  for (const auto& d : candidates) {
    if (access((d + "/initdb").c_str(), X_OK) == 0 && access((d + "/postgres").c_str(), X_OK) == 0)
      return d;
  }
  return std::nullopt;
}

bool RunningAsRoot() { return geteuid() == 0; }

}  // namespace

PostgresServer::PostgresServer() : bin_dir_(FindPostgresBinDir()) {
  if (RunningAsRoot()) {
    if (passwd* pw = getpwnam("postgres")) {
      chown(dir_.path().c_str(), pw->pw_uid, pw->pw_gid);
    }
  }
}

PostgresServer::~PostgresServer() { Stop(); }

std::vector<std::string> PostgresServer::AsPostgres(std::vector<std::string> argv) const {
  if (!RunningAsRoot()) return argv;
  std::vector<std::string> wrapped = {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres",
                                      "--init-groups", "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

std::string PostgresServer::Url(const std::string& user, const std::string& db) const {
  return "postgresql://" + user + "@127.0.0.1:" + std::to_string(port_) + "/" + db +
         "?connect_timeout=5";
}

bool PostgresServer::Answers() const {
  std::string out;
  return RunCommand({*bin_dir_ + "/pg_isready", "-q", "-h", "127.0.0.1", "-p",
                     std::to_string(port_), "-U", "vv_admin"},
                    &out) == 0;
}

Status PostgresServer::Start() {
  if (process_) return Status::Ok();
  if (!bin_dir_) return Status::NotFound("postgres binaries not found");
  const std::string data = dir_.File("data");
  if (!initialized_) {
    std::string out;
    int rc = RunCommand(AsPostgres({*bin_dir_ + "/initdb", "-D", data, "-U", "vv_admin",
                                    "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"}),
                        &out);
    if (rc != 0) return Status::Unavailable("initdb failed: " + out);
    initialized_ = true;
  }
  if (port_ == 0) port_ = FreeLoopbackPort();
  if (port_ == 0) return Status::Unavailable("no free loopback port");
  process_ = std::make_unique<ChildProcess>(
      AsPostgres({*bin_dir_ + "/postgres", "-D", data, "-p", std::to_string(port_), "-h",
                  "127.0.0.1", "-k", dir_.path().string(), "-F", "-c", "max_connections=40"}),
      dir_.File("postgres.log"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Answers()) return Status::Ok();
    if (process_->WaitExit(std::chrono::milliseconds(1))) {
      std::string log = process_->Log();
      process_.reset();
      return Status::Unavailable("postgres exited during start-up: " + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string log = process_->Log();
  Stop();
  return Status::Unavailable("postgres did not answer within 30 s: " + log);
}

void PostgresServer::Stop() {
  if (!process_) return;
  process_->Terminate(2 /*SIGINT: fast shutdown*/, std::chrono::seconds(10));
  process_.reset();
}

void PostgresServer::Crash() {
  if (!process_) return;
  process_->Terminate(3 /*SIGQUIT: immediate shutdown*/, std::chrono::seconds(10));
  process_.reset();
}

Status PostgresServer::StartStandbyOf(const PostgresServer& primary) {
  if (process_ || initialized_) return Status::Internal("server already initialised");
  if (!bin_dir_) return Status::NotFound("postgres binaries not found");
  std::string out;
  int rc = RunCommand(AsPostgres({*bin_dir_ + "/pg_basebackup", "-h", "127.0.0.1", "-p",
                                  std::to_string(primary.port()), "-U", "vv_admin", "-D",
                                  dir_.File("data"), "-R", "-X", "stream", "--no-sync",
                                  "--checkpoint=fast"}),
                      &out);
  if (rc != 0) return Status::Unavailable("pg_basebackup failed: " + out);
  initialized_ = true;
  return Start();
}

Status PostgresServer::Promote() { return Psql("SELECT pg_promote(true, 30)"); }

std::string PostgresServer::Log() const { return process_ ? process_->Log() : std::string(); }

Status PostgresServer::Psql(const std::string& sql, std::string* out) const {
  std::string buf;
  int rc = RunCommand(
      {*bin_dir_ + "/psql", "-v", "ON_ERROR_STOP=1", "-X", "-q", "-At", "-h", "127.0.0.1", "-p",
       std::to_string(port_), "-U", "vv_admin", "-d", "postgres", "-c", sql},
      &buf);
  if (out) *out = buf;
  if (rc != 0) return Status::Internal("psql failed: " + buf);
  return Status::Ok();
}

}  // namespace vv::testing
