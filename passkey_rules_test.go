package gatehouse_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/ghtest"
	"github.com/gatehouse/gatehouse/internal/softauthn"
	"github.com/gatehouse/gatehouse/passkey"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/postgres/pgtest"
)

const passkeyTestOrigin = "http://localhost:8080"

// newRelyingParty is the real relying party, for passkeyTestOrigin.
func newRelyingParty(t *testing.T) gatehouse.RelyingParty {
	t.Helper()
	rp, err := passkey.New(passkey.Config{RPID: "localhost", Origins: []string{passkeyTestOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// newPasskeyService is a service with the relying party rp on st, with a
// clock the test moves, and a user logged in with a password (aal1, no
// factor yet).
func newPasskeyService(t *testing.T, st gatehouse.Store, rp gatehouse.RelyingParty) (*gatehouse.Service, *ghtest.Clock, *gatehouse.AccessClaims) {
	t.Helper()
	clock := ghtest.NewClock()
	svc := newService(t, st, nil, func(c *gatehouse.Config) {
		c.Now = clock.Now
		c.Passkeys = rp
	})
	return svc, clock, passwordUser(t, svc, "passkey-rules@example.com")
}

// passwordUser creates a user and returns the claims of a password login.
func passwordUser(t *testing.T, svc *gatehouse.Service, email string) *gatehouse.AccessClaims {
	t.Helper()
	ctx := context.Background()
	if _, err := svc.CreateUser(ctx, email, pw, ""); err != nil {
		t.Fatal(err)
	}
	g, err := svc.Login(ctx, email, pw, gatehouse.ClientInfo{IP: "192.0.2.9"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.Authenticate(ctx, g.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// passkeyStores runs f on an SQLite file and, when a test database is
// set, on a PostgreSQL schema.
func passkeyStores(t *testing.T, f func(t *testing.T, st gatehouse.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, openStore(t, filepath.Join(t.TempDir(), "g.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t) // skips without a test database
		ctx := context.Background()
		st, err := postgres.Open(ctx, url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if _, err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		f(t, st)
	})
}

// A WebAuthn challenge lives 5 minutes (CONTRACT §8): an answer to an
// older one is refused, at registration and at sign-in, although the
// authenticator's response is otherwise right. go-webauthn's own expiry
// runs on the real clock, which the test does not move, so only the
// service's check can refuse these.
func TestPasskeyChallengeExpires(t *testing.T) {
	passkeyStores(t, func(t *testing.T, st gatehouse.Store) {
		ctx := context.Background()
		svc, clock, c := newPasskeyService(t, st, newRelyingParty(t))
		auth := softauthn.New()
		register := func(wait time.Duration) error {
			t.Helper()
			id, options, err := svc.PasskeyRegistrationOptions(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			clock.Add(wait)
			cred, err := auth.Register(options, passkeyTestOrigin)
			if err != nil {
				t.Fatal(err)
			}
			_, err = svc.RegisterPasskey(ctx, c, id, cred, "")
			return err
		}
		if err := register(5*time.Minute + time.Second); !errors.Is(err, gatehouse.ErrPasskeyInvalid) {
			t.Fatalf("registration after 5 minutes: %v, want ErrPasskeyInvalid", err)
		}
		if ps, err := svc.Passkeys(ctx, c); err != nil || len(ps) != 0 {
			t.Fatalf("a late registration left passkeys: %v %v", ps, err)
		}
		if err := register(4*time.Minute + 50*time.Second); err != nil {
			t.Fatalf("registration within 5 minutes: %v", err)
		}

		client := gatehouse.ClientInfo{IP: "192.0.2.9"}
		login := func(wait time.Duration) error {
			t.Helper()
			id, options, err := svc.PasskeyLoginOptions(ctx, client)
			if err != nil {
				t.Fatal(err)
			}
			clock.Add(wait)
			cred, err := auth.Login(options, passkeyTestOrigin)
			if err != nil {
				t.Fatal(err)
			}
			_, err = svc.LoginWithPasskey(ctx, id, cred, client)
			return err
		}
		if err := login(5*time.Minute + time.Second); !errors.Is(err, gatehouse.ErrPasskeyInvalid) {
			t.Fatalf("sign-in after 5 minutes: %v, want ErrPasskeyInvalid", err)
		}
		if err := login(4*time.Minute + 50*time.Second); err != nil {
			t.Fatalf("sign-in within 5 minutes: %v", err)
		}
	})
}

// countingRP counts the registration responses that reach the relying
// party.
type countingRP struct {
	gatehouse.RelyingParty
	finishes atomic.Int32
}

func (r *countingRP) FinishRegistration(u *gatehouse.User, existing []gatehouse.Passkey, session, credential []byte) (*gatehouse.Passkey, error) {
	r.finishes.Add(1)
	return r.RelyingParty.FinishRegistration(u, existing, session, credential)
}

// A registration challenge is its user's: another user who sends it is
// refused by the service itself, before the relying party sees the
// response (go-webauthn would refuse it too, on the user handle; this
// checks the service does not lean on that alone).
func TestPasskeyRegistrationChallengeIsTheUsers(t *testing.T) {
	passkeyStores(t, func(t *testing.T, st gatehouse.Store) {
		ctx := context.Background()
		rp := &countingRP{RelyingParty: newRelyingParty(t)}
		svc, _, a := newPasskeyService(t, st, rp)
		b := passwordUser(t, svc, "passkey-intruder@example.com")
		id, options, err := svc.PasskeyRegistrationOptions(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		cred, err := softauthn.New().Register(options, passkeyTestOrigin)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.RegisterPasskey(ctx, b, id, cred, ""); !errors.Is(err, gatehouse.ErrPasskeyInvalid) {
			t.Fatalf("B with A's challenge: %v, want ErrPasskeyInvalid", err)
		}
		if n := rp.finishes.Load(); n != 0 {
			t.Fatalf("the relying party saw %d responses to another user's challenge", n)
		}
		for _, c := range []*gatehouse.AccessClaims{a, b} {
			if ps, err := svc.Passkeys(ctx, c); err != nil || len(ps) != 0 {
				t.Fatalf("passkeys of %s: %v %v", c.Subject, ps, err)
			}
		}
		// A's own registration reaches it and succeeds.
		id, options, err = svc.PasskeyRegistrationOptions(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if cred, err = softauthn.New().Register(options, passkeyTestOrigin); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.RegisterPasskey(ctx, a, id, cred, ""); err != nil || rp.finishes.Load() != 1 {
			t.Fatalf("A's registration: %v (%d responses seen)", err, rp.finishes.Load())
		}
	})
}
