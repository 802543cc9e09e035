// Package postgres is Gatehouse's store for several instances behind a load
// balancer (--db postgres://…): a [gatehouse.Store] on PostgreSQL through
// jackc/pgx/v5 and its pool, with the same behaviour as the sqlite store,
// which the storetest suite checks.
//
// # Connections, deadlines and failures
//
// A pgxpool pool serves every call; pgx prepares each statement once per
// connection and caches it. Every call runs under Options.QueryTimeout
// (5 s), which covers waiting for a pooled connection, dialing (with a
// connect timeout of its own) and the statement: a database that is down,
// unreachable or stuck makes calls fail within that time with an error
// wrapping [gatehouse.ErrUnavailable] — answered 503 "unavailable" by the
// HTTP API, as /readyz is — never hang. A failure that pgx guarantees
// happened before anything was sent (a pooled connection found dead after
// a database restart) is retried at once, as is a transaction PostgreSQL
// aborted with a serialization failure or deadlock (40001, 40P01); other
// errors are mapped by SQLSTATE or type, never by message text: unique
// violations to [gatehouse.ErrConflict] (the users_email_key constraint to
// [gatehouse.ErrEmailTaken]), foreign-key violations to
// [gatehouse.ErrNotFound], connection classes (08, 53, 57P, 58) and lost
// connections to [gatehouse.ErrUnavailable]; the caller's own context
// errors pass through. The pool recovers by itself when the database comes
// back: dead connections are dropped and new ones dialed on demand.
//
// # Rotation
//
// [Store.RotateSession] is one statement: an UPDATE … WHERE generation =
// from, whose row lock makes concurrent rotations of one token, from any
// instance, queue on the row; under READ COMMITTED the losers re-check the
// WHERE clause against the winner's committed row and update nothing. So
// exactly one successor is made (RFC 9700 §4.14.2), in one round trip and
// one commit.
//
// # The revocation feed across instances
//
// Every instance keeps revoked session ids in memory and learns of other
// instances' revocations from the revocations table, read after the last
// seq it applied every 250 ms. A bigserial seq would be unsafe there: seqs
// are taken in one order and committed in another, so a reader could see 6,
// move its cursor past 5, and never see 5 commit. Appends therefore take
// their seqs from the single row of revocation_head, whose row lock each
// appending transaction holds until it has committed and become visible.
// Seqs are visible strictly in order, the feed has no gaps, and a cursor
// never skips an entry. (The alternative, reading only below the oldest
// running transaction's xid, lets readers lag behind a long transaction
// and needs snapshot functions per read; revocations are rare, so
// serialising them costs nothing measurable.) The head is never pruned,
// so no seq is ever handed out twice.
//
// Each append also runs pg_notify in its transaction; [Store.RevocationNotices]
// LISTENs on a dedicated connection (reconnecting with backoff) and makes
// the guard read the feed at once, so a revocation usually reaches every
// instance in milliseconds, and within the poll interval when the listener
// is down.
//
// # Many instances
//
// Migrations are embedded (migrations/NNNN_name.sql, PostgreSQL dialect)
// and applied by [Store.Migrate] under a session-level advisory lock, so
// instances starting at once migrate one after the other. The attempt
// counters of the login and registration limits are rows here, so the
// limits hold across instances. Signing keys are rows here too, sealed
// under --key-secret, which every instance must share (CONTRACT §3).
//
// # Cost
//
// A refresh is one statement when the instance knows the session (it
// caches each session's secret and absolute expiry): the rotation, an
// UPDATE … RETURNING whose WHERE clause checks the generation and that the
// session is live. Concurrent rotations go to the database together
// (batch.go): one pgx batch, one round trip, one implicit transaction and
// so one commit and one WAL flush for all of them, from one connection
// while the next batch gathers. Under load with 16 clients a commit holds
// five or six refreshes (bench/load reports 0.18 commits per refresh), and
// a rotation writes nothing but its session's row: the row keeps its last
// retirements itself (migration 0008), and no indexed column changes, so
// the update stays on its page (a heap-only tuple, migration 0007).
//
// # Schemas and times
//
// Tables live in the first schema of the connection's search_path (add
// search_path=NAME to the URL to use another than public); each test uses
// a schema of its own (package pgtest). Times are timestamptz, stored to
// the microsecond and returned in UTC; a zero RevokedAt or RetiredAt is
// NULL. Identifiers are COLLATE "C", so ties ordered by id compare bytes,
// as in SQLite.
package postgres
