#pragma once
// Checkpoints a WAL-mode SQLite file on a thread of its own.
//
// SQLite's automatic checkpoint runs inside the COMMIT that takes the log past
// wal_autocheckpoint pages (1000): that commit's thread copies every page of the log into the
// database file and fsyncs it before the COMMIT returns. On the embedded queue's writer that is
// a stall of every request waiting for the next group commit (and 8 % of the gateway's CPU on
// the batch path, in line with the requests it holds up); in the engine it serialises the copy
// with the store it could overlap. A WalCheckpointer takes the checkpoints of the connections
// attached to it: their commits only signal it (sqlite3_wal_hook, which replaces the automatic
// checkpoint on that connection) once `threshold_frames` frames were added since the last
// checkpoint, and
// its thread runs PASSIVE checkpoints on a connection of its own - they copy what no reader
// still needs and never block a writer or a reader.
//
// The log must still restart: SQLite rewinds it at the first write transaction after a
// checkpoint that copied every frame. A thread that checkpoints while writers keep committing
// may rarely find a moment with nothing left, so the log is bounded by the connections
// themselves: a commit that leaves `inline_frames` frames or more in the log runs a PASSIVE
// checkpoint on its own connection (what the automatic checkpoint did; by then the thread has
// copied most of it, so it is short).
//
// What is kept: durability (every commit is synced in the log as before; the checkpointer's
// connection runs with synchronous=FULL, so the database file is synced before the log can be
// rewound) and correctness of readers (a checkpoint never copies a frame past what a reader
// uses). Errors of the thread's checkpoints are counted (errors()); they lose nothing - the
// frames stay in the log, and the next checkpoint (or a commit's, at `inline_frames`) copies
// them.
//
// Thread-safety: Attach is called before the connection's first commit; the hook runs on the committing thread; everything else is
// internally synchronised.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "common/mutex.h"
#include "common/status.h"

struct sqlite3;

namespace vv::sqlstore {

class WalCheckpointer {
 public:
  struct Options {
    int threshold_frames = 1000;  // this many new frames since the last checkpoint wake the thread
    int inline_frames = 8000;     // ... this many: the committing connection checkpoints
    bool start_thread = true;     // false: tests of the inline bound only
  };

  // Opens its own connection to the existing WAL-mode database `path` and starts the thread.
  static Result<std::unique_ptr<WalCheckpointer>> Start(const std::string& path, Options options);
  static Result<std::unique_ptr<WalCheckpointer>> Start(const std::string& path) {
    return Start(path, Options());
  }
  // Stops the thread and closes its connection. REQUIRES: every attached connection detached
  // (or closed).
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Hands the checkpoints of `db` (a connection to the same file, closed before this is
  // destroyed) to this checkpointer.
  void Attach(sqlite3* db);

  // Checkpoints the thread ran (each a PASSIVE sqlite3_wal_checkpoint_v2), and how many of them
  // copied every frame of the log (the next commit rewinds it).
  uint64_t checkpoints() const { return checkpoints_.load(); }
  uint64_t complete_checkpoints() const { return complete_.load(); }
  uint64_t inline_checkpoints() const { return inline_.load(); }
  uint64_t errors() const { return errors_.load(); }

 private:
  WalCheckpointer(sqlite3* db, Options options);
  static int Hook(void* self, sqlite3* db, const char* schema, int frames);
  void Kick();
  void Loop();

  sqlite3* const db_;  // the thread's own connection
  const Options options_;
  std::atomic<bool> kicked_{false};
  // The log's length (frames) when the last checkpoint ran; a log shorter than it has rewound.
  std::atomic<int> checked_{0};
  std::atomic<uint64_t> checkpoints_{0};
  std::atomic<uint64_t> complete_{0};
  std::atomic<uint64_t> inline_{0};
  std::atomic<uint64_t> errors_{0};
  Mutex mu_;
  CondVar cv_;
  bool wake_ VV_GUARDED_BY(mu_) = false;
  bool stop_ VV_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started once everything above is initialised
};

}  // namespace vv::sqlstore
