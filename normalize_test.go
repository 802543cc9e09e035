package gatehouse_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Emails stored before NFC normalisation are rewritten at start; two
// stored forms that now collide are both kept, and login picks the exact
// spelling.
func TestStoredEmailsAreNormalisedAtStart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.db")
	st := openStore(t, path)
	h := mustHasher(t)
	hash, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	const (
		composed   = "jos\u00e9@example.com"
		decomposed = "jose\u0301@example.com"
		lone       = "rene\u0301@example.com" // decomposed, no twin
	)
	insert := func(email string) string {
		u := &gatehouse.User{ID: gatehouse.NewID(), Email: email, PasswordHash: hash, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	composedID, decomposedID, loneID := insert(composed), insert(decomposed), insert(lone)

	svc := newService(t, st, h) // Start normalises

	if u, err := st.UserByEmail(ctx, "ren\u00e9@example.com"); err != nil || u.ID != loneID {
		t.Fatalf("the lone decomposed address was not rewritten to NFC: %v %v", u, err)
	}
	for email, want := range map[string]string{composed: composedID, decomposed: decomposedID} {
		u, err := st.UserByEmail(ctx, email)
		if err != nil || u.ID != want {
			t.Fatalf("colliding %q: %v %v (both must be kept)", email, u, err)
		}
		g, err := svc.Login(ctx, email, pw, gatehouse.ClientInfo{IP: "192.0.2.1"})
		if err != nil || g.User.ID != want {
			t.Fatalf("login as %q reached %v (%v), want the exact match %s", email, g, err, want)
		}
	}
	// The lone user logs in with either spelling.
	for _, typed := range []string{"ren\u00e9@example.com", lone} {
		if g, err := svc.Login(ctx, typed, pw, gatehouse.ClientInfo{IP: "192.0.2.2"}); err != nil || g.User.ID != loneID {
			t.Fatalf("login as %q: %v", typed, err)
		}
	}
}
