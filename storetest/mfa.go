package storetest

import (
	"context"
	"crypto/sha256"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// amrMFA is what a session says after a password and a TOTP code.
var amrMFA = []string{gatehouse.AMRPassword, gatehouse.AMROTP, gatehouse.AMRMultiFactor}

// hashOf returns a SHA-256, as the Service stores codes and tokens.
func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// hashesOf hashes each of ss.
func hashesOf(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = hashOf(s)
	}
	return out
}

// pendingTOTP returns an unconfirmed factor of user created at base.
func pendingTOTP(userID string) *gatehouse.TOTPFactor {
	return &gatehouse.TOTPFactor{UserID: userID, SealedSecret: gatehouse.RandomBytes(48), CreatedAt: base}
}

// mustEnrol gives the user a confirmed TOTP factor at base with LastStep
// step and the recovery codes of codes.
func mustEnrol(tb testing.TB, st gatehouse.Store, userID string, step int64, codes ...string) *gatehouse.TOTPFactor {
	tb.Helper()
	ctx := context.Background()
	f := pendingTOTP(userID)
	if err := st.PutPendingTOTP(ctx, f); err != nil {
		tb.Fatalf("PutPendingTOTP: %v", err)
	}
	if err := st.ConfirmTOTP(ctx, userID, step, hashesOf(codes...), "", "", nil, base); err != nil {
		tb.Fatalf("ConfirmTOTP: %v", err)
	}
	return f
}

// codesLeft returns RecoveryCodesLeft, failing on an error.
func codesLeft(tb testing.TB, st gatehouse.Store, userID string) int {
	tb.Helper()
	n, err := st.RecoveryCodesLeft(context.Background(), userID)
	if err != nil {
		tb.Fatalf("RecoveryCodesLeft: %v", err)
	}
	return n
}

// race runs fn in n goroutines released at once and counts the true answers.
func race(tb testing.TB, n int, fn func() (bool, error)) int {
	tb.Helper()
	var (
		wins  atomic.Int64
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			ok, err := fn()
			if err != nil {
				tb.Errorf("concurrent call: %v", err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(wins.Load())
}

func testMFA(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()

	t.Run("SessionAssurance", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		raised := newSession(u.ID, base)
		raised.ACR, raised.AMR = gatehouse.AAL2, amrMFA
		mustCreateSession(t, st, raised)
		wantSession(t, mustSession(t, st, raised.ID), raised)

		// No methods at all reads back as nil, not an empty slice.
		for _, amr := range [][]string{nil, {}} {
			bare := newSession(u.ID, at(time.Second))
			bare.AMR = amr
			mustCreateSession(t, st, bare)
			got := mustSession(t, st, bare.ID)
			if got.AMR != nil || got.ACR != "" {
				t.Errorf("session stored with ACR \"\" and AMR %#v reads back ACR %q, AMR %#v; want \"\", nil", amr, got.ACR, got.AMR)
			}
		}

		live, err := st.LiveSessions(ctx, u.ID, at(time.Minute))
		if err != nil || len(live) != 3 {
			t.Fatalf("LiveSessions = %v, %v; want 3", live, err)
		}
		wantSession(t, &live[2], raised) // the oldest
	})

	t.Run("Enrolment", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		_, err := st.TOTP(ctx, u.ID)
		wantErr(t, "TOTP before enrolment", err, gatehouse.ErrNotFound)
		wantErr(t, "PutPendingTOTP of an unknown user", st.PutPendingTOTP(ctx, pendingTOTP(gatehouse.NewID())), gatehouse.ErrNotFound)
		wantErr(t, "ConfirmTOTP without a pending factor",
			st.ConfirmTOTP(ctx, u.ID, 1, nil, "", "", nil, base), gatehouse.ErrNotFound)

		first := pendingTOTP(u.ID)
		first.LastStep = 7
		if err := st.PutPendingTOTP(ctx, first); err != nil {
			t.Fatalf("PutPendingTOTP: %v", err)
		}
		got, err := st.TOTP(ctx, u.ID)
		if err != nil {
			t.Fatalf("TOTP: %v", err)
		}
		if got.UserID != u.ID || !slices.Equal(got.SealedSecret, first.SealedSecret) || got.LastStep != 7 || got.Confirmed() {
			t.Errorf("pending TOTP = %+v, want %+v unconfirmed", got, first)
		}
		wantTime(t, "CreatedAt", got.CreatedAt, base)
		if ok, err := st.UseTOTPStep(ctx, u.ID, 100); ok || err != nil {
			t.Errorf("UseTOTPStep of a pending factor = %v, %v; want false", ok, err)
		}

		// A second enrolment start replaces the pending secret.
		second := pendingTOTP(u.ID)
		second.CreatedAt = at(time.Minute)
		if err := st.PutPendingTOTP(ctx, second); err != nil {
			t.Fatalf("PutPendingTOTP again: %v", err)
		}
		if got, err := st.TOTP(ctx, u.ID); err != nil || !slices.Equal(got.SealedSecret, second.SealedSecret) || got.LastStep != 0 {
			t.Errorf("TOTP after a second PutPendingTOTP = %+v, %v; want the second secret", got, err)
		} else {
			wantTime(t, "CreatedAt", got.CreatedAt, second.CreatedAt)
		}

		sess := newSession(u.ID, base)
		sess.ACR, sess.AMR = gatehouse.AAL1, []string{gatehouse.AMRPassword}
		mustCreateSession(t, st, sess)
		now := at(2 * time.Minute)
		if err := st.ConfirmTOTP(ctx, u.ID, 1234, hashesOf("a", "b", "c"), sess.ID, gatehouse.AAL2, amrMFA, now); err != nil {
			t.Fatalf("ConfirmTOTP: %v", err)
		}
		got, err = st.TOTP(ctx, u.ID)
		if err != nil || !got.Confirmed() || got.LastStep != 1234 || !slices.Equal(got.SealedSecret, second.SealedSecret) {
			t.Fatalf("TOTP after ConfirmTOTP = %+v, %v; want confirmed at step 1234", got, err)
		}
		wantTime(t, "ConfirmedAt", got.ConfirmedAt, now)
		if n := codesLeft(t, st, u.ID); n != 3 {
			t.Errorf("RecoveryCodesLeft after ConfirmTOTP = %d, want 3", n)
		}
		want := *sess
		want.ACR, want.AMR = gatehouse.AAL2, amrMFA
		wantSession(t, mustSession(t, st, sess.ID), &want)

		// Confirmed: neither a second confirmation nor a new pending
		// secret may replace it.
		wantErr(t, "ConfirmTOTP again", st.ConfirmTOTP(ctx, u.ID, 2000, hashesOf("x"), "", "", nil, now), gatehouse.ErrConflict)
		wantErr(t, "PutPendingTOTP over a confirmed factor", st.PutPendingTOTP(ctx, pendingTOTP(u.ID)), gatehouse.ErrConflict)
		if got, err := st.TOTP(ctx, u.ID); err != nil || got.LastStep != 1234 || !slices.Equal(got.SealedSecret, second.SealedSecret) {
			t.Errorf("TOTP after the refused writes = %+v, %v; want it unchanged", got, err)
		}
		if n := codesLeft(t, st, u.ID); n != 3 {
			t.Errorf("RecoveryCodesLeft after a refused ConfirmTOTP = %d, want 3", n)
		}
	})

	t.Run("ConfirmSkipsSessionNotLive", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		other := mustCreateUser(t, st, "other")
		revoked := mustCreateSession(t, st, newSession(u.ID, base))
		if _, err := st.RevokeSession(ctx, revoked.ID, gatehouse.ReasonLogout, base); err != nil {
			t.Fatal(err)
		}
		foreign := mustCreateSession(t, st, newSession(other.ID, base))
		for i, sid := range []string{revoked.ID, gatehouse.NewID(), foreign.ID} {
			if i > 0 {
				if err := st.DeleteTOTP(ctx, u.ID); err != nil {
					t.Fatalf("DeleteTOTP: %v", err)
				}
			}
			if err := st.PutPendingTOTP(ctx, pendingTOTP(u.ID)); err != nil {
				t.Fatalf("PutPendingTOTP: %v", err)
			}
			// The enrolment stands; the session is not raised.
			if err := st.ConfirmTOTP(ctx, u.ID, 5, nil, sid, gatehouse.AAL2, amrMFA, base); err != nil {
				t.Errorf("ConfirmTOTP with session %s: %v; want the factor confirmed anyway", sid, err)
			}
			if f, err := st.TOTP(ctx, u.ID); err != nil || !f.Confirmed() {
				t.Errorf("TOTP = %+v, %v; want confirmed", f, err)
			}
		}
		for _, s := range []*gatehouse.Session{revoked, foreign} {
			if got := mustSession(t, st, s.ID); got.ACR != "" || got.AMR != nil {
				t.Errorf("session %s raised to %q %v by another user's or after revocation", s.ID, got.ACR, got.AMR)
			}
		}
	})

	t.Run("UseTOTPStep", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		if ok, err := st.UseTOTPStep(ctx, u.ID, 5); ok || err != nil {
			t.Errorf("UseTOTPStep without a factor = %v, %v; want false", ok, err)
		}
		mustEnrol(t, st, u.ID, 100)
		for _, tc := range []struct {
			step int64
			want bool
		}{
			{100, false}, // the confirming code's step
			{99, false},
			{101, true},
			{101, false}, // the same code again (RFC 6238 §5.2)
			{100, false},
			{105, true},
			{103, false}, // an earlier step after a later one
		} {
			if ok, err := st.UseTOTPStep(ctx, u.ID, tc.step); ok != tc.want || err != nil {
				t.Errorf("UseTOTPStep(%d) = %v, %v; want %v", tc.step, ok, err, tc.want)
			}
		}
		if wins := race(t, 16, func() (bool, error) { return st.UseTOTPStep(ctx, u.ID, 200) }); wins != 1 {
			t.Errorf("16 concurrent UseTOTPStep(200): %d recorded, want exactly 1", wins)
		}
		if f, err := st.TOTP(ctx, u.ID); err != nil || f.LastStep != 200 {
			t.Errorf("TOTP = %+v, %v; want LastStep 200", f, err)
		}
	})

	t.Run("DeleteTOTP", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		other := mustCreateUser(t, st, "other")
		wantErr(t, "DeleteTOTP without a factor", st.DeleteTOTP(ctx, u.ID), gatehouse.ErrNotFound)
		mustEnrol(t, st, u.ID, 1, "a", "b")
		mustEnrol(t, st, other.ID, 1, "a", "b")
		if err := st.DeleteTOTP(ctx, u.ID); err != nil {
			t.Fatalf("DeleteTOTP: %v", err)
		}
		_, err := st.TOTP(ctx, u.ID)
		wantErr(t, "TOTP after DeleteTOTP", err, gatehouse.ErrNotFound)
		if n := codesLeft(t, st, u.ID); n != 0 {
			t.Errorf("RecoveryCodesLeft after DeleteTOTP = %d, want 0", n)
		}
		if ok, err := st.UseRecoveryCode(ctx, u.ID, hashOf("a"), base); ok || err != nil {
			t.Errorf("UseRecoveryCode after DeleteTOTP = %v, %v; want false", ok, err)
		}
		wantErr(t, "DeleteTOTP twice", st.DeleteTOTP(ctx, u.ID), gatehouse.ErrNotFound)
		// The other user keeps everything; the user may enrol again.
		if f, err := st.TOTP(ctx, other.ID); err != nil || !f.Confirmed() || codesLeft(t, st, other.ID) != 2 {
			t.Errorf("other user's factor = %+v, %v after DeleteTOTP of another", f, err)
		}
		if err := st.PutPendingTOTP(ctx, pendingTOTP(u.ID)); err != nil {
			t.Errorf("PutPendingTOTP after DeleteTOTP: %v", err)
		}
		// A pending factor is a factor too.
		if err := st.DeleteTOTP(ctx, u.ID); err != nil {
			t.Errorf("DeleteTOTP of a pending factor: %v", err)
		}
	})

	t.Run("RecoveryCodes", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		other := mustCreateUser(t, st, "other")
		wantErr(t, "ReplaceRecoveryCodes of an unknown user",
			st.ReplaceRecoveryCodes(ctx, gatehouse.NewID(), hashesOf("a"), base), gatehouse.ErrNotFound)
		if n := codesLeft(t, st, u.ID); n != 0 {
			t.Errorf("RecoveryCodesLeft of a new user = %d", n)
		}
		if err := st.ReplaceRecoveryCodes(ctx, u.ID, hashesOf("a", "b", "c"), base); err != nil {
			t.Fatalf("ReplaceRecoveryCodes: %v", err)
		}
		if err := st.ReplaceRecoveryCodes(ctx, other.ID, hashesOf("a", "z"), base); err != nil {
			t.Fatalf("ReplaceRecoveryCodes: %v", err)
		}
		use := func(userID, code string, want bool) {
			t.Helper()
			if ok, err := st.UseRecoveryCode(ctx, userID, hashOf(code), at(time.Minute)); ok != want || err != nil {
				t.Errorf("UseRecoveryCode(%q) = %v, %v; want %v", code, ok, err, want)
			}
		}
		use(u.ID, "a", true)
		use(u.ID, "a", false) // each code works once
		use(u.ID, "z", false) // another user's code
		use(u.ID, "nope", false)
		use(gatehouse.NewID(), "b", false)
		if n := codesLeft(t, st, u.ID); n != 2 {
			t.Errorf("RecoveryCodesLeft = %d, want 2", n)
		}
		if n := codesLeft(t, st, other.ID); n != 2 {
			t.Errorf("other user's RecoveryCodesLeft = %d, want 2 (its \"a\" is its own)", n)
		}

		// New codes: the old ones, used or not, die.
		if err := st.ReplaceRecoveryCodes(ctx, u.ID, hashesOf("d", "e"), at(time.Hour)); err != nil {
			t.Fatalf("ReplaceRecoveryCodes: %v", err)
		}
		if n := codesLeft(t, st, u.ID); n != 2 {
			t.Errorf("RecoveryCodesLeft after replacing = %d, want 2", n)
		}
		use(u.ID, "b", false)
		use(u.ID, "d", true)
		if wins := race(t, 16, func() (bool, error) {
			return st.UseRecoveryCode(ctx, u.ID, hashOf("e"), at(time.Hour))
		}); wins != 1 {
			t.Errorf("16 concurrent uses of one recovery code: %d succeeded, want exactly 1", wins)
		}
		if n := codesLeft(t, st, u.ID); n != 0 {
			t.Errorf("RecoveryCodesLeft after using all = %d, want 0", n)
		}
		if err := st.ReplaceRecoveryCodes(ctx, u.ID, nil, at(time.Hour)); err != nil {
			t.Errorf("ReplaceRecoveryCodes with none: %v", err)
		}
	})

	t.Run("RaiseSession", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		s := newSession(u.ID, base)
		s.ACR, s.AMR = gatehouse.AAL1, []string{gatehouse.AMRPassword}
		mustCreateSession(t, st, s)
		if err := st.RaiseSession(ctx, s.ID, gatehouse.AAL2, amrMFA); err != nil {
			t.Fatalf("RaiseSession: %v", err)
		}
		want := *s
		want.ACR, want.AMR = gatehouse.AAL2, amrMFA
		wantSession(t, mustSession(t, st, s.ID), &want)

		wantErr(t, "RaiseSession of an unknown session", st.RaiseSession(ctx, gatehouse.NewID(), gatehouse.AAL2, amrMFA), gatehouse.ErrNotFound)
		r := newSession(u.ID, base)
		r.ACR, r.AMR = gatehouse.AAL1, []string{gatehouse.AMRPassword}
		mustCreateSession(t, st, r)
		if _, err := st.RevokeSession(ctx, r.ID, gatehouse.ReasonLogout, base); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "RaiseSession of a revoked session", st.RaiseSession(ctx, r.ID, gatehouse.AAL2, amrMFA), gatehouse.ErrNotFound)
		if got := mustSession(t, st, r.ID); got.ACR != gatehouse.AAL1 || !slices.Equal(got.AMR, r.AMR) {
			t.Errorf("revoked session raised to %q %v", got.ACR, got.AMR)
		}
	})

	t.Run("Challenges", func(t *testing.T) { testMFAChallenges(t, open) })
	t.Run("ResetMFA", func(t *testing.T) { testResetMFA(t, open) })
}
