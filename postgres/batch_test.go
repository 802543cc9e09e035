package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres/pgtest"
	"github.com/gatehouse/gatehouse/storetest"
)

// holdWorker makes the store's only rotation worker wait: it locks the
// row of sess and has the worker rotate it. The returned function lets the
// worker go on.
func holdWorker(t *testing.T, s *Store, sess *gatehouse.Session) (release func(), held chan error) {
	t.Helper()
	ctx := context.Background()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE`, sess.ID); err != nil {
		t.Fatal(err)
	}
	before := s.rotations.batches.Load()
	held = make(chan error, 1)
	go func() {
		now := time.Now()
		_, err := s.RotateSession(ctx, sess.ID, 1, now, now.Add(time.Hour))
		held <- err
	}()
	waitFor(t, "the worker to take the held rotation", func() bool { return s.rotations.batches.Load() > before })
	var once sync.Once
	release = func() { once.Do(func() { tx.Commit(ctx) }) }
	t.Cleanup(release)
	return release, held
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
	}
}

// Rotations that arrive while the worker is busy go to the database
// together, in one batch and one commit, and each caller gets the answer
// it would have got alone: two rotations of one token make one successor,
// an unknown session is not found.
func TestRotationsShareABatch(t *testing.T) {
	s := openOpts(t, pgtest.URL(t), Options{MaxConns: 2}) // the rotation worker and one more
	sessions := storetest.BenchSessions(t, s, 9)
	release, held := holdWorker(t, s, sessions[8])
	sessions = sessions[:8]
	batches, writes := s.rotations.batches.Load(), s.rotations.writes.Load()

	type answer struct {
		sess *gatehouse.Session
		err  error
	}
	ids := []string{gatehouse.NewID()} // unknown
	for _, sess := range sessions {
		ids = append(ids, sess.ID)
	}
	ids = append(ids, sessions[0].ID) // the same token twice
	answers := make([]answer, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			now := time.Now()
			sess, err := s.RotateSession(context.Background(), id, 1, now, now.Add(time.Hour))
			answers[i] = answer{sess, err}
		})
	}
	waitFor(t, "every rotation to queue", func() bool { return s.rotations.waiting.Load() == int64(len(ids)) })
	release()
	if err := <-held; err != nil {
		t.Fatalf("the held rotation: %v", err)
	}
	wg.Wait()

	if b, w := s.rotations.batches.Load()-batches, s.rotations.writes.Load()-writes; b != 1 || w != int64(len(ids)) {
		t.Errorf("%d rotations ran in %d batches, want %d in 1", w, b, len(ids))
	}
	if !errors.Is(answers[0].err, gatehouse.ErrNotFound) {
		t.Errorf("unknown session: %v, %v; want ErrNotFound", answers[0].sess, answers[0].err)
	}
	wins := 0
	for i, a := range answers[1:] {
		if a.err != nil {
			t.Errorf("rotation %d: %v", i, a.err)
		}
		if a.sess != nil {
			if a.sess.Generation != 2 {
				t.Errorf("rotation %d returned generation %d, want 2", i, a.sess.Generation)
			}
			wins++
		}
	}
	if wins != len(sessions) {
		t.Errorf("%d rotations won, want %d (one per session)", wins, len(sessions))
	}
	for _, sess := range sessions {
		got, err := s.Session(context.Background(), sess.ID)
		if err != nil || got.Generation != 2 {
			t.Errorf("session after the batch: %+v, %v; want generation 2", got, err)
		}
		if _, err := s.RetiredAt(context.Background(), sess.ID, 1); err != nil {
			t.Errorf("retirement of generation 1: %v", err)
		}
	}
}

// Rotations waiting when the store closes are all answered: run, or
// refused as unavailable; none is left waiting.
func TestRotationsOfAStoreClosingAreAnswered(t *testing.T) {
	s := openOpts(t, pgtest.URL(t), Options{MaxConns: 2})
	sessions := storetest.BenchSessions(t, s, 4)
	release, held := holdWorker(t, s, sessions[3])
	sessions = sessions[:3]
	errs := make(chan error, len(sessions))
	for _, sess := range sessions {
		go func() {
			now := time.Now()
			_, err := s.RotateSession(context.Background(), sess.ID, 1, now, now.Add(time.Hour))
			errs <- err
		}()
	}
	waitFor(t, "every rotation to queue", func() bool { return s.rotations.waiting.Load() == int64(len(sessions)) })
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	release()
	<-held
	for range sessions {
		select {
		case err := <-errs:
			if err != nil && !errors.Is(err, gatehouse.ErrUnavailable) {
				t.Errorf("a rotation queued at Close: %v, want success or ErrUnavailable", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a rotation queued at Close was never answered")
		}
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
}
