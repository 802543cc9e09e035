package gatehouse_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// feedStore counts user reads and lets a test append user-change entries
// to the feed, as another instance's store would.
type feedStore struct {
	gatehouse.Store
	userReads atomic.Int64
	mu        sync.Mutex
	extra     []gatehouse.Revocation
}

func (f *feedStore) UserByID(ctx context.Context, id string) (*gatehouse.User, error) {
	f.userReads.Add(1)
	return f.Store.UserByID(ctx, id)
}

func (f *feedStore) Revocations(ctx context.Context, after int64, limit int) ([]gatehouse.Revocation, error) {
	revs, err := f.Store.Revocations(ctx, after, limit)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.extra {
		if r.Seq > after {
			revs = append(revs, r)
		}
	}
	return revs, err
}

func TestMeIsServedFromTheCacheUntilTheFeedSaysTheUserChanged(t *testing.T) {
	ctx := context.Background()
	st := &feedStore{Store: openStore(t, filepath.Join(t.TempDir(), "g.db"))}
	svc := newService(t, st, nil)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go svc.Run(runCtx)

	if _, err := svc.CreateUser(ctx, "cached@example.com", pw, "Cached"); err != nil {
		t.Fatal(err)
	}
	g, err := svc.Login(ctx, "cached@example.com", pw, gatehouse.ClientInfo{IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := svc.Authenticate(ctx, g.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	before := st.userReads.Load()
	for range 100 {
		u, err := svc.Me(ctx, claims)
		if err != nil || u.Email != "cached@example.com" || u.PasswordHash != "" {
			t.Fatalf("Me: %+v %v", u, err)
		}
	}
	if n := st.userReads.Load() - before; n != 1 {
		t.Fatalf("100 calls of Me read the user %d times, want once", n)
	}

	// Another instance changes the user: its feed entry reaches this one.
	st.mu.Lock()
	st.extra = append(st.extra, gatehouse.Revocation{Seq: 1 << 40, UserID: claims.Subject})
	st.mu.Unlock()
	deadline := time.Now().Add(2 * time.Second)
	for {
		reads := st.userReads.Load()
		if _, err := svc.Me(ctx, claims); err != nil {
			t.Fatal(err)
		}
		if st.userReads.Load() > reads {
			break // the cache dropped the user and read it again
		}
		if time.Now().After(deadline) {
			t.Fatal("the user change in the feed did not reach the cache")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
