package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// mustCreateWebAuthnChallenge stores a challenge of the ceremony for user
// (empty: a discoverable login) created at base, live for five minutes
// (CONTRACT §8), and returns it.
func mustCreateWebAuthnChallenge(tb testing.TB, st gatehouse.Store, ceremony, userID string) *gatehouse.WebAuthnChallenge {
	tb.Helper()
	c := &gatehouse.WebAuthnChallenge{
		ID:        gatehouse.NewID(),
		Ceremony:  ceremony,
		UserID:    userID,
		Session:   append([]byte(`{"challenge":"`), append(gatehouse.RandomBytes(32), `"}`...)...),
		CreatedAt: base,
		ExpiresAt: at(5 * time.Minute),
	}
	if err := st.CreateWebAuthnChallenge(context.Background(), c); err != nil {
		tb.Fatalf("CreateWebAuthnChallenge: %v", err)
	}
	return c
}

// wantWebAuthnChallenge compares every field of two challenges.
func wantWebAuthnChallenge(tb testing.TB, got, want *gatehouse.WebAuthnChallenge) {
	tb.Helper()
	if got.ID != want.ID || got.Ceremony != want.Ceremony || got.UserID != want.UserID {
		tb.Errorf("webauthn challenge = %+v,\nwant %+v", got, want)
	}
	if !bytes.Equal(got.Session, want.Session) {
		tb.Errorf("webauthn challenge %s: Session = %q, want %q", want.ID, got.Session, want.Session)
	}
	wantTime(tb, "CreatedAt", got.CreatedAt, want.CreatedAt)
	wantTime(tb, "ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

// webauthnGone fails unless consuming the challenge id at now finds none.
func webauthnGone(tb testing.TB, st gatehouse.Store, what, id string, now time.Time) {
	tb.Helper()
	c, err := st.ConsumeWebAuthnChallenge(context.Background(), id, now)
	wantErr(tb, what, err, gatehouse.ErrNotFound)
	if c != nil {
		tb.Errorf("%s returned %+v with its error", what, c)
	}
}

func testWebAuthnChallenges(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	ctx := context.Background()

	t.Run("ConsumeOnce", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		reg := mustCreateWebAuthnChallenge(t, st, gatehouse.CeremonyRegister, u.ID)
		login := mustCreateWebAuthnChallenge(t, st, gatehouse.CeremonyLogin, "")

		for _, c := range []*gatehouse.WebAuthnChallenge{reg, login} {
			got, err := st.ConsumeWebAuthnChallenge(ctx, c.ID, at(time.Minute))
			if err != nil {
				t.Fatalf("ConsumeWebAuthnChallenge(%s): %v", c.Ceremony, err)
			}
			wantWebAuthnChallenge(t, got, c)
			webauthnGone(t, st, "second ConsumeWebAuthnChallenge", c.ID, at(time.Minute))
		}
		webauthnGone(t, st, "ConsumeWebAuthnChallenge of an unknown id", gatehouse.NewID(), base)

		dup := *mustCreateWebAuthnChallenge(t, st, gatehouse.CeremonyLogin, "")
		wantErr(t, "CreateWebAuthnChallenge of a taken id", st.CreateWebAuthnChallenge(ctx, &dup), gatehouse.ErrConflict)
		stranger := *reg
		stranger.ID, stranger.UserID = gatehouse.NewID(), gatehouse.NewID()
		wantErr(t, "CreateWebAuthnChallenge of an unknown user", st.CreateWebAuthnChallenge(ctx, &stranger), gatehouse.ErrNotFound)
	})

	t.Run("ConcurrentConsumers", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		for _, userID := range []string{u.ID, ""} {
			c := mustCreateWebAuthnChallenge(t, st, gatehouse.CeremonyLogin, userID)
			wins := race(t, 16, func() (bool, error) {
				got, err := st.ConsumeWebAuthnChallenge(ctx, c.ID, at(time.Minute))
				if errors.Is(err, gatehouse.ErrNotFound) {
					return false, nil
				}
				if err == nil && got.ID != c.ID {
					t.Errorf("ConsumeWebAuthnChallenge returned challenge %s, want %s", got.ID, c.ID)
				}
				return err == nil, err
			})
			if wins != 1 {
				t.Errorf("16 concurrent ConsumeWebAuthnChallenge: %d won, want exactly 1", wins)
			}
		}
	})

	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		c := mustCreateWebAuthnChallenge(t, st, gatehouse.CeremonyLogin, "")
		// At its expiry it is dead, and the failed consume deleted it:
		// asked again when it would have been live, it is gone.
		webauthnGone(t, st, "ConsumeWebAuthnChallenge at its expiry", c.ID, c.ExpiresAt)
		webauthnGone(t, st, "ConsumeWebAuthnChallenge after an expired consume", c.ID, base)

		late := mustCreateWebAuthnChallenge(t, st, gatehouse.CeremonyLogin, "")
		webauthnGone(t, st, "ConsumeWebAuthnChallenge after its expiry", late.ID, at(time.Hour))
		webauthnGone(t, st, "ConsumeWebAuthnChallenge after an expired consume", late.ID, base)

		// A microsecond before its expiry it is still live.
		edge := mustCreateWebAuthnChallenge(t, st, gatehouse.CeremonyLogin, "")
		if _, err := st.ConsumeWebAuthnChallenge(ctx, edge.ID, edge.ExpiresAt.Add(-time.Microsecond)); err != nil {
			t.Errorf("ConsumeWebAuthnChallenge just before its expiry: %v", err)
		}
	})

	t.Run("Prune", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		u := mustCreateUser(t, st, "u")
		dead := mustCreateWebAuthnChallenge(t, st, gatehouse.CeremonyRegister, u.ID)
		deadLogin := mustCreateWebAuthnChallenge(t, st, gatehouse.CeremonyLogin, "")
		live := &gatehouse.WebAuthnChallenge{ID: gatehouse.NewID(), Ceremony: gatehouse.CeremonyLogin,
			Session: []byte("s"), CreatedAt: base, ExpiresAt: at(6 * time.Minute)}
		if err := st.CreateWebAuthnChallenge(ctx, live); err != nil {
			t.Fatal(err)
		}
		// Prune at the first ones' expiry: they go, the other stays.
		if err := st.Prune(ctx, dead.ExpiresAt, at(-time.Hour), at(-time.Hour), at(-time.Hour)); err != nil {
			t.Fatalf("Prune: %v", err)
		}
		// Asked at base, when all were live, only a deleted row is missing.
		webauthnGone(t, st, "ConsumeWebAuthnChallenge pruned at its expiry", dead.ID, base)
		webauthnGone(t, st, "ConsumeWebAuthnChallenge of a login pruned at its expiry", deadLogin.ID, base)
		if _, err := st.ConsumeWebAuthnChallenge(ctx, live.ID, base); err != nil {
			t.Errorf("ConsumeWebAuthnChallenge not yet expired, after Prune: %v", err)
		}
	})
}

// testResetPasskeys pins that ResetMFA removes the user's passkeys and
// pending WebAuthn registrations, and nobody else's.
func testResetPasskeys(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	t.Parallel()
	ctx := context.Background()
	st := open(t)
	u := mustCreateUser(t, st, "u")
	other := mustCreateUser(t, st, "other")
	p1 := mustCreatePasskey(t, st, newPasskey(u.ID, base))
	p2 := mustCreatePasskey(t, st, newPasskey(u.ID, at(time.Second)))
	op := mustCreatePasskey(t, st, newPasskey(other.ID, base))
	reg := mustCreateWebAuthnChallenge(t, st, gatehouse.CeremonyRegister, u.ID)
	oreg := mustCreateWebAuthnChallenge(t, st, gatehouse.CeremonyRegister, other.ID)
	login := mustCreateWebAuthnChallenge(t, st, gatehouse.CeremonyLogin, "")
	s := mustCreateSession(t, st, newSession(u.ID, base))

	revoked, err := st.ResetMFA(ctx, u.ID, gatehouse.ReasonMFAReset, at(time.Minute))
	if err != nil {
		t.Fatalf("ResetMFA: %v", err)
	}
	if !sameSet(revoked, []string{s.ID}) {
		t.Errorf("ResetMFA revoked %v, want [%s]", revoked, s.ID)
	}
	if got := passkeyIDs(t, st, u.ID); len(got) != 0 {
		t.Errorf("Passkeys after ResetMFA = %v, want none", got)
	}
	for _, p := range []*gatehouse.Passkey{p1, p2} {
		_, err := st.PasskeyByCredentialID(ctx, p.CredentialID)
		wantErr(t, "PasskeyByCredentialID after ResetMFA", err, gatehouse.ErrNotFound)
	}
	webauthnGone(t, st, "the user's registration after ResetMFA", reg.ID, base)

	// The other user keeps theirs, and a discoverable login, which is
	// nobody's yet, stays.
	wantPasskey(t, mustPasskey(t, st, op.CredentialID), op)
	for _, c := range []*gatehouse.WebAuthnChallenge{oreg, login} {
		if _, err := st.ConsumeWebAuthnChallenge(ctx, c.ID, base); err != nil {
			t.Errorf("challenge %s of another after ResetMFA: %v", c.Ceremony, err)
		}
	}
}
