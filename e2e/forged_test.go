package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/token"
)

// minter signs access tokens with a running server's own key, read from its
// database with the key secret beside it: what an insider could do, and
// what a session check must still refuse.
func minter(t *testing.T, g *instance) *token.Tokens {
	t.Helper()
	ctx := context.Background()
	st, secret := openStoreOf(t, g)
	defer st.Close()
	keys, err := st.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := token.NewSealer([]byte(strings.TrimSpace(string(secret))))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := token.NewKeySet(keys, sealer, nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := token.New(token.Config{Issuer: g.URL, Audience: "gatehouse"}, ks)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestSessionCheckRefusesForgedSessions(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	_, alice := c.newUser("forge-alice")
	_, bob := c.newUser("forge-bob")
	mint := minter(t, g)
	now := time.Now()
	sign := func(sub, sid string) string {
		tok, err := mint.Issue(&gatehouse.AccessClaims{
			Issuer: g.URL, Subject: sub, Audience: []string{"gatehouse"},
			IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(time.Minute),
			ID: gatehouse.NewID(), SessionID: sid,
		})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// The control: a well-formed token for Alice's own session passes, so
	// the refusals below are the session check's.
	if r := c.get("/api/users/me", sign(alice.UserID, sidOf(t, alice.Access))); r.Status != 200 {
		t.Fatalf("a token minted with the server's key for a live session: %s", r)
	}
	cases := map[string]string{
		"unknown session":        sign(alice.UserID, gatehouse.NewID()),
		"another user's session": sign(alice.UserID, sidOf(t, bob.Access)),
		"malformed session id":   sign(alice.UserID, "'; DROP TABLE sessions; --"),
		"unknown user, real sid": sign(gatehouse.NewID(), sidOf(t, alice.Access)),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			c.get("/api/users/me", tok).wantProblem(t, 401, "token_invalid")
			c.get("/api/posts", tok).wantProblem(t, 401, "token_invalid")
		})
	}
}

func TestDatabaseHoldsNoUsableSecret(t *testing.T) {
	onlyOn(t, "sqlite", "reads the database file; TestPostgresDumpHoldsNoUsableSecret is its twin")
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	_, tok := c.newUser("dump")
	g.stop()
	path := strings.TrimPrefix(g.DB, "sqlite:")
	var dump []byte
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err == nil {
			dump = append(dump, b...)
		}
	}
	if len(dump) == 0 {
		t.Fatal("empty database")
	}
	refreshBody := strings.TrimPrefix(tok.Refresh, gatehouse.RefreshTokenPrefix)
	for what, secret := range map[string]string{
		"refresh token":      tok.Refresh,
		"refresh token body": refreshBody,
		"password":           testPassword,
		"key secret":         mustRead(t, path+".key"),
	} {
		if strings.Contains(string(dump), secret) {
			t.Errorf("the database file contains the %s", what)
		}
	}
	if filepath.Dir(path+".key") != filepath.Dir(path) {
		t.Fatal("the key secret is not beside the database")
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
