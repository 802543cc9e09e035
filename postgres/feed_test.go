package postgres

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres/pgtest"
	"github.com/gatehouse/gatehouse/storetest"
)

var t0 = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

func mkUser(tb testing.TB, st *Store) *gatehouse.User {
	tb.Helper()
	u := &gatehouse.User{ID: gatehouse.NewID(), Email: gatehouse.NewID() + "@example.com", PasswordHash: "h", CreatedAt: t0}
	if err := st.CreateUser(context.Background(), u); err != nil {
		tb.Fatal(err)
	}
	return u
}

func mkSession(tb testing.TB, st *Store, userID string) string {
	tb.Helper()
	s := &gatehouse.Session{
		ID: gatehouse.NewID(), UserID: userID, Secret: []byte("s"), Generation: 1,
		CreatedAt: t0, LastUsedAt: t0, RotatedAt: t0, IdleExpiresAt: t0.Add(time.Hour), ExpiresAt: t0.Add(24 * time.Hour),
	}
	if err := st.CreateSession(context.Background(), s); err != nil {
		tb.Fatal(err)
	}
	return s.ID
}

// waitingOnLock reports how many backends of the schema wait for a lock.
func waitingOnLock(t *testing.T, st *Store) int {
	t.Helper()
	var n int
	err := st.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
        WHERE application_name = $1 AND wait_event_type = 'Lock'`, pgtest.AppName(st.Schema())).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFeedSeqVisibleInOrder is the case a bigserial gets wrong: A appends
// first and commits last. While A is open, B must not be able to append
// (and so cannot become visible with a later seq that a reader's cursor
// would then move past, hiding A's entry for good).
func TestFeedSeqVisibleInOrder(t *testing.T) {
	t.Parallel()
	st := openTest(t)
	ctx := context.Background()
	u := mkUser(t, st)
	a, b := mkSession(t, st, u.ID), mkSession(t, st, u.ID)

	inA := make(chan struct{})
	releaseA := make(chan struct{})
	var first atomic.Bool
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(releaseA) }) }
	// On a failure, let A finish, or closing the store would wait for it.
	t.Cleanup(release)
	st.beforeCommit = func(op string) {
		if first.CompareAndSwap(false, true) { // only the first transaction, A, is held open
			close(inA)
			<-releaseA
		}
	}
	doneA, doneB := make(chan error, 1), make(chan error, 1)
	go func() { _, err := st.RevokeSession(ctx, a, gatehouse.ReasonLogout, t0); doneA <- err }()
	<-inA // A holds its seq, uncommitted
	go func() { _, err := st.RevokeSession(ctx, b, gatehouse.ReasonLogout, t0); doneB <- err }()

	// B must queue behind A: poll until PostgreSQL shows it waiting on a lock.
	deadline := time.Now().Add(10 * time.Second)
	for waitingOnLock(t, st) == 0 {
		select {
		case err := <-doneB:
			t.Fatalf("B committed while A was still open (err %v): its seq could become visible before A's", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("B neither waited for A nor finished")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A reader now sees neither entry, and the head has not moved for it.
	if revs, err := st.Revocations(ctx, 0, 10); err != nil || len(revs) != 0 {
		t.Fatalf("feed while A is open = %v, %v; want nothing visible", revs, err)
	}
	release()
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	if err := <-doneB; err != nil {
		t.Fatal(err)
	}
	revs, err := st.Revocations(ctx, 0, 10)
	if err != nil || len(revs) != 2 || revs[0].SessionID != a || revs[1].SessionID != b || revs[0].Seq != 1 || revs[1].Seq != 2 {
		t.Fatalf("feed = %v, %v; want A at 1 then B at 2", revs, err)
	}
}

// TestFeedReaderMissesNothing runs many revokers on several stores (as
// several instances would) against a reader that follows the feed by its
// cursor, as the session guard does: every revocation must be read.
func TestFeedReaderMissesNothing(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	stores := []*Store{openURL(t, url), openURL(t, url), openURL(t, url)}
	ctx := context.Background()
	u := mkUser(t, stores[0])
	const writers, each = 12, 25
	ids := make([][]string, writers)
	for w := range writers {
		for range each {
			ids[w] = append(ids[w], mkSession(t, stores[0], u.ID))
		}
	}
	seen := map[string]bool{}
	var cursor int64
	read := func() {
		revs, err := stores[2].Revocations(ctx, cursor, 1000)
		if err != nil {
			t.Error(err)
			return
		}
		for _, r := range revs {
			if r.Seq != cursor+1 {
				t.Errorf("feed gap: seq %d after %d", r.Seq, cursor)
			}
			seen[r.SessionID] = true
			cursor = r.Seq
		}
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			st := stores[w%2]
			for i, id := range ids[w] {
				var err error
				if i%5 == 4 { // some multi-row appends too
					_, err = st.RevokeUserSessions(ctx, gatehouse.NewID(), "", gatehouse.ReasonAdmin, t0)
				}
				if err == nil {
					_, err = st.RevokeSession(ctx, id, gatehouse.ReasonLogout, t0)
				}
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
				read()
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-readerDone
	read() // the final catch-up of a poller
	for w := range writers {
		for _, id := range ids[w] {
			if !seen[id] {
				t.Fatalf("the reader never saw the revocation of %s", id)
			}
		}
	}
	if len(seen) != writers*each {
		t.Fatalf("saw %d revocations, want %d", len(seen), writers*each)
	}
}

// TestRevocationNotices: a revocation through one store wakes a listener
// of another store on the schema, and after its connection is killed the
// listener reconnects and signals again (the guard then re-reads the feed).
func TestRevocationNotices(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	a, b := openURL(t, url), openURL(t, url)
	other := openTest(t) // another schema on the same database
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	notices := b.RevocationNotices(ctx)
	recv := func(what string) {
		t.Helper()
		select {
		case <-notices:
		case <-time.After(10 * time.Second):
			t.Fatalf("no notice: %s", what)
		}
	}
	recv("the first connection")
	u := mkUser(t, a)
	uo := mkUser(t, other)
	// Another schema's revocation must not wake this listener; then ours must.
	if _, err := other.RevokeSession(ctx, mkSession(t, other, uo.ID), gatehouse.ReasonLogout, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RevokeSession(ctx, mkSession(t, a, u.ID), gatehouse.ReasonLogout, t0); err != nil {
		t.Fatal(err)
	}
	recv("a revocation by another store")
	select {
	case <-notices:
		t.Fatal("a second notice for one revocation: another schema's revocation woke the listener")
	case <-time.After(300 * time.Millisecond):
	}

	// Kill every connection of the schema, the listener's included.
	if n := pgtest.TerminateSchema(t, b.Schema()); n == 0 {
		t.Fatal("no connection to terminate")
	}
	recv("after reconnecting")
	sid := mkSessionSoon(t, a, u.ID) // writes may meet a killed pooled connection
	revokeSoon(t, a, sid)
	recv("a revocation after the reconnection")
	cancel()
	for range notices { // drained and closed when ctx ends
	}
}

// TestUnavailable: an unreachable database fails calls fast with
// ErrUnavailable, and a statement stuck behind a lock ends at QueryTimeout
// with ErrUnavailable, not a hang.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable", Options{})
	if !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Fatalf("Open of a closed port = %v, want ErrUnavailable", err)
	}

	url := pgtest.URL(t)
	st := openURL(t, url)
	u := mkUser(t, st)
	sid := mkSession(t, st, u.ID)
	fast, err := Open(ctx, url, Options{QueryTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	// Hold the session's row lock in a transaction left open.
	tx, err := st.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE`, sid); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = storetest.Rotated(fast.RotateSession(ctx, sid, 1, t0, t0.Add(time.Hour)))
	if !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Fatalf("RotateSession stuck on a lock = %v, want ErrUnavailable", err)
	}
	t.Logf("a stuck statement failed after %v (QueryTimeout 300ms)", time.Since(start).Round(time.Millisecond))

	// The caller's own cancellation is not the database's fault.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := fast.Session(cctx, sid); !errors.Is(err, context.Canceled) || errors.Is(err, gatehouse.ErrUnavailable) {
		t.Fatalf("Session with a cancelled ctx = %v, want context.Canceled", err)
	}

	// A closed store is unavailable.
	fast.Close()
	if err := fast.Ping(ctx); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Fatalf("Ping of a closed store = %v", err)
	}
}

// TestRecoversAfterConnectionsKilled: after every pooled connection was
// terminated (a database restart, as Gatehouse sees it), calls succeed
// again without a restart of Gatehouse.
func TestRecoversAfterConnectionsKilled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	u := mkUser(t, st)
	// Fill the pool with several connections.
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() { _ = st.Ping(ctx) })
	}
	wg.Wait()
	pgtest.TerminateSchema(t, st.Schema())
	// Reads on dead connections are retried on new ones: none fails.
	for i := range 10 {
		if _, err := st.UserByID(ctx, u.ID); err != nil {
			t.Fatalf("read %d after the connections were killed: %v", i, err)
		}
	}
	// A write on a dead connection may fail, as ErrUnavailable (it may
	// have been sent), and the next ones succeed.
	pgtest.TerminateSchema(t, st.Schema())
	revokeSoon(t, st, mkSessionSoon(t, st, u.ID))
}

// revokeSoon revokes a session, allowing a few ErrUnavailable failures
// of writes that met a killed connection.
func revokeSoon(t *testing.T, st *Store, id string) {
	t.Helper()
	var err error
	for range 5 {
		if _, err = st.RevokeSession(context.Background(), id, gatehouse.ReasonLogout, t0); !errors.Is(err, gatehouse.ErrUnavailable) {
			break
		}
	}
	if err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
}

func mkSessionSoon(t *testing.T, st *Store, userID string) string {
	t.Helper()
	s := &gatehouse.Session{
		ID: gatehouse.NewID(), UserID: userID, Secret: []byte("s"), Generation: 1,
		CreatedAt: t0, LastUsedAt: t0, RotatedAt: t0, IdleExpiresAt: t0.Add(time.Hour), ExpiresAt: t0.Add(24 * time.Hour),
	}
	var err error
	for range 5 {
		if err = st.CreateSession(context.Background(), s); !errors.Is(err, gatehouse.ErrUnavailable) {
			break
		}
	}
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return s.ID
}

// TestConcurrentMigrate: instances starting at once on an empty schema
// all succeed, and exactly one applies each migration.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ctx := context.Background()
	const n = 4
	applied := make([][]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		st, err := Open(ctx, url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		wg.Go(func() { applied[i], errs[i] = st.Migrate(ctx) })
	}
	wg.Wait()
	total := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Migrate %d: %v", i, errs[i])
		}
		total += len(applied[i])
	}
	ms, _ := migrations()
	if total != len(ms) {
		t.Fatalf("%d migrations applied in all, want %d (each once): %v", total, len(ms), applied)
	}
	st := openURL(t, url)
	if v, err := st.SchemaVersion(ctx); err != nil || v != ms[len(ms)-1].Version {
		t.Fatalf("SchemaVersion = %d, %v", v, err)
	}
}

// TestOpenNeedsSchema: a search_path naming no schema is refused at Open.
func TestOpenNeedsSchema(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	bad := url + "x"
	_, err := Open(context.Background(), bad, Options{})
	if err == nil {
		t.Fatal("Open with a missing schema succeeded")
	}
}
