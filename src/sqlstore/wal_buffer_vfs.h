#pragma once
// A SQLite VFS that gathers a connection's write-ahead-log appends into one write.
//
// SQLite writes each WAL frame as two pwrite(2) calls (its 24-byte header, then the page), so a
// commit that touches 12 pages costs 24 system calls before its fsync; on this project's
// virtual machines a system call is the expensive part (issue 15: the embedded queue's writer
// made 3.7 pwrites per accepted request, 75 % of them WAL frames). This VFS layers over another
// one (SQLite's default unless told) and changes one thing: appends to a "-wal" file that follow
// each other are kept in memory and written with one call. What SQLite relies on is kept:
//
// - A commit is on disk before anyone can see it. The frame that ends a commit (its header
//   carries the database size, nonzero only in commit frames: the WAL format, sqlite.org
//   fileformat2 section 4.1) is written through at once, with everything gathered before it,
//   and a failure is that write's failure: the commit fails as it would without the buffer.
//   xSync, xRead, xTruncate, xFileSize, xFileControl and xClose of the WAL write through first.
// - Nothing gathered outlives the connection's WAL write lock: frames of a transaction that
//   rolled back (they lie past the last commit, where SQLite leaves them too) are written when
//   the connection unlocks a shared-memory lock or crosses a memory barrier on its database
//   file, and dropped if that write fails - so they can never land later on frames another
//   connection has written since.
// - Appends only: a write that does not continue the gathered bytes writes them through first.
// - Bounded: at most 124 KiB is gathered before it is written (the most SQLite's unix VFS
//   writes with one call).
// Files other than a WAL, and a WAL whose database file this VFS did not open, pass straight
// through.
//
// The first call also sets SQLite up for the process, before SQLite's first use: memory
// statistics off (SQLITE_CONFIG_MEMSTATUS 0: their one global mutex is otherwise taken by every
// sqlite3_malloc and sqlite3_free of every connection - in the engine, whose fetch and store
// threads both run SQLite, lock, unlock and futex wake-ups on it were ~10 % of the CPU), then
// sqlite3_initialize. sqlite3_memory_used and sqlite3_status report nothing after that; nothing
// here uses them. Should SQLite already be running, the setting is left as it is.
//
// Registration is process-wide (sqlite3_vfs_register is SQLite's own global list): each base VFS
// gets one layered VFS, registered on first use and never unregistered (a VFS must outlive every
// connection that uses it). Thread-safety: any thread may call WalBufferVfsName; the files of one
// connection are used under that connection's own serialization, as SQLite guarantees.

#include <string_view>

#include "common/status.h"

namespace vv::sqlstore {

// The name to pass to sqlite3_open_v2 for the WAL-buffering VFS over `base_vfs` (empty: SQLite's
// default VFS), registering it on first use. Unavailable when `base_vfs` is not registered.
Result<const char*> WalBufferVfsName(std::string_view base_vfs = {});

}  // namespace vv::sqlstore
