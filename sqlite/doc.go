// Package sqlite is Gatehouse's embedded default store (--db sqlite:PATH):
// a [gatehouse.Store] on one SQLite file, through database/sql and the
// pure-Go driver modernc.org/sqlite, so the server builds without cgo.
//
// # WAL
//
// The file is in write-ahead-log mode (PRAGMA journal_mode=WAL). A commit
// appends to the -wal file instead of rewriting pages in place, and
// readers keep reading the snapshot they started with, so a reader never
// blocks the writer and the writer never blocks readers. Every request
// that authenticates reads; every login, refresh and logout writes; WAL is
// what lets both go on at once. WAL needs the -wal and -shm files beside
// the database and a local file system (shared memory); [Open] refuses a
// file it cannot put in WAL mode.
//
// # One writer
//
// SQLite allows one writer at a time per file. Rather than letting several
// pooled connections race for that lock and fail with SQLITE_BUSY (or
// SQLITE_BUSY_SNAPSHOT when a read transaction tries to become a write
// one, which no busy timeout retries), the Store has two pools:
//
//   - a writer: a *sql.DB with exactly one connection. Writes queue for it
//     in Go, cheaply and in order, and every write transaction begins with
//     BEGIN IMMEDIATE (the driver's _txlock=immediate), taking the write
//     lock up front, so it cannot fail half-way for lack of it.
//   - readers: a pool of query_only connections (Options.MaxReaders).
//
// Pragmas are set in the DSN (_pragma=...), so every connection either
// pool opens gets them: busy_timeout, foreign_keys=ON (SQLite leaves
// foreign keys off per connection unless told), synchronous, and WAL on the
// writer. busy_timeout still matters for the lock shared with other
// processes on the same file (a second server, `gatehouse migrate`, the
// CLI): they wait up to Options.BusyTimeout, then fail with
// [gatehouse.ErrUnavailable].
//
// The compare-and-swap of [Store.RotateSession] relies on this: its UPDATE
// ... WHERE generation = ? runs under the write lock, so of two concurrent
// rotations of one refresh token exactly one succeeds, and the token is
// used once (RFC 9700 §4.14.2).
//
// # Durability
//
// A write is acknowledged only after its transaction committed. With
// synchronous=FULL, the default, SQLite fsyncs the WAL at every commit, so
// an acknowledged write survives kill -9 and power loss alike. NORMAL
// fsyncs only at checkpoints: a commit still survives the death of the
// process (the OS has the bytes) but the last ones may be lost if the
// machine loses power, which would resurrect rotated refresh tokens and
// revoked sessions. That is an authentication server's worst kind of
// loss, so FULL is the default. Its cost is an fsync per commit: on the
// development VM (ext4, virtio disk) a RotateSession commits in about
// 0.27 ms with FULL against 0.11 ms with NORMAL, some 3,600 refreshes a
// second against 9,000 (BenchmarkRotateSession), far more than a
// self-hosted server needs. A disk with a slow cache flush costs more.
//
// Concurrent writes share that cost: the hot session writes (RotateSession,
// CreateSession, RevokeSession) go through a committer that runs the
// writes arriving during one commit together in the next transaction, one
// fsync for all, and answers each caller after that commit (group commit;
// see group.go and Options.GroupCommitWindow). Each write keeps its own
// answer: a lost compare-and-swap or an unknown session concerns only its
// caller, and a batch in which a statement fails is rolled back and its
// writes run again one by one.
//
// # Errors and times
//
// Driver errors are mapped by result code, never by message text: a
// unique or primary-key violation to [gatehouse.ErrConflict] (an email to
// [gatehouse.ErrEmailTaken]), a foreign-key violation (a missing user) to
// [gatehouse.ErrNotFound], busy, locked and I/O errors and a closed Store
// to [gatehouse.ErrUnavailable]; context errors pass through. Times are
// stored as INTEGER Unix microseconds and returned in UTC; a zero
// RevokedAt or RetiredAt is NULL.
//
// The schema lives in embedded migrations (migrations/NNNN_name.sql),
// applied by [Store.Migrate] and recorded in schema_migrations.
package sqlite
