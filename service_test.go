package gatehouse_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/sqlite"
	"github.com/gatehouse/gatehouse/token"
	"github.com/gatehouse/gatehouse/totp"
)

// countingPasswords is the real hasher, counting the hashing work asked of it.
type countingPasswords struct {
	*password.Hasher
	compares, dummies atomic.Int64
}

func (c *countingPasswords) Compare(ctx context.Context, hash, pw string) (bool, bool, error) {
	c.compares.Add(1)
	return c.Hasher.Compare(ctx, hash, pw)
}

func (c *countingPasswords) CompareDummy(ctx context.Context, pw string) error {
	c.dummies.Add(1)
	return c.Hasher.CompareDummy(ctx, pw)
}

var keySecret = bytes.Repeat([]byte("k"), 32)

func openStore(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newService assembles a Service over a store, creating a signing key in
// it when there is none.
func newService(t testing.TB, st gatehouse.Store, pw gatehouse.Passwords, mods ...func(*gatehouse.Config)) *gatehouse.Service {
	t.Helper()
	ctx := context.Background()
	sealer, err := token.NewSealer(keySecret)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := st.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		k, err := token.GenerateKey(token.EdDSA, sealer, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AddSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		keys = []gatehouse.SigningKey{*k}
	}
	ks, err := token.NewKeySet(keys, sealer, nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := token.New(token.Config{Issuer: "http://test", Audience: "gatehouse"}, ks)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := gatehouse.NewRefreshTokenCodec(token.DeriveKey(keySecret, "refresh"))
	if err != nil {
		t.Fatal(err)
	}
	if pw == nil {
		pw = mustHasher(t)
	}
	cfg := gatehouse.DefaultConfig()
	cfg.Store, cfg.Tokens, cfg.Passwords, cfg.RefreshTokens = st, tk, pw, codec
	cfg.Issuer, cfg.Audience, cfg.RevocationPoll = "http://test", "gatehouse", 50*time.Millisecond
	if cfg.Secrets, err = token.NewSealer(token.DeriveKey(keySecret, "mfa")); err != nil {
		t.Fatal(err)
	}
	cfg.TOTP = totp.TOTP{}
	for _, mod := range mods {
		mod(&cfg)
	}
	svc, err := gatehouse.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return svc
}

func mustHasher(t testing.TB) *password.Hasher {
	t.Helper()
	h, err := password.New(password.Config{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

const pw = "correct horse battery staple"

func TestLoginHashesAlikeForUnknownEmails(t *testing.T) {
	ctx := context.Background()
	counting := &countingPasswords{Hasher: mustHasher(t)}
	svc := newService(t, openStore(t, filepath.Join(t.TempDir(), "g.db")), counting)
	if _, err := svc.CreateUser(ctx, "known@example.com", pw, ""); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, email string
	}{
		{"wrong password", "known@example.com"},
		{"unknown email", "unknown@example.com"},
		{"malformed email", "not an email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := counting.compares.Load() + counting.dummies.Load()
			_, err := svc.Login(ctx, tc.email, "wrong password", gatehouse.ClientInfo{IP: "192.0.2.1"})
			if !errors.Is(err, gatehouse.ErrInvalidCredentials) {
				t.Fatalf("err %v, want ErrInvalidCredentials", err)
			}
			if n := counting.compares.Load() + counting.dummies.Load() - before; n != 1 {
				t.Fatalf("%d password comparisons, want exactly 1 (the same work for every failure)", n)
			}
		})
	}
	if counting.dummies.Load() != 2 || counting.compares.Load() != 1 {
		t.Fatalf("compares %d, dummies %d: want 1 real and 2 dummy", counting.compares.Load(), counting.dummies.Load())
	}
}

// A revocation by another process (another instance, the CLI) reaches this
// process's session guard through the revocation feed.
func TestRevocationByAnotherProcessReachesTheGuard(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "g.db")
	here := newService(t, openStore(t, path), nil)
	there := newService(t, openStore(t, path), nil)
	go here.Run(ctx)

	if _, err := there.CreateUser(ctx, "a@example.com", pw, ""); err != nil {
		t.Fatal(err)
	}
	g, err := there.Login(ctx, "a@example.com", pw, gatehouse.ClientInfo{})
	if err != nil {
		t.Fatal(err)
	}
	// here has never seen the session: it loads it once, then caches it.
	if _, err := here.Authenticate(ctx, g.AccessToken); err != nil {
		t.Fatalf("a live session of another instance refused: %v", err)
	}
	if err := there.Logout(ctx, g.RefreshToken); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		_, err := here.Authenticate(ctx, g.AccessToken)
		if errors.Is(err, gatehouse.ErrSessionRevoked) {
			t.Logf("revocation reached the other process after %v", time.Since(start))
			return
		}
		if time.Since(start) > time.Second {
			t.Fatalf("still %v a second after the revocation", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRefreshOfAnUnknownOrForeignSession(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, openStore(t, filepath.Join(t.TempDir(), "g.db")), nil)
	other := newService(t, openStore(t, filepath.Join(t.TempDir(), "other.db")), nil)
	if _, err := other.CreateUser(ctx, "a@example.com", pw, ""); err != nil {
		t.Fatal(err)
	}
	g, err := other.Login(ctx, "a@example.com", pw, gatehouse.ClientInfo{})
	if err != nil {
		t.Fatal(err)
	}
	// Same key secret, other database: the session is unknown here.
	if _, err := svc.Refresh(ctx, g.RefreshToken); !errors.Is(err, gatehouse.ErrRefreshTokenInvalid) {
		t.Fatalf("err %v, want ErrRefreshTokenInvalid", err)
	}
}

// NIST SP 800-63B: a password built on the account's own email or name is
// refused with a reason; one that merely contains the name is not.
func TestPasswordsBuiltOnTheAccountAreRefused(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, openStore(t, filepath.Join(t.TempDir(), "g.db")), nil)
	for _, tc := range []struct {
		email, password, name string
		refused               bool
	}{
		{"marguerite@example.com", "marguerite@example.com", "", true},
		{"marguerite@example.com", "Marguerite2025", "", true},
		{"quentin@example.com", "Ada Lovelace!", "Ada Lovelace", true},
		{"quentin@example.com", "ada lovelace rules the world", "Ada Lovelace", false},
		{"bob@example.com", "bob is a builder of bridges", "", false},
	} {
		_, err := svc.CreateUser(ctx, tc.email, tc.password, tc.name)
		var verr *gatehouse.ValidationError
		refused := errors.As(err, &verr)
		if !refused && err != nil {
			t.Fatalf("%q: %v", tc.password, err)
		}
		if refused != tc.refused {
			t.Errorf("password %q for %s/%q: refused=%v (%v), want %v", tc.password, tc.email, tc.name, refused, err, tc.refused)
		}
		if refused && !strings.Contains(err.Error(), "email address or name") {
			t.Errorf("password %q refused without the reason: %v", tc.password, err)
		}
	}
}
