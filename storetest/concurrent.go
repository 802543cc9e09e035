package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

func testConcurrentWrites(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	t.Run("Mixed", func(t *testing.T) {
		t.Parallel()
		MixedWrites(t, open(t), false, nil)
	})
	t.Run("MixedWithFailures", func(t *testing.T) {
		t.Parallel()
		MixedWrites(t, open(t), true, nil)
	})
}

// MixedWrites sends st, all at once, a mix of the session writes that a
// store may batch into one transaction (group commit): rotations of
// distinct sessions, several rotations of one session racing for the same
// generation, a rotation of a revoked and of an unknown session, two
// revocations of one session and new sessions. With withFailures it adds
// writes that fail in the database (a session of an unknown user, a taken
// session id). It then checks that every caller got the answer it would
// have had alone and that exactly the answered writes are stored.
//
// around, when not nil, is given the number of writes and the function
// that starts them, and must call it; MixedWrites then waits for their
// answers. A store's own test uses it to hold its committer while the
// writes queue up, so that they form one batch.
func MixedWrites(t *testing.T, st gatehouse.Store, withFailures bool, around func(writes int, launch func())) {
	t.Helper()
	ctx := context.Background()
	u := mustCreateUser(t, st, "u")
	now := at(time.Minute)
	idle := now.Add(time.Hour)

	distinct := make([]*gatehouse.Session, 8)
	for i := range distinct {
		distinct[i] = mustCreateSession(t, st, newSession(u.ID, base))
	}
	raced := mustCreateSession(t, st, newSession(u.ID, base))
	revoked := mustCreateSession(t, st, newSession(u.ID, base))
	if ok, err := st.RevokeSession(ctx, revoked.ID, gatehouse.ReasonLogout, base); !ok || err != nil {
		t.Fatalf("RevokeSession = %v, %v", ok, err)
	}
	logout := mustCreateSession(t, st, newSession(u.ID, base))
	fresh := []*gatehouse.Session{newSession(u.ID, now), newSession(u.ID, now)}
	orphan := newSession(gatehouse.NewID(), now) // its user does not exist
	dup := newSession(u.ID, now)
	dup.ID = distinct[0].ID
	unknown := gatehouse.NewID()
	feedBefore := len(feed(t, st))

	type result struct {
		ok  bool
		err error
	}
	var (
		writes []func() result
		rotate = func(id string) func() result {
			return func() result {
				ok, err := Rotated(st.RotateSession(ctx, id, 1, now, idle))
				return result{ok, err}
			}
		}
		create = func(s *gatehouse.Session) func() result {
			return func() result { return result{err: st.CreateSession(ctx, s)} }
		}
		revoke = func() result {
			ok, err := st.RevokeSession(ctx, logout.ID, gatehouse.ReasonLogout, now)
			return result{ok, err}
		}
	)
	for _, s := range distinct {
		writes = append(writes, rotate(s.ID))
	}
	const racers = 6
	for range racers {
		writes = append(writes, rotate(raced.ID))
	}
	iRevoked, iUnknown := len(writes), len(writes)+1
	writes = append(writes, rotate(revoked.ID), rotate(unknown))
	iLogout := len(writes)
	writes = append(writes, revoke, revoke)
	iFresh := len(writes)
	writes = append(writes, create(fresh[0]), create(fresh[1]))
	iOrphan, iDup := -1, -1
	if withFailures {
		iOrphan, iDup = len(writes), len(writes)+1
		writes = append(writes, create(orphan), create(dup))
	}

	results := make([]result, len(writes))
	var wg sync.WaitGroup
	launch := func() {
		for i, w := range writes {
			wg.Go(func() { results[i] = w() })
		}
	}
	if around == nil {
		launch()
	} else {
		around(len(writes), launch)
	}
	wg.Wait()

	for i, s := range distinct {
		if r := results[i]; !r.ok || r.err != nil {
			t.Errorf("rotation of distinct session %d = %v, %v; want true", i, r.ok, r.err)
		}
		if g := mustSession(t, st, s.ID).Generation; g != 2 {
			t.Errorf("distinct session %d at generation %d, want 2", i, g)
		}
		if _, err := st.RetiredAt(ctx, s.ID, 1); err != nil {
			t.Errorf("distinct session %d: RetiredAt(1): %v", i, err)
		}
	}
	won := 0
	for _, r := range results[len(distinct) : len(distinct)+racers] {
		if r.err != nil {
			t.Errorf("racing rotation: %v", r.err)
		}
		if r.ok {
			won++
		}
	}
	if won != 1 {
		t.Errorf("%d of %d racing rotations of one generation succeeded, want exactly 1", won, racers)
	}
	if g := mustSession(t, st, raced.ID).Generation; g != 2 {
		t.Errorf("raced session at generation %d, want 2", g)
	}
	if r := results[iRevoked]; r.ok || r.err != nil {
		t.Errorf("rotation of a revoked session = %v, %v; want false, nil", r.ok, r.err)
	}
	if g := mustSession(t, st, revoked.ID).Generation; g != 1 {
		t.Errorf("revoked session rotated to generation %d", g)
	}
	if r := results[iUnknown]; r.ok || !errors.Is(r.err, gatehouse.ErrNotFound) {
		t.Errorf("rotation of an unknown session = %v, %v; want false, ErrNotFound", r.ok, r.err)
	}
	a, b := results[iLogout], results[iLogout+1]
	if a.err != nil || b.err != nil || a.ok == b.ok {
		t.Errorf("two revocations of one session = (%v, %v) and (%v, %v); want exactly one true", a.ok, a.err, b.ok, b.err)
	}
	if got := feedIDs(t, st)[feedBefore:]; len(got) != 1 || got[0] != logout.ID {
		t.Errorf("feed grew by %v, want just the revoked session %s", got, logout.ID)
	}
	for i, s := range fresh {
		if err := results[iFresh+i].err; err != nil {
			t.Errorf("CreateSession(fresh %d): %v", i, err)
			continue
		}
		wantSession(t, mustSession(t, st, s.ID), s)
	}
	if !withFailures {
		return
	}
	if err := results[iOrphan].err; err == nil {
		t.Errorf("CreateSession for an unknown user succeeded")
	}
	if _, err := st.Session(ctx, orphan.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("the session of an unknown user was stored: Session = %v", err)
	}
	wantErr(t, "CreateSession with a taken id", results[iDup].err, gatehouse.ErrConflict)
	if got := mustSession(t, st, distinct[0].ID); got.UserID != distinct[0].UserID || !got.CreatedAt.Equal(base) {
		t.Errorf("a refused duplicate changed the session: %+v", got)
	}
}
