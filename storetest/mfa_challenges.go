package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// mustCreateChallenge stores a challenge of user created at base, live for
// five minutes (CONTRACT §8), and returns it.
func mustCreateChallenge(tb testing.TB, st gatehouse.Store, userID string) *gatehouse.MFAChallenge {
	tb.Helper()
	c := &gatehouse.MFAChallenge{
		Hash:      hashOf(gatehouse.NewID()),
		UserID:    userID,
		Address:   "192.0.2.0/24",
		CreatedAt: base,
		ExpiresAt: at(5 * time.Minute),
	}
	if err := st.CreateMFAChallenge(context.Background(), c); err != nil {
		tb.Fatalf("CreateMFAChallenge: %v", err)
	}
	return c
}

// challengeGone fails unless the challenge of hash is not found at now.
func challengeGone(tb testing.TB, st gatehouse.Store, what string, hash []byte, now time.Time) {
	tb.Helper()
	_, err := st.MFAChallenge(context.Background(), hash, now)
	wantErr(tb, what, err, gatehouse.ErrNotFound)
}

func testMFAChallenges(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()

	t.Run("RoundTripAndExpiry", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		c := mustCreateChallenge(t, st, u.ID)
		got, err := st.MFAChallenge(ctx, c.Hash, at(time.Minute))
		if err != nil {
			t.Fatalf("MFAChallenge: %v", err)
		}
		if !slices.Equal(got.Hash, c.Hash) || got.UserID != u.ID || got.Address != c.Address || got.Failures != 0 {
			t.Errorf("MFAChallenge = %+v, want %+v", got, c)
		}
		wantTime(t, "CreatedAt", got.CreatedAt, c.CreatedAt)
		wantTime(t, "ExpiresAt", got.ExpiresAt, c.ExpiresAt)
		challengeGone(t, st, "MFAChallenge at its expiry", c.Hash, c.ExpiresAt)
		challengeGone(t, st, "MFAChallenge of an unknown hash", hashOf("unknown"), base)

		dup := *c
		dup.UserID = mustCreateUser(t, st, "other").ID
		wantErr(t, "CreateMFAChallenge of a taken hash", st.CreateMFAChallenge(ctx, &dup), gatehouse.ErrConflict)
		stranger := *c
		stranger.Hash, stranger.UserID = hashOf("stranger"), gatehouse.NewID()
		wantErr(t, "CreateMFAChallenge of an unknown user", st.CreateMFAChallenge(ctx, &stranger), gatehouse.ErrNotFound)
	})

	t.Run("Failures", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		c := mustCreateChallenge(t, st, u.ID)
		for want := 1; want <= 2; want++ {
			if n, err := st.FailMFAChallenge(ctx, c.Hash, 3); n != want || err != nil {
				t.Fatalf("FailMFAChallenge = %d, %v; want %d", n, err, want)
			}
			if got, err := st.MFAChallenge(ctx, c.Hash, base); err != nil || got.Failures != want {
				t.Fatalf("MFAChallenge after %d failures = %+v, %v", want, got, err)
			}
		}
		if n, err := st.FailMFAChallenge(ctx, c.Hash, 3); n != 3 || err != nil {
			t.Fatalf("third FailMFAChallenge = %d, %v; want 3", n, err)
		}
		challengeGone(t, st, "MFAChallenge after max failures", c.Hash, base)
		if ok, err := st.ConsumeMFAChallenge(ctx, c.Hash, base); ok || err != nil {
			t.Errorf("ConsumeMFAChallenge after max failures = %v, %v; want false", ok, err)
		}
		if n, err := st.FailMFAChallenge(ctx, c.Hash, 3); n != 0 || err != nil {
			t.Errorf("FailMFAChallenge of a dead challenge = %d, %v; want 0, nil", n, err)
		}

		// Concurrent wrong codes are all counted: of 5 at once with max 5
		// exactly one reaches 5, and the challenge is gone.
		c2 := mustCreateChallenge(t, st, u.ID)
		if hits := race(t, 5, func() (bool, error) {
			n, err := st.FailMFAChallenge(ctx, c2.Hash, 5)
			return n == 5, err
		}); hits != 1 {
			t.Errorf("5 concurrent FailMFAChallenge: %d reached 5, want exactly 1", hits)
		}
		challengeGone(t, st, "MFAChallenge after 5 concurrent failures", c2.Hash, base)
	})

	t.Run("Consume", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		c := mustCreateChallenge(t, st, u.ID)
		if ok, err := st.ConsumeMFAChallenge(ctx, c.Hash, c.ExpiresAt); ok || err != nil {
			t.Errorf("ConsumeMFAChallenge at its expiry = %v, %v; want false", ok, err)
		}
		if ok, err := st.ConsumeMFAChallenge(ctx, c.Hash, at(time.Minute)); !ok || err != nil {
			t.Fatalf("ConsumeMFAChallenge = %v, %v; want true", ok, err)
		}
		challengeGone(t, st, "MFAChallenge after use", c.Hash, at(time.Minute))
		if ok, err := st.ConsumeMFAChallenge(ctx, c.Hash, at(time.Minute)); ok || err != nil {
			t.Errorf("second ConsumeMFAChallenge = %v, %v; want false", ok, err)
		}

		c2 := mustCreateChallenge(t, st, u.ID)
		if wins := race(t, 16, func() (bool, error) { return st.ConsumeMFAChallenge(ctx, c2.Hash, at(time.Minute)) }); wins != 1 {
			t.Errorf("16 concurrent ConsumeMFAChallenge: %d won, want exactly 1", wins)
		}
	})

	t.Run("Prune", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		dead := mustCreateChallenge(t, st, u.ID)
		live := &gatehouse.MFAChallenge{Hash: hashOf("live"), UserID: u.ID, Address: "a",
			CreatedAt: base, ExpiresAt: at(6 * time.Minute)}
		if err := st.CreateMFAChallenge(ctx, live); err != nil {
			t.Fatal(err)
		}
		// Prune at the first one's expiry: that one goes, the other stays.
		if err := st.Prune(ctx, dead.ExpiresAt, at(-time.Hour), at(-time.Hour), at(-time.Hour)); err != nil {
			t.Fatalf("Prune: %v", err)
		}
		// Asked at base, when both were live, only a deleted row is missing.
		challengeGone(t, st, "MFAChallenge pruned at its expiry", dead.Hash, base)
		if _, err := st.MFAChallenge(ctx, live.Hash, base); err != nil {
			t.Errorf("MFAChallenge not yet expired, after Prune: %v", err)
		}
	})
}

func testResetMFA(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	t.Parallel()
	ctx := context.Background()
	st := open(t)
	u := mustCreateUser(t, st, "u")
	other := mustCreateUser(t, st, "other")
	mustEnrol(t, st, u.ID, 1, "a", "b")
	mustEnrol(t, st, other.ID, 1, "a", "b")
	c := mustCreateChallenge(t, st, u.ID)
	oc := mustCreateChallenge(t, st, other.ID)
	s1 := mustCreateSession(t, st, newSession(u.ID, base))
	s2 := mustCreateSession(t, st, newSession(u.ID, base))
	ended := mustCreateSession(t, st, newSession(u.ID, base))
	if _, err := st.RevokeSession(ctx, ended.ID, gatehouse.ReasonLogout, base); err != nil {
		t.Fatal(err)
	}
	otherSess := mustCreateSession(t, st, newSession(other.ID, base))
	cursor, err := st.LastRevocationSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}

	now := at(time.Minute)
	revoked, err := st.ResetMFA(ctx, u.ID, gatehouse.ReasonMFAReset, now)
	if err != nil {
		t.Fatalf("ResetMFA: %v", err)
	}
	if !sameSet(revoked, []string{s1.ID, s2.ID}) {
		t.Errorf("ResetMFA revoked %v, want the two live sessions %v", revoked, []string{s1.ID, s2.ID})
	}
	_, err = st.TOTP(ctx, u.ID)
	wantErr(t, "TOTP after ResetMFA", err, gatehouse.ErrNotFound)
	if n := codesLeft(t, st, u.ID); n != 0 {
		t.Errorf("RecoveryCodesLeft after ResetMFA = %d", n)
	}
	challengeGone(t, st, "MFAChallenge after ResetMFA", c.Hash, base)
	for _, s := range []*gatehouse.Session{s1, s2} {
		got := mustSession(t, st, s.ID)
		wantTime(t, "RevokedAt", got.RevokedAt, now)
		if got.RevokeReason != gatehouse.ReasonMFAReset {
			t.Errorf("session revoked with reason %q, want %q", got.RevokeReason, gatehouse.ReasonMFAReset)
		}
	}
	if got := mustSession(t, st, ended.ID); got.RevokeReason != gatehouse.ReasonLogout {
		t.Errorf("an already revoked session was revoked again: reason %q", got.RevokeReason)
	}
	news, err := st.Revocations(ctx, cursor, 100)
	if err != nil {
		t.Fatal(err)
	}
	var fed []string
	for _, r := range news {
		fed = append(fed, r.SessionID)
	}
	if !sameSet(fed, []string{s1.ID, s2.ID}) {
		t.Errorf("feed after ResetMFA = %v, want each revoked session once", fed)
	}

	// The other user keeps everything.
	if f, err := st.TOTP(ctx, other.ID); err != nil || !f.Confirmed() {
		t.Errorf("other user's TOTP after ResetMFA = %+v, %v", f, err)
	}
	if n := codesLeft(t, st, other.ID); n != 2 {
		t.Errorf("other user's RecoveryCodesLeft = %d, want 2", n)
	}
	if _, err := st.MFAChallenge(ctx, oc.Hash, base); err != nil {
		t.Errorf("other user's challenge after ResetMFA: %v", err)
	}
	if got := mustSession(t, st, otherSess.ID); !got.RevokedAt.IsZero() {
		t.Error("other user's session revoked by ResetMFA")
	}

	// Nothing left to reset: no error, nothing revoked.
	if again, err := st.ResetMFA(ctx, u.ID, gatehouse.ReasonMFAReset, at(2*time.Minute)); err != nil || len(again) != 0 {
		t.Errorf("second ResetMFA = %v, %v; want nothing", again, err)
	}
}
