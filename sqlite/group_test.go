package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/storetest"
)

// holdCommitter makes the committer run a write that blocks until the
// returned release is called, so that writes sent meanwhile queue up and
// form the next batch together.
func holdCommitter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	entered, unblock, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.groupTx(context.Background(), "hold", func(ctx context.Context, tx *sql.Tx) error {
			close(entered)
			<-unblock
			return nil
		})
	}()
	<-entered
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(unblock)
			if err := <-done; err != nil {
				t.Errorf("holding write: %v", err)
			}
		})
	}
	// A test that fails while holding must not leave Close waiting.
	t.Cleanup(release)
	return release
}

// waitQueued waits until n writes are queued for the committer.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.group.mu.Lock()
		q := len(s.group.queue)
		s.group.mu.Unlock()
		if q >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued after 10s, want %d", q, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGroupCommitOneBatch holds the committer until every write of
// storetest.MixedWrites is queued, so that they all share one transaction,
// and checks each caller's answer; with failing writes in the batch, the
// batch is rolled back and its writes run alone, each answered as if
// nothing else had been there.
func TestGroupCommitOneBatch(t *testing.T) {
	for _, tc := range []struct {
		name         string
		withFailures bool
		wantReruns   int64
	}{
		{"answers", false, 0},
		{"failures", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustOpenStore(t, Options{})
			var batches, writes int64
			storetest.MixedWrites(t, s, tc.withFailures, func(n int, launch func()) {
				batches, writes = s.group.batches.Load(), s.group.writes.Load()
				release := holdCommitter(t, s)
				launch()
				waitQueued(t, s, n)
				release()
				// The hold, then the n writes in one batch.
				batches, writes = batches+2, writes+1+int64(n)
			})
			// One straggler batch is allowed: on a loaded machine a write
			// of the scenario may reach the queue after the release.
			// Unbatched, the n writes would take n batches.
			if b, w := s.group.batches.Load(), s.group.writes.Load(); b > batches+1 || w < writes {
				t.Errorf("committer ran %d batches of %d writes, want %d (+1) of %d: the writes were not batched",
					b, w, batches, writes)
			}
			if r := s.group.reruns.Load(); r != tc.wantReruns {
				t.Errorf("%d batches were rerun write by write, want %d", r, tc.wantReruns)
			}
		})
	}
}

// TestGroupCommitWithdraw: a caller that gives up while its write is still
// queued gets its context's error, and the write is never run.
func TestGroupCommitWithdraw(t *testing.T) {
	s := mustOpenStore(t, Options{})
	sess := storetest.BenchSessions(t, s, 1)[0]
	release := holdCommitter(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		now := time.Now()
		_, err := storetest.Rotated(s.RotateSession(ctx, sess.ID, 1, now, now.Add(time.Hour)))
		done <- err
	}()
	waitQueued(t, s, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("RotateSession after its caller gave up = %v, want context.Canceled", err)
	}
	release()
	got, err := s.Session(context.Background(), sess.ID)
	if err != nil || got.Generation != 1 {
		t.Errorf("a withdrawn rotation ran: Session = %+v, %v", got, err)
	}
}

// TestGroupCommitClose: writes queued when the Store closes are committed
// before the database closes, and writes after it fail as unavailable.
func TestGroupCommitClose(t *testing.T) {
	s := mustOpenStore(t, Options{})
	sess := storetest.BenchSessions(t, s, 1)[0]
	release := holdCommitter(t, s)
	done := make(chan error, 1)
	go func() {
		now := time.Now()
		ok, err := storetest.Rotated(s.RotateSession(context.Background(), sess.ID, 1, now, now.Add(time.Hour)))
		if err == nil && !ok {
			err = errors.New("not rotated")
		}
		done <- err
	}()
	waitQueued(t, s, 1)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	release()
	if err := <-done; err != nil {
		t.Errorf("a rotation queued at Close: %v", err)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	now := time.Now()
	_, err := storetest.Rotated(s.RotateSession(context.Background(), sess.ID, 2, now, now.Add(time.Hour)))
	if !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("RotateSession after Close = %v, want ErrUnavailable", err)
	}
	r := mustOpenPath(t, s.Path(), Options{})
	if got, err := r.Session(context.Background(), sess.ID); err != nil || got.Generation != 2 {
		t.Errorf("the rotation queued at Close was lost: Session = %+v, %v", got, err)
	}
}

// TestGroupCommitEvents: the events attached to the writes of one batch
// are stored with them. When one write's event cannot be stored (its id is
// taken), the batch is rolled back and rerun write by write: that write
// fails and leaves no trace, and the others keep their changes and their
// events. A write of the batch that changes nothing stores no event.
func TestGroupCommitEvents(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, Options{})
	u := &gatehouse.User{ID: gatehouse.NewID(), Email: "batch@example.com", PasswordHash: "h", CreatedAt: time.Now().UTC()}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	ended := storetest.BenchSessions(t, s, 1)[0]
	if ok, err := s.RevokeSession(ctx, ended.ID, gatehouse.ReasonLogout, time.Now()); !ok || err != nil {
		t.Fatalf("RevokeSession = %v, %v", ok, err)
	}
	taken := gatehouse.Event{ID: gatehouse.NewID(), Type: gatehouse.EventUserRegistered, At: time.Now()}
	if err := s.AppendEvents(ctx, taken); err != nil {
		t.Fatal(err)
	}
	const n = 6
	sessions := make([]*gatehouse.Session, n)
	events := make([]gatehouse.Event, n)
	for i := range n {
		now := time.Now().UTC()
		sessions[i] = &gatehouse.Session{ID: gatehouse.NewID(), UserID: u.ID, Secret: []byte{1}, Generation: 1,
			CreatedAt: now, LastUsedAt: now, RotatedAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}
		events[i] = gatehouse.Event{ID: gatehouse.NewID(), Type: gatehouse.EventLoginSucceeded, At: now, UserID: u.ID}
	}
	const bad = 2
	events[bad].ID = taken.ID
	unchanged := gatehouse.Event{ID: gatehouse.NewID(), Type: gatehouse.EventSessionRevoked, At: time.Now()}

	reruns := s.group.reruns.Load()
	release := holdCommitter(t, s)
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.CreateSession(gatehouse.WithEvents(ctx, events[i]), sessions[i]) })
	}
	wg.Go(func() {
		var ok bool
		ok, errs[n] = s.RevokeSession(gatehouse.WithEvents(ctx, unchanged), ended.ID, gatehouse.ReasonLogout, time.Now())
		if ok {
			t.Error("RevokeSession of an ended session = true")
		}
	})
	waitQueued(t, s, n+1)
	release()
	wg.Wait()
	if r := s.group.reruns.Load() - reruns; r != 1 {
		t.Errorf("%d batches were rerun write by write, want 1", r)
	}

	stored, err := s.Events(ctx, gatehouse.EventFilter{}, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	has := map[string]bool{}
	for _, e := range stored {
		has[e.ID] = true
	}
	for i := range n {
		_, serr := s.Session(ctx, sessions[i].ID)
		if i == bad {
			if !errors.Is(errs[i], gatehouse.ErrConflict) {
				t.Errorf("the write whose event failed: %v, want ErrConflict", errs[i])
			}
			if !errors.Is(serr, gatehouse.ErrNotFound) {
				t.Errorf("the session whose event failed was stored: %v", serr)
			}
			continue
		}
		if errs[i] != nil || serr != nil || !has[events[i].ID] {
			t.Errorf("write %d of the batch: %v; session stored: %v; event stored: %v", i, errs[i], serr, has[events[i].ID])
		}
	}
	if errs[n] != nil || has[unchanged.ID] {
		t.Errorf("RevokeSession of an ended session: %v; event stored: %v", errs[n], has[unchanged.ID])
	}
	if len(stored) != n {
		t.Errorf("%d events stored, want %d (the taken one and %d of the batch)", len(stored), n, n-1)
	}
}
