package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

func testPrune(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()
	t.Parallel()
	st := open(t)
	u := mustCreateUser(t, st, "u")

	var (
		now            = at(10 * time.Hour)
		sessionsBefore = at(5 * time.Hour)
		feedBefore     = at(8 * time.Hour)
		keysBefore     = at(6 * time.Hour)
	)

	// Sessions: an expiry before sessionsBefore, absolute or idle, ends it.
	session := func(idle, expires time.Time) *gatehouse.Session {
		s := newSession(u.ID, base)
		s.IdleExpiresAt, s.ExpiresAt = idle, expires
		return mustCreateSession(t, st, s)
	}
	absolute := session(at(3*time.Hour), at(4*time.Hour))
	idle := session(at(4*time.Hour), at(24*time.Hour))
	live := session(at(11*time.Hour), at(24*time.Hour))
	recent := session(at(6*time.Hour), at(6*time.Hour)) // expired, but after sessionsBefore
	revokedEarly := session(at(11*time.Hour), at(24*time.Hour))
	revokedLate := session(at(11*time.Hour), at(24*time.Hour))

	// Retirements: before and after feedBefore, which does not matter.
	for _, r := range []struct {
		from int64
		at   time.Time
	}{{1, at(1 * time.Hour)}, {2, at(9 * time.Hour)}} {
		if ok, err := Rotated(st.RotateSession(ctx, live.ID, r.from, r.at, at(11*time.Hour))); !ok || err != nil {
			t.Fatalf("RotateSession = %v, %v", ok, err)
		}
	}

	// Feed entries: before and after feedBefore.
	for _, r := range []struct {
		id string
		at time.Time
	}{{revokedEarly.ID, base}, {revokedLate.ID, at(9 * time.Hour)}} {
		if ok, err := st.RevokeSession(ctx, r.id, gatehouse.ReasonLogout, r.at); !ok || err != nil {
			t.Fatalf("RevokeSession = %v, %v", ok, err)
		}
	}

	// Attempt windows: one ended before now, one still running.
	if _, _, err := st.AddAttempt(ctx, "ended", at(8*time.Hour), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.AddAttempt(ctx, "running", at(9*time.Hour), 2*time.Hour); err != nil {
		t.Fatal(err)
	}

	// Keys: k1 retired at 2h (before keysBefore), k2 at 7h, k3 signs.
	for i, created := range []time.Time{at(1 * time.Hour), at(2 * time.Hour), at(7 * time.Hour)} {
		if err := st.AddSigningKey(ctx, newKey([]string{"k1", "k2", "k3"}[i], created)); err != nil {
			t.Fatal(err)
		}
	}

	if err := st.Prune(ctx, now, sessionsBefore, feedBefore, keysBefore); err != nil {
		t.Fatalf("Prune: %v", err)
	}

	t.Run("Sessions", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			id   string
			kept bool
		}{
			{"absolute expiry before sessionsBefore", absolute.ID, false},
			{"idle expiry before sessionsBefore", idle.ID, false},
			{"live", live.ID, true},
			{"expired after sessionsBefore", recent.ID, true},
			{"revoked, not expired", revokedEarly.ID, true},
			{"revoked late, not expired", revokedLate.ID, true},
		} {
			_, err := st.Session(ctx, tc.id)
			switch {
			case tc.kept && err != nil:
				t.Errorf("%s: pruned (%v), want kept", tc.name, err)
			case !tc.kept && !errors.Is(err, gatehouse.ErrNotFound):
				t.Errorf("%s: Session = %v, want pruned", tc.name, err)
			}
		}
	})

	// A session's retirements live in its row (RetirementsKept of them):
	// Prune leaves a live session's alone, however old.
	t.Run("Retirements", func(t *testing.T) {
		for gen, when := range map[int64]time.Time{1: at(1 * time.Hour), 2: at(9 * time.Hour)} {
			if got, err := st.RetiredAt(ctx, live.ID, gen); err != nil || !got.Equal(when) {
				t.Errorf("RetiredAt(%d) after Prune = %v, %v; want %v", gen, got, err, when)
			}
		}
	})

	t.Run("Feed", func(t *testing.T) {
		revs := feed(t, st)
		if len(revs) != 1 || revs[0].SessionID != revokedLate.ID {
			t.Fatalf("feed after Prune = %v, want only %s", revs, revokedLate.ID)
		}
		if last, err := st.LastRevocationSeq(ctx); err != nil || last != revs[0].Seq {
			t.Errorf("LastRevocationSeq = %d, %v; want %d", last, err, revs[0].Seq)
		}
	})

	t.Run("Attempts", func(t *testing.T) {
		// Read as of a time inside the ended window: a pruned counter is gone.
		if n, _, err := st.Attempts(ctx, "ended", at(8*time.Hour)); n != 0 || err != nil {
			t.Errorf("ended window after Prune: count %d, %v; want pruned", n, err)
		}
		if n, _, err := st.Attempts(ctx, "running", now); n != 1 || err != nil {
			t.Errorf("running window after Prune: count %d, %v; want 1", n, err)
		}
	})

	t.Run("SigningKeys", func(t *testing.T) {
		keys, err := st.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var kids []string
		for _, k := range keys {
			kids = append(kids, k.KID)
		}
		if !slices.Equal(kids, []string{"k3", "k2"}) {
			t.Errorf("keys after Prune = %v, want [k3 k2]", kids)
		}
	})
}
