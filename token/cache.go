package token

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
)

// cacheEntry is a verified token. It is never changed after it is built,
// so readers may use it outside the shard lock.
type cacheEntry struct {
	token   string
	claims  gatehouse.AccessClaims
	kid     string
	key     *Key      // the key that verified it
	expires time.Time // exp + leeway
}

// copyClaims returns claims the caller may change freely: the struct and
// its audience slice are fresh, in one allocation when there is one
// audience (the usual case).
func (e *cacheEntry) copyClaims() *gatehouse.AccessClaims {
	if len(e.claims.Audience) == 1 {
		b := &struct {
			c   gatehouse.AccessClaims
			aud [1]string
		}{c: e.claims}
		b.aud[0] = e.claims.Audience[0]
		b.c.Audience = b.aud[:]
		b.c.AMR = slices.Clone(e.claims.AMR)
		return &b.c
	}
	c := e.claims
	c.Audience = append([]string(nil), e.claims.Audience...)
	c.AMR = slices.Clone(e.claims.AMR)
	return &c
}

// maxCacheShards splits the cache so that many goroutines rarely take the
// same lock; a power of two, so a shard is picked by masking the hash.
const maxCacheShards = 64

// tokenCache maps exact token strings to their verified claims, so that a
// repeated Verify skips the signature check. It is bounded: a full shard
// evicts before it inserts, never grows. Entries are dropped once exp plus
// the leeway has passed. Only verified tokens enter it, so forged tokens
// cannot push real ones out.
type tokenCache struct {
	seed     maphash.Seed
	shards   []cacheShard
	mask     uint64
	perShard int
}

type cacheShard struct {
	mu        sync.RWMutex
	m         map[uint64]*cacheEntry
	lastSweep time.Time
	_         [64]byte // keep neighbouring shards' locks off one cache line
}

func newTokenCache(size int) *tokenCache {
	n := maxCacheShards
	for n > 1 && size/n < 16 {
		n /= 2
	}
	c := &tokenCache{
		seed:     maphash.MakeSeed(),
		shards:   make([]cacheShard, n),
		mask:     uint64(n - 1),
		perShard: size / n, // so that the total never exceeds size
	}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]*cacheEntry)
	}
	return c
}

// get looks token up. hit reports whether the answer came from the cache:
// the claims of a verified token, or ErrTokenExpired once its exp passed.
// An entry whose key has left the ring (or was replaced) is dropped and the
// token is verified again, so that a key removed from the ring stops
// cached tokens too.
func (c *tokenCache) get(token string, now time.Time, keys KeyLookup) (claims *gatehouse.AccessClaims, err error, hit bool) {
	h := maphash.String(c.seed, token)
	s := &c.shards[h&c.mask]
	s.mu.RLock()
	e := s.m[h]
	s.mu.RUnlock()
	if e == nil || e.token != token { // the map key is a hash: compare all
		return nil, nil, false
	}
	if !now.Before(e.expires) {
		s.remove(h, e)
		return nil, errExpired, true
	}
	if k, ok := keys.VerificationKey(e.kid); !ok || k != e.key {
		s.remove(h, e)
		return nil, nil, false
	}
	return e.copyClaims(), nil, true
}

func (s *cacheShard) remove(h uint64, e *cacheEntry) {
	s.mu.Lock()
	if s.m[h] == e {
		delete(s.m, h)
	}
	s.mu.Unlock()
}

// put stores a verified token. On a hash collision with another token the
// newer one wins; both stay correct, since get compares the whole token.
func (c *tokenCache) put(token string, e *cacheEntry, now time.Time) {
	if !now.Before(e.expires) {
		return
	}
	// Keep our own copy: token may be a slice of a larger request buffer.
	e.token = strings.Clone(token)
	h := maphash.String(c.seed, token)
	s := &c.shards[h&c.mask]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[h]; !ok && len(s.m) >= c.perShard {
		s.evict(now, c.perShard)
	}
	s.m[h] = e
}

// evict makes room for one entry. At most once a second it sweeps out every
// expired entry; otherwise it samples a few entries (Go randomizes where
// map iteration starts) and drops the one that expires first, so that an
// expired entry goes before a live one when one is sampled.
func (s *cacheShard) evict(now time.Time, limit int) {
	if now.Sub(s.lastSweep) >= time.Second {
		s.lastSweep = now
		for h, e := range s.m {
			if !now.Before(e.expires) {
				delete(s.m, h)
			}
		}
		if len(s.m) < limit {
			return
		}
	}
	var victim uint64
	var first *cacheEntry
	n := 0
	for h, e := range s.m {
		if first == nil || e.expires.Before(first.expires) {
			victim, first = h, e
		}
		if n++; n == 4 {
			break
		}
	}
	if first != nil {
		delete(s.m, victim)
	}
}

// len returns the number of entries, for tests.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
