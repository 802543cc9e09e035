package gatehouse_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/ghtest"
)

// sessionReads is a store that counts the reads of a whole session.
type sessionReads struct {
	gatehouse.Store
	n atomic.Int64
}

func (s *sessionReads) Session(ctx context.Context, id string) (*gatehouse.Session, error) {
	s.n.Add(1)
	return s.Store.Session(ctx, id)
}

// A refresh of a session this instance knows is one write: the token's MAC
// is checked against the cached secret, and the rotation's compare-and-swap
// checks the rest in the database. A session it does not know costs one
// read, once.
func TestRefreshReadsASessionOnlyOnItsFirstRefreshHere(t *testing.T) {
	ctx := context.Background()
	clock := ghtest.NewClock()
	path := filepath.Join(t.TempDir(), "g.db")
	withClock := func(c *gatehouse.Config) { c.Now = clock.Now; c.ReuseGrace = 10 * time.Second }
	hereStore := &sessionReads{Store: openStore(t, path)}
	here := newService(t, hereStore, nil, withClock)
	thereStore := &sessionReads{Store: openStore(t, path)}
	there := newService(t, thereStore, nil, withClock)

	if _, err := here.CreateUser(ctx, "cache@example.com", pw, ""); err != nil {
		t.Fatal(err)
	}
	g, err := here.Login(ctx, "cache@example.com", pw, gatehouse.ClientInfo{})
	if err != nil {
		t.Fatal(err)
	}
	token := g.RefreshToken
	for range 3 {
		clock.Add(time.Second)
		token = refresh(t, here, token, nil).RefreshToken
	}
	if n := hereStore.n.Load(); n != 0 {
		t.Errorf("the instance that created the session read it %d times to refresh it", n)
	}

	// Another instance reads it once, then refreshes from its cache too.
	for range 3 {
		clock.Add(time.Second)
		token = refresh(t, there, token, nil).RefreshToken
	}
	if n := thereStore.n.Load(); n != 1 {
		t.Errorf("another instance read the session %d times in three refreshes, want 1", n)
	}

	// Back on the first instance, whose cache holds an older generation:
	// the current token rotates; a retired one within the grace is
	// answered with the current token (a read, to judge it).
	clock.Add(time.Second)
	next := refresh(t, here, token, nil)
	again := refresh(t, here, token, nil)
	if !again.Reissued || again.RefreshToken != next.RefreshToken {
		t.Fatalf("retired token within grace: reissued=%v, same=%v", again.Reissued, again.RefreshToken == next.RefreshToken)
	}
	if got, want := again.Session.Generation, next.Session.Generation; got != want {
		t.Errorf("reissued grant of generation %d, want %d", got, want)
	}
}

// A cache that has not yet heard of a revocation does not let a refresh
// through: the database's compare-and-swap refuses a revoked session, and
// the refresh reads it and says why.
func TestRefreshOfASessionRevokedElsewhereBeforeTheFeedSaysSo(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.db")
	here := newService(t, openStore(t, path), nil) // not Run: it never polls the feed
	there := newService(t, openStore(t, path), nil)
	if _, err := here.CreateUser(ctx, "revoked@example.com", pw, ""); err != nil {
		t.Fatal(err)
	}
	g, err := here.Login(ctx, "revoked@example.com", pw, gatehouse.ClientInfo{})
	if err != nil {
		t.Fatal(err)
	}
	next := refresh(t, here, g.RefreshToken, nil)
	if err := there.Logout(ctx, next.RefreshToken); err != nil {
		t.Fatal(err)
	}
	refresh(t, here, next.RefreshToken, gatehouse.ErrSessionRevoked)
	// And a token whose MAC is wrong is invalid before anything is written.
	tampered := []byte(next.RefreshToken)
	tampered[len(tampered)-2] ^= 1
	refresh(t, here, string(tampered), gatehouse.ErrRefreshTokenInvalid)
}
