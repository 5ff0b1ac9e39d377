#pragma once
// Owner-only data files (issue 12). queue.db, evidence.db, the graph store and the producer's
// spool hold tenant telemetry; SQLite creates a missing database with 0644 (less the umask),
// readable by every local user. EnsurePrivateFile creates the file 0600 before SQLite opens it
// (SQLite then gives its -wal/-shm/-journal files the database file's mode) and tightens an
// existing file, and its existing -wal/-shm, to 0600 when group/other bits are set.
// Thread-safety: stateless; races with another process creating the same file are benign
// (O_EXCL: whoever wins creates it 0600).

#include <string>

#include "common/status.h"

namespace vv {

// For SQLite databases: `path` plus its "-wal", "-shm" and "-journal" siblings when present.
// ":memory:" and "" are left alone. Unavailable naming the path on failure.
Status EnsurePrivateFile(const std::string& path);

}  // namespace vv
