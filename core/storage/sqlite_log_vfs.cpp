#include "storage/sqlite_log_vfs.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>

namespace lgs {

namespace {

// SQLite writes every page a commit changed to the log as a frame, a 24-byte header and the page,
// with a pwrite each. Here the frames go to a buffer, written with one pwrite once the commit's
// last frame (its header carries the database size after the commit; other frames carry 0) is
// complete, or before a sync. SQLite makes a commit visible to other connections only after
// writing that last frame, so they never miss one.

constexpr size_t kMaxPending = size_t{1} << 20;  // a larger transaction writes as it goes
// The default VFS writes at most 128 KiB - 1 bytes per call (it masks the count to 17 bits).
constexpr size_t kMaxWrite = 124 << 10;

sqlite3_vfs* g_base = nullptr;  // the default VFS, which does the I/O

struct File {
  sqlite3_file base;     // our methods; SQLite's handle
  sqlite3_file* real;    // the default VFS's file, stored after this struct
  std::string* pending;  // frames not yet written (log files only)
  sqlite3_int64 start;   // the file offset of pending's first byte
  bool commit_frame;     // the last write was the header of a commit's last frame
};

constexpr int kFrameHeader = 24;

// The header of the frame that ends a commit: bytes 4..7 (the database size after the commit)
// are not zero.
bool is_commit_header(const void* data, int amount) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  return amount == kFrameHeader && (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
}

constexpr int kRealOffset = static_cast<int>((sizeof(File) + 7) & ~size_t{7});

File* as_file(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
const sqlite3_io_methods& real_methods(File* f) { return *f->real->pMethods; }

int flush(File* f) {
  if (!f->pending || f->pending->empty()) return SQLITE_OK;
  int rc = SQLITE_OK;
  for (size_t done = 0; done < f->pending->size() && rc == SQLITE_OK; done += kMaxWrite) {
    const size_t size = std::min(kMaxWrite, f->pending->size() - done);
    rc = real_methods(f).xWrite(f->real, f->pending->data() + done, static_cast<int>(size),
                                f->start + static_cast<sqlite3_int64>(done));
  }
  f->pending->clear();  // on an error SQLite abandons the transaction: its frames are rewritten
  return rc;
}

// ---- file methods: a log's writes are gathered, anything that looks at the file first writes
// them; the rest is the default VFS's file

int x_close(sqlite3_file* file) {
  File* f = as_file(file);
  const int flushed = flush(f);
  const int rc = real_methods(f).xClose(f->real);
  delete f->pending;
  f->pending = nullptr;
  return flushed != SQLITE_OK ? flushed : rc;
}
int x_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  File* f = as_file(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f).xRead(f->real, out, amount, offset);
}
// Appends a write to the pending frames (or changes a frame already pending).
int gather(File* f, const void* data, int amount, sqlite3_int64 offset) {
  std::string& pending = *f->pending;
  const auto* bytes = static_cast<const char*>(data);
  const sqlite3_int64 end = f->start + static_cast<sqlite3_int64>(pending.size());
  if (!pending.empty() && offset >= f->start && offset + amount <= end) {
    // A frame of the same transaction written again (SQLite rewrites a page changed twice).
    std::memcpy(pending.data() + (offset - f->start), bytes, static_cast<size_t>(amount));
    return SQLITE_OK;
  }
  if (!pending.empty() && offset != end) {
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  }
  if (pending.empty()) f->start = offset;
  pending.append(bytes, static_cast<size_t>(amount));
  return pending.size() >= kMaxPending ? flush(f) : SQLITE_OK;
}
int x_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  File* f = as_file(file);
  if (!f->pending) return real_methods(f).xWrite(f->real, data, amount, offset);
  const bool ends_commit = f->commit_frame;  // this write is the page of a commit's last frame
  f->commit_frame = is_commit_header(data, amount);
  const int rc = gather(f, data, amount, offset);
  return rc == SQLITE_OK && ends_commit ? flush(f) : rc;
}
int x_truncate(sqlite3_file* file, sqlite3_int64 size) {
  File* f = as_file(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f).xTruncate(f->real, size);
}
int x_sync(sqlite3_file* file, int flags) {
  File* f = as_file(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f).xSync(f->real, flags);
}
int x_file_size(sqlite3_file* file, sqlite3_int64* size) {
  File* f = as_file(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f).xFileSize(f->real, size);
}
int x_lock(sqlite3_file* file, int level) { return real_methods(as_file(file)).xLock(as_file(file)->real, level); }
int x_unlock(sqlite3_file* file, int level) { return real_methods(as_file(file)).xUnlock(as_file(file)->real, level); }
int x_check_reserved_lock(sqlite3_file* file, int* out) {
  return real_methods(as_file(file)).xCheckReservedLock(as_file(file)->real, out);
}
int x_file_control(sqlite3_file* file, int op, void* arg) {
  File* f = as_file(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f).xFileControl(f->real, op, arg);
}
int x_sector_size(sqlite3_file* file) { return real_methods(as_file(file)).xSectorSize(as_file(file)->real); }
int x_device_characteristics(sqlite3_file* file) {
  return real_methods(as_file(file)).xDeviceCharacteristics(as_file(file)->real);
}
int x_shm_map(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  return real_methods(as_file(file)).xShmMap(as_file(file)->real, region, size, extend, out);
}
int x_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  return real_methods(as_file(file)).xShmLock(as_file(file)->real, offset, n, flags);
}
void x_shm_barrier(sqlite3_file* file) { real_methods(as_file(file)).xShmBarrier(as_file(file)->real); }
int x_shm_unmap(sqlite3_file* file, int remove) {
  return real_methods(as_file(file)).xShmUnmap(as_file(file)->real, remove);
}
int x_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  File* f = as_file(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f).xFetch(f->real, offset, amount, out);
}
int x_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  return real_methods(as_file(file)).xUnfetch(as_file(file)->real, offset, page);
}

// Indexed by version: a file gets the version of the default VFS's file, as SQLite checks
// iVersion before calling the newer methods.
constexpr sqlite3_io_methods methods_of_version(int version) {
  return {version,
          x_close,
          x_read,
          x_write,
          x_truncate,
          x_sync,
          x_file_size,
          x_lock,
          x_unlock,
          x_check_reserved_lock,
          x_file_control,
          x_sector_size,
          x_device_characteristics,
          x_shm_map,
          x_shm_lock,
          x_shm_barrier,
          x_shm_unmap,
          x_fetch,
          x_unfetch};
}
const sqlite3_io_methods g_methods[] = {methods_of_version(1), methods_of_version(1), methods_of_version(2),
                                        methods_of_version(3)};

// ---- the VFS: opens through the default one; everything else is the default one's

int v_open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  File* f = as_file(file);
  f->base.pMethods = nullptr;  // SQLite closes only a file whose open succeeded
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
  f->real->pMethods = nullptr;
  f->pending = nullptr;
  f->start = 0;
  f->commit_frame = false;
  const int rc = g_base->xOpen(g_base, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (f->real->pMethods) f->real->pMethods->xClose(f->real);
    return rc;
  }
  if (flags & SQLITE_OPEN_WAL) {
    f->pending = new (std::nothrow) std::string();
    if (!f->pending) {
      f->real->pMethods->xClose(f->real);
      return SQLITE_NOMEM;
    }
  }
  f->base.pMethods = &g_methods[std::clamp(f->real->pMethods->iVersion, 1, 3)];
  return SQLITE_OK;
}
int v_delete(sqlite3_vfs*, const char* name, int sync_dir) { return g_base->xDelete(g_base, name, sync_dir); }
int v_access(sqlite3_vfs*, const char* name, int flags, int* out) { return g_base->xAccess(g_base, name, flags, out); }
int v_full_pathname(sqlite3_vfs*, const char* name, int size, char* out) {
  return g_base->xFullPathname(g_base, name, size, out);
}
void* v_dl_open(sqlite3_vfs*, const char* name) { return g_base->xDlOpen(g_base, name); }
void v_dl_error(sqlite3_vfs*, int size, char* out) { g_base->xDlError(g_base, size, out); }
void (*v_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return g_base->xDlSym(g_base, handle, symbol);
}
void v_dl_close(sqlite3_vfs*, void* handle) { g_base->xDlClose(g_base, handle); }
int v_randomness(sqlite3_vfs*, int size, char* out) { return g_base->xRandomness(g_base, size, out); }
int v_sleep(sqlite3_vfs*, int microseconds) { return g_base->xSleep(g_base, microseconds); }
int v_current_time(sqlite3_vfs*, double* out) { return g_base->xCurrentTime(g_base, out); }
int v_get_last_error(sqlite3_vfs*, int size, char* out) {
  return g_base->xGetLastError ? g_base->xGetLastError(g_base, size, out) : 0;
}
int v_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  if (g_base->iVersion >= 2 && g_base->xCurrentTimeInt64) return g_base->xCurrentTimeInt64(g_base, out);
  double day = 0;
  const int rc = g_base->xCurrentTime(g_base, &day);
  *out = static_cast<sqlite3_int64>(day * 86400000.0);
  return rc;
}

sqlite3_vfs g_vfs;

}  // namespace

const char* sqlite_log_vfs() {
  static const char* const name = []() -> const char* {
    g_base = sqlite3_vfs_find(nullptr);
    if (!g_base) return nullptr;
    g_vfs = sqlite3_vfs{};
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = kRealOffset + g_base->szOsFile;
    g_vfs.mxPathname = g_base->mxPathname;
    g_vfs.zName = "lgs-log";
    g_vfs.xOpen = v_open;
    g_vfs.xDelete = v_delete;
    g_vfs.xAccess = v_access;
    g_vfs.xFullPathname = v_full_pathname;
    g_vfs.xDlOpen = v_dl_open;
    g_vfs.xDlError = v_dl_error;
    g_vfs.xDlSym = v_dl_sym;
    g_vfs.xDlClose = v_dl_close;
    g_vfs.xRandomness = v_randomness;
    g_vfs.xSleep = v_sleep;
    g_vfs.xCurrentTime = v_current_time;
    g_vfs.xGetLastError = v_get_last_error;
    g_vfs.xCurrentTimeInt64 = v_current_time_int64;
    return sqlite3_vfs_register(&g_vfs, 0) == SQLITE_OK ? g_vfs.zName : nullptr;
  }();
  return name;
}

}  // namespace lgs
