#pragma once

namespace lgs {

// The name of an SQLite VFS that is the default one, except that a write-ahead log it opens
// gathers the frames a commit appends and writes them with one system call when SQLite syncs
// the log, instead of two calls per page. Registered on first use; nullptr when it cannot be
// (the default VFS is then used).
//
// Durability is unchanged: SQLite syncs the log before a commit counts and before any other
// connection can see the commit, and the frames are written just before that sync. Everything
// that looks at the file (reads, size, truncation, closing) writes the gathered frames first.
const char* sqlite_log_vfs();

}  // namespace lgs
