#pragma once

namespace lgs {

// The name of an SQLite VFS that is the default one, except that a write-ahead log it opens
// gathers the frames a commit appends and writes them with one system call once the commit's
// last frame is complete, instead of two calls per page. Registered on first use; nullptr when
// it cannot be (the default VFS is then used).
//
// What SQLite relies on is unchanged: every frame of a commit is in the file before the commit
// is synced (synchronous = FULL) and before any other connection can see it. Everything that
// looks at the file (reads, size, truncation, syncs, closing) writes the gathered frames first.
const char* sqlite_log_vfs();

}  // namespace lgs
