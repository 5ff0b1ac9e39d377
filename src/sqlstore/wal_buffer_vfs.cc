#include "sqlstore/wal_buffer_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace vv::sqlstore {

namespace {

// SQLite's unix VFS writes at most 128 KiB with one call (os_unix.c seekAndWriteFd masks the
// length with 0x1ffff), so gathered bytes go out in pieces of at most kMaxWrite, and are written
// once that much is gathered (a batch commit of thousands of envelopes is several MiB: tens of
// writes instead of thousands, in bounded memory).
constexpr std::size_t kMaxWrite = 124 * 1024;

// The WAL format (sqlite.org/fileformat2.html, 4.1): a 32-byte file header, then frames of a
// 24-byte header and one page. A frame header's bytes 4-7 (big-endian) are the database size
// in pages after the commit for the frame that ends a commit, zero in every other frame.
constexpr int kFrameHeaderBytes = 24;
// The shared-memory lock slot SQLite's WAL code holds while it writes (wal.c WAL_WRITE_LOCK).
constexpr int kWalWriteLockSlot = 0;

struct Layer;

struct FileState {
  sqlite3_io_methods methods{};  // ours, at the real file's method version
  Layer* layer = nullptr;
  sqlite3_file* real = nullptr;
  const char* key = nullptr;       // a main database: its registered name pointer
  FileState* wal = nullptr;        // a main database: its linked WAL, while open
  FileState* main = nullptr;       // a WAL linked to its database file (then it gathers)
  std::string gathered;            // bytes not yet written, from file offset gathered_at
  sqlite3_int64 gathered_at = 0;
  bool commit_header = false;      // the last write was the header of a commit frame
};

// What SQLite allocates (szOsFile bytes) for each open file: this head, then the base VFS's
// own file object. Standard layout, so a sqlite3_file* is a File*.
struct File {
  sqlite3_file base;
  FileState* state;
};

constexpr std::size_t kRealOffset = (sizeof(File) + 15) & ~std::size_t{15};

struct Layer {
  sqlite3_vfs vfs{};
  sqlite3_vfs* base = nullptr;
  std::string name;
  std::mutex mu;
  std::unordered_map<const char*, FileState*> mains;  // open main databases by name pointer
};

FileState* StateOf(sqlite3_file* f) { return reinterpret_cast<File*>(f)->state; }
sqlite3_vfs* BaseOf(sqlite3_vfs* v) { return static_cast<Layer*>(v->pAppData)->base; }

int WriteGathered(FileState* s) {
  int rc = SQLITE_OK;
  for (std::size_t at = 0; at < s->gathered.size() && rc == SQLITE_OK; at += kMaxWrite) {
    const std::size_t n = std::min(kMaxWrite, s->gathered.size() - at);
    rc = s->real->pMethods->xWrite(s->real, s->gathered.data() + at, static_cast<int>(n),
                                   s->gathered_at + static_cast<sqlite3_int64>(at));
  }
  s->gathered.clear();
  s->commit_header = false;
  return rc;
}

// Writes what `s` has gathered, then - when that succeeded - runs `call` on the real file.
template <class Call>
int AfterGathered(FileState* s, Call call) {
  const int rc = WriteGathered(s);
  return rc != SQLITE_OK ? rc : call(s->real);
}

// ---- sqlite3_io_methods ---------------------------------------------------------------------

int Close(sqlite3_file* f) {
  FileState* s = StateOf(f);
  int rc = WriteGathered(s);
  if (s->main != nullptr) s->main->wal = nullptr;
  if (s->wal != nullptr) {
    // SQLite closes a database's WAL first; should it not, the WAL stops gathering here.
    const int wrc = WriteGathered(s->wal);
    if (rc == SQLITE_OK) rc = wrc;
    s->wal->main = nullptr;
  }
  if (s->key != nullptr) {
    std::lock_guard<std::mutex> lock(s->layer->mu);
    s->layer->mains.erase(s->key);
  }
  const int crc = s->real->pMethods->xClose(s->real);
  delete s;
  reinterpret_cast<File*>(f)->state = nullptr;
  f->pMethods = nullptr;
  return rc != SQLITE_OK ? rc : crc;
}

int Read(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
  return AfterGathered(StateOf(f), [&](sqlite3_file* r) {
    return r->pMethods->xRead(r, out, amount, offset);
  });
}

int Write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  FileState* s = StateOf(f);
  if (s->main == nullptr) return s->real->pMethods->xWrite(s->real, data, amount, offset);
  if (!s->gathered.empty() &&
      offset != s->gathered_at + static_cast<sqlite3_int64>(s->gathered.size())) {
    const int rc = WriteGathered(s);
    if (rc != SQLITE_OK) return rc;
  }
  if (s->gathered.empty()) s->gathered_at = offset;
  const auto* bytes = static_cast<const unsigned char*>(data);
  s->gathered.append(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(amount));
  bool ends_commit = false;
  if (amount == kFrameHeaderBytes) {
    s->commit_header = (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
  } else {
    ends_commit = s->commit_header;
    s->commit_header = false;
  }
  if (ends_commit || s->gathered.size() >= kMaxWrite) return WriteGathered(s);
  return SQLITE_OK;
}

int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  return AfterGathered(StateOf(f),
                       [&](sqlite3_file* r) { return r->pMethods->xTruncate(r, size); });
}

int Sync(sqlite3_file* f, int flags) {
  return AfterGathered(StateOf(f), [&](sqlite3_file* r) { return r->pMethods->xSync(r, flags); });
}

int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  return AfterGathered(StateOf(f),
                       [&](sqlite3_file* r) { return r->pMethods->xFileSize(r, size); });
}

int Lock(sqlite3_file* f, int level) {
  FileState* s = StateOf(f);
  return s->real->pMethods->xLock(s->real, level);
}

int Unlock(sqlite3_file* f, int level) {
  FileState* s = StateOf(f);
  return s->real->pMethods->xUnlock(s->real, level);
}

int CheckReservedLock(sqlite3_file* f, int* out) {
  FileState* s = StateOf(f);
  return s->real->pMethods->xCheckReservedLock(s->real, out);
}

int FileControl(sqlite3_file* f, int op, void* arg) {
  FileState* s = StateOf(f);
  if (op == SQLITE_FCNTL_VFSNAME) {
    // The chain of VFS names, outermost first, as SQLite's own shims report it.
    const int rc = s->real->pMethods->xFileControl(s->real, op, arg);
    auto** out = static_cast<char**>(arg);
    *out = rc == SQLITE_OK && *out != nullptr
               ? sqlite3_mprintf("%s/%z", s->layer->name.c_str(), *out)
               : sqlite3_mprintf("%s", s->layer->name.c_str());
    return SQLITE_OK;
  }
  return AfterGathered(s, [&](sqlite3_file* r) { return r->pMethods->xFileControl(r, op, arg); });
}

int SectorSize(sqlite3_file* f) {
  FileState* s = StateOf(f);
  return s->real->pMethods->xSectorSize(s->real);
}

int DeviceCharacteristics(sqlite3_file* f) {
  FileState* s = StateOf(f);
  return s->real->pMethods->xDeviceCharacteristics(s->real);
}

int ShmMap(sqlite3_file* f, int page, int page_size, int extend, void volatile** out) {
  FileState* s = StateOf(f);
  return s->real->pMethods->xShmMap(s->real, page, page_size, extend, out);
}

int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  FileState* s = StateOf(f);
  if ((flags & SQLITE_SHM_UNLOCK) != 0 && offset <= kWalWriteLockSlot &&
      offset + n > kWalWriteLockSlot && s->wal != nullptr) {
    // The write transaction is over. A commit left nothing gathered (its last frame wrote
    // everything through); what is left belongs to a transaction that rolled back. It lies
    // past the last commit, where SQLite would have written it too - but once the lock is
    // gone another connection may write there, so it goes now or never.
    (void)WriteGathered(s->wal);
  }
  return s->real->pMethods->xShmLock(s->real, offset, n, flags);
}

void ShmBarrier(sqlite3_file* f) {
  FileState* s = StateOf(f);
  s->real->pMethods->xShmBarrier(s->real);
}

int ShmUnmap(sqlite3_file* f, int delete_flag) {
  FileState* s = StateOf(f);
  return s->real->pMethods->xShmUnmap(s->real, delete_flag);
}

int Fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
  return AfterGathered(StateOf(f), [&](sqlite3_file* r) {
    return r->pMethods->xFetch(r, offset, amount, out);
  });
}

int Unfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
  FileState* s = StateOf(f);
  return s->real->pMethods->xUnfetch(s->real, offset, p);
}

sqlite3_io_methods MethodsFor(const sqlite3_io_methods* real) {
  sqlite3_io_methods m{};
  m.iVersion = real->iVersion < 3 ? real->iVersion : 3;
  m.xClose = Close;
  m.xRead = Read;
  m.xWrite = Write;
  m.xTruncate = Truncate;
  m.xSync = Sync;
  m.xFileSize = FileSize;
  m.xLock = Lock;
  m.xUnlock = Unlock;
  m.xCheckReservedLock = CheckReservedLock;
  m.xFileControl = FileControl;
  m.xSectorSize = SectorSize;
  m.xDeviceCharacteristics = DeviceCharacteristics;
  if (m.iVersion >= 2) {
    m.xShmMap = ShmMap;
    m.xShmLock = ShmLock;
    m.xShmBarrier = ShmBarrier;
    m.xShmUnmap = ShmUnmap;
  }
  if (m.iVersion >= 3) {
    m.xFetch = Fetch;
    m.xUnfetch = Unfetch;
  }
  return m;
}

// ---- sqlite3_vfs ----------------------------------------------------------------------------

int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  auto* layer = static_cast<Layer*>(vfs->pAppData);
  auto* head = reinterpret_cast<File*>(f);
  head->base.pMethods = nullptr;
  head->state = nullptr;
  auto* real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kRealOffset);
  const int rc = layer->base->xOpen(layer->base, name, real, flags, out_flags);
  if (rc != SQLITE_OK) {
    // SQLite closes a file whose open failed only if it has methods: the base's are ours to
    // call here, and SQLite sees none.
    if (real->pMethods != nullptr) real->pMethods->xClose(real);
    return rc;
  }
  auto state = std::make_unique<FileState>();
  state->layer = layer;
  state->real = real;
  state->methods = MethodsFor(real->pMethods);
  if (name != nullptr && (flags & SQLITE_OPEN_MAIN_DB) != 0) {
    std::lock_guard<std::mutex> lock(layer->mu);
    state->key = name;
    layer->mains[name] = state.get();
  } else if (name != nullptr && (flags & SQLITE_OPEN_WAL) != 0) {
    std::lock_guard<std::mutex> lock(layer->mu);
    auto it = layer->mains.find(sqlite3_filename_database(name));
    if (it != layer->mains.end() && it->second->wal == nullptr &&
        it->second->methods.iVersion >= 2) {
      state->main = it->second;
      it->second->wal = state.get();
    }
  }
  head->state = state.release();
  head->base.pMethods = &head->state->methods;
  return SQLITE_OK;
}

int Delete(sqlite3_vfs* v, const char* name, int sync_dir) {
  return BaseOf(v)->xDelete(BaseOf(v), name, sync_dir);
}
int Access(sqlite3_vfs* v, const char* name, int flags, int* out) {
  return BaseOf(v)->xAccess(BaseOf(v), name, flags, out);
}
int FullPathname(sqlite3_vfs* v, const char* name, int n, char* out) {
  return BaseOf(v)->xFullPathname(BaseOf(v), name, n, out);
}
void* DlOpen(sqlite3_vfs* v, const char* name) { return BaseOf(v)->xDlOpen(BaseOf(v), name); }
void DlError(sqlite3_vfs* v, int n, char* out) { BaseOf(v)->xDlError(BaseOf(v), n, out); }
void (*DlSym(sqlite3_vfs* v, void* h, const char* sym))(void) {
  return BaseOf(v)->xDlSym(BaseOf(v), h, sym);
}
void DlClose(sqlite3_vfs* v, void* h) { BaseOf(v)->xDlClose(BaseOf(v), h); }
int Randomness(sqlite3_vfs* v, int n, char* out) {
  return BaseOf(v)->xRandomness(BaseOf(v), n, out);
}
int Sleep(sqlite3_vfs* v, int us) { return BaseOf(v)->xSleep(BaseOf(v), us); }
int CurrentTime(sqlite3_vfs* v, double* out) { return BaseOf(v)->xCurrentTime(BaseOf(v), out); }
int GetLastError(sqlite3_vfs* v, int n, char* out) {
  return BaseOf(v)->xGetLastError(BaseOf(v), n, out);
}
int CurrentTimeInt64(sqlite3_vfs* v, sqlite3_int64* out) {
  sqlite3_vfs* base = BaseOf(v);
  if (base->iVersion >= 2 && base->xCurrentTimeInt64 != nullptr)
    return base->xCurrentTimeInt64(base, out);
  double days = 0;
  const int rc = base->xCurrentTime(base, &days);
  *out = static_cast<sqlite3_int64>(days * 86400000.0);
  return rc;
}

// SQLite's process-wide set-up, once, before its first use (see the header): memory statistics
// off, then sqlite3_initialize. Returns the latter's result code.
int InitializeSqlite() {
  static const int rc = [] {
    // SQLITE_MISUSE when SQLite is already running (something used it first): left as it is.
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return sqlite3_initialize();
  }();
  return rc;
}

}  // namespace

Result<const char*> WalBufferVfsName(std::string_view base_vfs) {
  // One layer per base VFS for the life of the process (see the header).
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Layer>, std::less<>> layers;
  if (InitializeSqlite() != SQLITE_OK) return Status::Unavailable("sqlite: cannot initialize");
  std::lock_guard<std::mutex> lock(mu);
  auto it = layers.find(base_vfs);
  if (it != layers.end()) return it->second->name.c_str();
  const std::string base_name(base_vfs);
  sqlite3_vfs* base = sqlite3_vfs_find(base_name.empty() ? nullptr : base_name.c_str());
  if (base == nullptr)
    return Status::Unavailable("sqlite: no VFS named '" + base_name + "' to layer over");
  auto layer = std::make_unique<Layer>();
  layer->base = base;
  layer->name = base_name.empty() ? "vv-walbuf" : "vv-walbuf-" + base_name;
  sqlite3_vfs& v = layer->vfs;
  v.iVersion = 2;
  v.szOsFile = static_cast<int>(kRealOffset) + base->szOsFile;
  v.mxPathname = base->mxPathname;
  v.zName = layer->name.c_str();
  v.pAppData = layer.get();
  v.xOpen = Open;
  v.xDelete = Delete;
  v.xAccess = Access;
  v.xFullPathname = FullPathname;
  v.xDlOpen = DlOpen;
  v.xDlError = DlError;
  v.xDlSym = DlSym;
  v.xDlClose = DlClose;
  v.xRandomness = Randomness;
  v.xSleep = Sleep;
  v.xCurrentTime = CurrentTime;
  v.xGetLastError = GetLastError;
  v.xCurrentTimeInt64 = CurrentTimeInt64;
  if (sqlite3_vfs_register(&layer->vfs, 0) != SQLITE_OK)
    return Status::Unavailable("sqlite: cannot register VFS '" + layer->name + "'");
  const char* out = layer->name.c_str();
  layers.emplace(base_name, std::move(layer));
  return out;
}

}  // namespace vv::sqlstore
