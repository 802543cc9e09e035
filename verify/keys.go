package verify

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/token"
)

// errRefetchLimited means an unknown kid came while the refetch budget was
// spent: the token is refused without asking Gatehouse.
var errRefetchLimited = errors.New("verify: jwks refetch rate-limited")

// remoteKeys is the [token.KeyLookup] of a remote JWK Set: an immutable map
// swapped atomically by each fetch, so lookups take no lock.
type remoteKeys struct {
	client   *http.Client
	jwksURI  string
	algs     []string
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger

	keys atomic.Pointer[token.KeyMap]

	mu       sync.Mutex
	last     time.Time  // start of the last refetch; zero before the first
	inflight *fetchCall // the refetch running now, if any
}

// fetchCall is one refetch that every caller arriving while it runs waits
// for (single flight).
type fetchCall struct {
	done chan struct{}
	err  error
}

// VerificationKey returns the fetched key named kid.
func (r *remoteKeys) VerificationKey(kid string) (*token.Key, bool) {
	m := r.keys.Load()
	if m == nil {
		return nil, false
	}
	k, ok := (*m)[kid]
	return k, ok
}

// refetch fetches the JWK Set again, unless one fetch already started less
// than interval ago: then it returns errRefetchLimited at once. Callers
// that arrive while a fetch runs share it. The fetch itself does not end
// when the caller's ctx does, since others may be waiting on it.
func (r *remoteKeys) refetch(ctx context.Context) error {
	r.mu.Lock()
	c := r.inflight
	if c == nil {
		now := r.now()
		if !r.last.IsZero() && now.Sub(r.last) < r.interval {
			r.mu.Unlock()
			return errRefetchLimited
		}
		r.last = now
		c = &fetchCall{done: make(chan struct{})}
		r.inflight = c
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
			c.err = r.fetch(fctx)
			cancel()
			r.mu.Lock()
			r.inflight = nil
			r.mu.Unlock()
			close(c.done)
		}()
	}
	r.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fetch reads the JWK Set and installs its usable keys. A failed fetch, or
// one that yields no usable key, keeps the current set.
func (r *remoteKeys) fetch(ctx context.Context) error {
	body, err := get(ctx, r.client, r.jwksURI, "application/jwk-set+json, application/json")
	if err != nil {
		return fmt.Errorf("verify: jwks: %w", err)
	}
	parsed, err := token.ParseJWKS(body)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	old := r.keys.Load()
	next := make(token.KeyMap, len(parsed))
	for _, k := range parsed {
		if !allowed(r.algs, k.Alg) {
			continue
		}
		// Keep the *Key of an unchanged key: the verified-token cache
		// drops entries whose kid now yields another *Key.
		if old != nil {
			if prev, ok := (*old)[k.KID]; ok && sameKey(prev, k) {
				k = prev
			}
		}
		next[k.KID] = k
	}
	if len(next) == 0 {
		return errors.New("verify: jwks: no usable key (EdDSA, ES256 or RS256 with kid and alg)")
	}
	r.keys.Store(&next)
	r.log.InfoContext(ctx, "jwks fetched", "keys", len(next))
	return nil
}

func sameKey(a, b *token.Key) bool {
	if a.KID != b.KID || a.Alg != b.Alg {
		return false
	}
	eq, ok := a.Public.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b.Public)
}
