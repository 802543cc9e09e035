package gatehouse

import (
	"context"
	"sync"
	"sync/atomic"
)

// userCache keeps the users that /api/users/me answers with, so that a
// bearer request costs no database read once its user and session are
// known. It holds the public profile only (never the password hash).
//
// A change to a user appends an entry to the store's feed (the one that
// carries revocations, Revocation.UserID set), and every instance drops
// its copy when it reads the entry, as it does for a revoked session; a
// change made by this process is dropped at once.
type userCache struct {
	max     int
	mu      sync.RWMutex
	entries map[string]User
	epoch   atomic.Uint64 // counts invalidations: a load that raced one is not kept
}

func newUserCache(max int) *userCache {
	return &userCache{max: max, entries: make(map[string]User)}
}

// get returns the user from the cache or, on a miss, from load.
func (c *userCache) get(ctx context.Context, id string, load func(ctx context.Context, id string) (*User, error)) (*User, error) {
	c.mu.RLock()
	u, ok := c.entries[id]
	c.mu.RUnlock()
	if ok {
		return &u, nil
	}
	epoch := c.epoch.Load()
	loaded, err := load(ctx, id)
	if err != nil {
		return nil, err
	}
	public := *loaded
	public.PasswordHash = ""
	c.mu.Lock()
	if c.epoch.Load() == epoch {
		if len(c.entries) >= c.max {
			for k := range c.entries { // random eviction, as the session cache
				delete(c.entries, k)
				break
			}
		}
		c.entries[id] = public
	}
	c.mu.Unlock()
	return &public, nil
}

// invalidate drops users that changed.
func (c *userCache) invalidate(ids ...string) {
	if len(ids) == 0 {
		return
	}
	c.mu.Lock()
	c.epoch.Add(1)
	for _, id := range ids {
		delete(c.entries, id)
	}
	c.mu.Unlock()
}
