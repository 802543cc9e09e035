package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

func testSessions(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		zone := time.FixedZone("UTC-7", -7*3600)
		want := &gatehouse.Session{
			ID:            gatehouse.NewID(),
			UserID:        u.ID,
			Secret:        append([]byte{0, 0xff, 0}, gatehouse.RandomBytes(29)...), // NULs and high bytes survive
			Generation:    7,
			CreatedAt:     at(1 * time.Microsecond).In(zone),
			LastUsedAt:    at(2 * time.Second),
			RotatedAt:     at(3 * time.Second),
			IdleExpiresAt: at(4 * time.Hour),
			ExpiresAt:     at(720 * time.Hour),
			UserAgent:     "Mozilla/5.0 (X11; Linux x86_64) ✓",
			IP:            "2001:db8::1",
		}
		mustCreateSession(t, st, want)
		wantSession(t, mustSession(t, st, want.ID), want)
	})

	t.Run("RoundTripRevoked", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		want := newSession(u.ID, base)
		want.RevokedAt, want.RevokeReason = at(time.Minute), gatehouse.ReasonAdmin
		mustCreateSession(t, st, want)
		got := mustSession(t, st, want.ID)
		wantSession(t, got, want)
		if !got.Revoked() {
			t.Errorf("a session stored revoked reads back live")
		}
	})

	t.Run("DuplicateID", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		s := mustCreateSession(t, st, newSession(u.ID, base))
		dup := newSession(u.ID, at(time.Second))
		dup.ID = s.ID
		wantErr(t, "CreateSession with a taken id", st.CreateSession(ctx, dup), gatehouse.ErrConflict)
		wantSession(t, mustSession(t, st, s.ID), s)
	})

	t.Run("UnknownUser", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		s := newSession(gatehouse.NewID(), base)
		if err := st.CreateSession(ctx, s); err == nil {
			t.Errorf("CreateSession for a user that does not exist succeeded")
		}
		if _, err := st.Session(ctx, s.ID); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("the refused session was stored: Session = %v", err)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		mustCreateSession(t, st, newSession(u.ID, base))
		unknown := gatehouse.NewID()
		_, err := st.Session(ctx, unknown)
		wantErr(t, "Session(unknown)", err, gatehouse.ErrNotFound)
		_, err = st.RetiredAt(ctx, unknown, 1)
		wantErr(t, "RetiredAt(unknown)", err, gatehouse.ErrNotFound)
		ok, err := st.RevokeSession(ctx, unknown, gatehouse.ReasonLogout, base)
		wantErr(t, "RevokeSession(unknown)", err, gatehouse.ErrNotFound)
		if ok {
			t.Errorf("RevokeSession(unknown) reported a revocation")
		}
		ok, err = Rotated(st.RotateSession(ctx, unknown, 1, base, at(time.Hour)))
		wantErr(t, "RotateSession(unknown)", err, gatehouse.ErrNotFound)
		if ok {
			t.Errorf("RotateSession(unknown) reported a rotation")
		}
		if n := len(feed(t, st)); n != 0 {
			t.Errorf("feed has %d entries after failed calls, want 0", n)
		}
		revs, err := st.LiveSessions(ctx, unknown, base)
		if err != nil || len(revs) != 0 {
			t.Errorf("LiveSessions(unknown user) = %v, %v; want none", revs, err)
		}
	})

	t.Run("Live", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		other := mustCreateUser(t, st, "other")
		now := at(time.Hour)

		oldest := mustCreateSession(t, st, newSession(u.ID, at(1*time.Minute)))
		newest := mustCreateSession(t, st, newSession(u.ID, at(3*time.Minute)))
		middle := mustCreateSession(t, st, newSession(u.ID, at(2*time.Minute)))

		revoked := newSession(u.ID, at(4*time.Minute))
		mustCreateSession(t, st, revoked)
		if ok, err := st.RevokeSession(ctx, revoked.ID, gatehouse.ReasonLogout, at(5*time.Minute)); !ok || err != nil {
			t.Fatalf("RevokeSession = %v, %v", ok, err)
		}
		absolute := newSession(u.ID, at(5*time.Minute))
		absolute.ExpiresAt = now // expiry is exclusive: at now it is over
		mustCreateSession(t, st, absolute)
		idle := newSession(u.ID, at(6*time.Minute))
		idle.IdleExpiresAt = now.Add(-time.Microsecond)
		mustCreateSession(t, st, idle)
		mustCreateSession(t, st, newSession(other.ID, at(7*time.Minute)))

		got, err := st.LiveSessions(ctx, u.ID, now)
		if err != nil {
			t.Fatalf("LiveSessions: %v", err)
		}
		want := []string{newest.ID, middle.ID, oldest.ID}
		if !slices.Equal(ids(got), want) {
			t.Errorf("LiveSessions = %v, want %v (newest first)", ids(got), want)
		}
		for i := range got {
			if !got[i].Live(now) {
				t.Errorf("LiveSessions returned %s, which is not Live", got[i].ID)
			}
			if got[i].ID == middle.ID {
				wantSession(t, &got[i], middle)
			}
		}
		// A microsecond before idle expiry, the idle session is live.
		got, err = st.LiveSessions(ctx, u.ID, idle.IdleExpiresAt.Add(-time.Microsecond))
		if err != nil || !slices.Contains(ids(got), idle.ID) {
			t.Errorf("LiveSessions just before idle expiry = %v, %v; want it to hold %s", ids(got), err, idle.ID)
		}
	})
}

func testRotate(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()

	t.Run("Basic", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		stepped := newSession(u.ID, base)
		stepped.ACR, stepped.AMR = gatehouse.AAL2, []string{"pwd", "otp", "mfa"}
		s := mustCreateSession(t, st, stepped)
		now, idle := at(time.Minute), at(time.Minute+time.Hour)

		rotated, err := st.RotateSession(ctx, s.ID, 1, now, idle)
		if err != nil || rotated == nil {
			t.Fatalf("RotateSession(1) = %v, %v; want the rotated session", rotated, err)
		}
		want := *s
		want.Generation, want.RotatedAt, want.LastUsedAt, want.IdleExpiresAt = 2, now, now, idle
		wantSession(t, rotated, &want) // what it returns is what it stored
		wantSession(t, mustSession(t, st, s.ID), &want)
		ok := false
		retired, err := st.RetiredAt(ctx, s.ID, 1)
		if err != nil {
			t.Fatalf("RetiredAt(1): %v", err)
		}
		wantTime(t, "RetiredAt(1)", retired, now)
		_, err = st.RetiredAt(ctx, s.ID, 2)
		wantErr(t, "RetiredAt(current generation)", err, gatehouse.ErrNotFound)

		// The same token again: the swap must fail and change nothing.
		ok, err = Rotated(st.RotateSession(ctx, s.ID, 1, at(2*time.Minute), at(3*time.Hour)))
		if err != nil || ok {
			t.Fatalf("second RotateSession(1) = %v, %v; want false, nil", ok, err)
		}
		wantSession(t, mustSession(t, st, s.ID), &want)
		retired, err = st.RetiredAt(ctx, s.ID, 1)
		if err != nil {
			t.Fatalf("RetiredAt(1) after a lost swap: %v", err)
		}
		wantTime(t, "RetiredAt(1) after a lost swap", retired, now)

		// A generation that was never issued does not rotate either.
		if ok, err := Rotated(st.RotateSession(ctx, s.ID, 5, now, idle)); ok || err != nil {
			t.Errorf("RotateSession(5) = %v, %v; want false, nil", ok, err)
		}
	})

	// A session past either expiry does not rotate, whatever its
	// generation: the swap also checks that the session is live at now.
	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		s := mustCreateSession(t, st, newSession(u.ID, base)) // idle until base+1h
		for _, now := range []time.Time{s.IdleExpiresAt, s.ExpiresAt.Add(time.Second)} {
			rotated, err := st.RotateSession(ctx, s.ID, 1, now, now.Add(time.Hour))
			if err != nil || rotated != nil {
				t.Errorf("RotateSession at %v = %v, %v; want nil, nil", now.Sub(base), rotated, err)
			}
		}
		wantSession(t, mustSession(t, st, s.ID), s)
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		s := mustCreateSession(t, st, newSession(u.ID, base))
		for round, from := range []int64{1, 2} {
			now := at(time.Duration(round+1) * time.Minute)
			const racers = 32
			var (
				wg    sync.WaitGroup
				start = make(chan struct{})
				wins  = make([]bool, racers)
				errs  = make([]error, racers)
			)
			for i := range racers {
				wg.Go(func() {
					<-start
					wins[i], errs[i] = Rotated(st.RotateSession(ctx, s.ID, from, now, now.Add(time.Hour)))
				})
			}
			close(start)
			wg.Wait()
			won := 0
			for i := range racers {
				if errs[i] != nil {
					t.Errorf("round %d racer %d: %v", round, i, errs[i])
				}
				if wins[i] {
					won++
				}
			}
			if won != 1 {
				t.Errorf("round %d: %d of %d concurrent rotations of generation %d succeeded, want exactly 1", round, won, racers, from)
			}
			if g := mustSession(t, st, s.ID).Generation; g != from+1 {
				t.Errorf("round %d: generation = %d, want %d", round, g, from+1)
			}
			retired, err := st.RetiredAt(ctx, s.ID, from)
			if err != nil {
				t.Errorf("round %d: RetiredAt(%d): %v", round, from, err)
			}
			wantTime(t, "RetiredAt", retired, now)
		}
	})

	// The session keeps its last RetirementsKept retirements, each at its
	// generation; an older one is not recorded, and neither is another
	// session's.
	t.Run("KeepsTheLastRetirements", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		s := mustCreateSession(t, st, newSession(u.ID, base))
		bystander := mustCreateSession(t, st, newSession(u.ID, base))
		rotate := func(id string, from int64, now time.Time) {
			t.Helper()
			if ok, err := Rotated(st.RotateSession(ctx, id, from, now, now.Add(time.Hour))); !ok || err != nil {
				t.Fatalf("RotateSession(%d) = %v, %v", from, ok, err)
			}
		}
		retiredAt := func(gen int64) time.Time { return at(time.Duration(gen) * time.Second) }
		rotate(bystander.ID, 1, at(0))
		const rotations = gatehouse.RetirementsKept + 3
		for from := int64(1); from <= rotations; from++ {
			rotate(s.ID, from, retiredAt(from))
			// After each rotation, the last RetirementsKept generations
			// (and only they) answer, each with its own time.
			for gen := int64(1); gen <= from+1; gen++ {
				got, err := st.RetiredAt(ctx, s.ID, gen)
				if kept := gen <= from && gen > from-gatehouse.RetirementsKept; !kept {
					wantErr(t, fmt.Sprintf("after %d rotations, RetiredAt(%d)", from, gen), err, gatehouse.ErrNotFound)
					continue
				}
				if err != nil {
					t.Fatalf("after %d rotations, RetiredAt(%d): %v", from, gen, err)
				}
				wantTime(t, fmt.Sprintf("after %d rotations, RetiredAt(%d)", from, gen), got, retiredAt(gen))
			}
		}
		if got, err := st.RetiredAt(ctx, bystander.ID, 1); err != nil || !got.Equal(at(0)) {
			t.Errorf("another session's retirement = %v, %v; want %v", got, err, at(0))
		}
		_, err := st.RetiredAt(ctx, bystander.ID, 0)
		wantErr(t, "RetiredAt(0), never issued", err, gatehouse.ErrNotFound)
	})

	t.Run("RevokedDoesNotRotate", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		s := mustCreateSession(t, st, newSession(u.ID, base))
		if ok, err := st.RevokeSession(ctx, s.ID, gatehouse.ReasonReuse, at(time.Second)); !ok || err != nil {
			t.Fatalf("RevokeSession = %v, %v", ok, err)
		}
		ok, err := Rotated(st.RotateSession(ctx, s.ID, 1, at(2*time.Second), at(time.Hour)))
		if ok || err != nil {
			t.Errorf("RotateSession of a revoked session = %v, %v; want false, nil", ok, err)
		}
		got := mustSession(t, st, s.ID)
		if got.Generation != 1 || !got.RotatedAt.Equal(s.RotatedAt) || !got.IdleExpiresAt.Equal(s.IdleExpiresAt) {
			t.Errorf("a revoked session changed: %+v", got)
		}
		_, err = st.RetiredAt(ctx, s.ID, 1)
		wantErr(t, "RetiredAt after a refused rotation", err, gatehouse.ErrNotFound)
	})
}

// Rotated turns RotateSession's answer into whether it rotated, for tests
// that only ask that.
func Rotated(s *gatehouse.Session, err error) (bool, error) { return s != nil, err }
