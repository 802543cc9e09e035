package gatehouse

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// sessionGuard answers "is this session live, and whose is it?" for every
// authenticated request without a database read per request (CONTRACT §4).
//
// It caches session states, loading a state from the store on a miss, and
// learns of revocations two ways: at once when this process revokes, and
// from the store's revocation feed, polled every pollEvery (and at once when
// the store notifies), for revocations made by other instances or by the
// gatehouse CLI. The feed is what bounds the delay to about pollEvery.
type sessionGuard struct {
	store     Store
	log       *slog.Logger
	max       int
	pollEvery time.Duration

	mu      sync.RWMutex
	entries map[string]guarded

	// epoch counts the revocations applied. A state loaded from the store
	// while a revocation was being applied may be older than it, so it is
	// used for that request but not cached.
	epoch  atomic.Uint64
	cursor int64 // last feed Seq applied; only the poller touches it

	// users caches the users of /me, invalidated by the same feed.
	users *userCache
	// hub hands the feed on to remote verifiers (GET /api/auth/revocations).
	hub *feedHub
}

func newSessionGuard(store Store, log *slog.Logger, max int, pollEvery time.Duration) *sessionGuard {
	return &sessionGuard{
		store: store, log: log, max: max, pollEvery: pollEvery,
		entries: make(map[string]guarded), users: newUserCache(max), hub: newFeedHub(),
	}
}

// guarded is a cached session: its state, and its secret, which never
// changes, so that a refresh checks a token's MAC without a read.
type guarded struct {
	SessionState
	secret []byte
}

// state returns the state of a session, from the cache or the store.
// It returns ErrNotFound for an unknown session.
func (g *sessionGuard) state(ctx context.Context, id string) (SessionState, error) {
	if e, ok := g.cached(id); ok {
		return e.SessionState, nil
	}
	s, err := g.load(ctx, id)
	if err != nil {
		return SessionState{}, err
	}
	return stateOf(s), nil
}

// cached returns a session from the cache only.
func (g *sessionGuard) cached(id string) (guarded, bool) {
	g.mu.RLock()
	e, ok := g.entries[id]
	g.mu.RUnlock()
	return e, ok
}

// load reads a session from the store and caches it. It returns ErrNotFound
// for an unknown session.
func (g *sessionGuard) load(ctx context.Context, id string) (*Session, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	epoch := g.epoch.Load()
	s, err := g.store.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	if g.epoch.Load() == epoch {
		g.putLocked(id, guarded{stateOf(s), s.Secret})
	}
	g.mu.Unlock()
	return s, nil
}

func stateOf(s *Session) SessionState {
	return SessionState{UserID: s.UserID, Revoked: s.Revoked(), ExpiresAt: s.ExpiresAt}
}

// remember caches the state of a session this process just created.
func (g *sessionGuard) remember(s *Session) {
	g.mu.Lock()
	g.putLocked(s.ID, guarded{stateOf(s), s.Secret})
	g.mu.Unlock()
}

func (g *sessionGuard) putLocked(id string, st guarded) {
	if _, ok := g.entries[id]; !ok && len(g.entries) >= g.max {
		// Evict an arbitrary entry (Go's map order is randomised): a miss
		// costs one indexed read, so an exact LRU is not worth its locking.
		for k := range g.entries {
			delete(g.entries, k)
			break
		}
	}
	g.entries[id] = st
}

// revoked marks sessions revoked. Sessions not in the cache are left out:
// the store will say they are revoked when they are next loaded.
func (g *sessionGuard) revoked(ids ...string) {
	if len(ids) == 0 {
		return
	}
	g.mu.Lock()
	g.epoch.Add(1)
	for _, id := range ids {
		if st, ok := g.entries[id]; ok {
			st.Revoked = true
			g.entries[id] = st
		}
	}
	g.mu.Unlock()
}

// start positions the feed reader at the feed's end: every revocation
// before it is already in the store, where cache misses read it.
func (g *sessionGuard) start(ctx context.Context) error {
	seq, err := g.store.LastRevocationSeq(ctx)
	if err != nil {
		return err
	}
	g.cursor = seq
	g.hub.reset(seq)
	return nil
}

// poll applies the feed entries after the cursor.
func (g *sessionGuard) poll(ctx context.Context) error {
	for {
		revs, err := g.store.Revocations(ctx, g.cursor, 1000)
		if err != nil {
			return err
		}
		if len(revs) == 0 {
			return nil
		}
		var sessions, users []string
		for _, r := range revs {
			if r.SessionID != "" {
				sessions = append(sessions, r.SessionID)
			}
			if r.UserID != "" {
				users = append(users, r.UserID)
			}
		}
		g.revoked(sessions...)
		g.users.invalidate(users...)
		g.cursor = revs[len(revs)-1].Seq
		g.hub.publish(revs, g.cursor)
		if len(revs) < 1000 {
			return nil
		}
	}
}

// run polls the feed until ctx ends.
func (g *sessionGuard) run(ctx context.Context) {
	var notices <-chan struct{}
	if n, ok := g.store.(RevocationNotifier); ok {
		notices = n.RevocationNotices(ctx)
	}
	tick := time.NewTicker(g.pollEvery)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case _, ok := <-notices:
			if !ok {
				notices = nil
			}
		}
		err := g.poll(ctx)
		switch {
		case err != nil && !failing && !errors.Is(err, context.Canceled):
			failing = true
			g.log.WarnContext(ctx, "revocation feed unreadable; revocations by other instances are delayed", "err", err)
		case err == nil && failing:
			failing = false
			g.log.InfoContext(ctx, "revocation feed readable again")
		}
	}
}
