package token

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

func TestCacheHit(t *testing.T) {
	ts, _ := newTokens(t, EdDSA, 0)
	tok := mustIssue(t, ts, testClaims(testStart))
	first, err := ts.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if n := ts.verifier.cache.len(); n != 1 {
		t.Fatalf("cache holds %d entries, want 1", n)
	}
	if _, _, hit := ts.verifier.cache.get(tok, testStart, ts.verifier.keys); !hit {
		t.Fatal("no hit after a verification")
	}
	second, err := ts.Verify(tok)
	if err != nil || !reflect.DeepEqual(first, second) {
		t.Fatalf("hit: %+v, %v; want %+v", second, err, first)
	}
	// Callers own what they get: changing it does not reach the cache.
	second.Subject = "someone else"
	second.Audience[0] = "another audience"
	third, err := ts.Verify(tok)
	if err != nil || !reflect.DeepEqual(first, third) {
		t.Fatalf("the cache was changed through a returned value: %+v", third)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = ts.Verify(tok) }); allocs > 1 {
		t.Fatalf("a hit allocates %v times, want at most 1", allocs)
	}
}

func TestCacheSeveralAudiencesCopied(t *testing.T) {
	ts, _ := newTokens(t, EdDSA, 0)
	c := testClaims(testStart)
	c.Audience = []string{testAudience, "other"}
	tok := mustIssue(t, ts, c)
	first, _ := ts.Verify(tok)
	first.Audience[1] = "changed"
	again, err := ts.Verify(tok)
	if err != nil || again.Audience[1] != "other" {
		t.Fatalf("%v, %v", again, err)
	}
}

// TestCacheExpiry checks that a hit still honours exp and the leeway, and
// that the expired entry is dropped.
func TestCacheExpiry(t *testing.T) {
	ts, clk := newTokens(t, EdDSA, 0)
	tok := mustIssue(t, ts, testClaims(testStart))
	if _, err := ts.Verify(tok); err != nil {
		t.Fatal(err)
	}
	clk.set(testStart.Add(15*time.Minute + 4*time.Second)) // past exp, within the leeway
	if _, err := ts.Verify(tok); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	clk.set(testStart.Add(15*time.Minute + 5*time.Second))
	_, err := ts.Verify(tok)
	wantRefused(t, err, gatehouse.ErrTokenExpired, "exp passed")
	if n := ts.verifier.cache.len(); n != 0 {
		t.Fatalf("the expired entry stays: %d entries", n)
	}
	_, err = ts.Verify(tok) // a full verification now
	wantRefused(t, err, gatehouse.ErrTokenExpired, "exp passed")
}

func TestCacheTamperedTokenMisses(t *testing.T) {
	e := newEnv(t)
	ts, _ := newTokens(t, EdDSA, 0)
	tok := mustIssue(t, ts, testClaims(testStart))
	if _, err := ts.Verify(tok); err != nil {
		t.Fatal(err)
	}
	h, _, s := segments(tok)
	forged := h + "." + b64.EncodeToString([]byte(fill(goodPayload, e.kidEd, testStart))) + "." + s
	_, err := ts.Verify(forged)
	wantRefused(t, err, gatehouse.ErrTokenInvalid, "bad signature")
	for _, prefix := range []string{tok[:len(tok)-1], tok + "A"} {
		_, err := ts.Verify(prefix)
		wantRefused(t, err, gatehouse.ErrTokenInvalid, "")
	}
}

// TestCacheBounded fills a small cache with far more entries than it
// holds, directly and through Verify.
func TestCacheBounded(t *testing.T) {
	for _, size := range []int{1, 7, 1000, 100_000} {
		c := newTokenCache(size)
		exp := testStart.Add(time.Hour)
		for i := range 100_000 {
			c.put(fmt.Sprint("token-", i), &cacheEntry{expires: exp}, testStart)
		}
		if n := c.len(); n > size || n < size/2 {
			t.Fatalf("size %d: holds %d entries", size, n)
		}
	}

	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	clk := newClock(testStart)
	ts, err := New(Config{Issuer: testIssuer, Audience: testAudience, CacheSize: 512, Now: clk.now}, ringOf(t, HS256))
	if err != nil {
		t.Fatal(err)
	}
	c := testClaims(testStart)
	for i := range n {
		c.ID = fmt.Sprint("jti-", i)
		if _, err := ts.Verify(mustIssue(t, ts, c)); err != nil {
			t.Fatal(err)
		}
	}
	if got := ts.verifier.cache.len(); got > 512 {
		t.Fatalf("holds %d entries, bound 512", got)
	}
}

// TestCacheEvictsExpiredFirst checks that a full shard drops expired
// entries before live ones.
func TestCacheEvictsExpiredFirst(t *testing.T) {
	c := newTokenCache(16) // a single shard of 16
	for i := range 15 {
		c.put(fmt.Sprint("old-", i), &cacheEntry{expires: testStart.Add(time.Second)}, testStart)
	}
	c.put("live", &cacheEntry{expires: testStart.Add(time.Hour)}, testStart)
	later := testStart.Add(2 * time.Second)
	c.put("new", &cacheEntry{expires: later.Add(time.Hour)}, later)
	if n := c.len(); n != 2 {
		t.Fatalf("%d entries after the sweep, want 2", n)
	}
	for _, tok := range []string{"live", "new"} {
		if _, _, hit := c.get(tok, later, KeyMap{"": nil}); !hit {
			t.Fatalf("%s was evicted", tok)
		}
	}
}

// TestCacheConcurrent verifies tokens from many goroutines while the cache
// evicts and the key ring is swapped; run it with -race.
func TestCacheConcurrent(t *testing.T) {
	ts, _ := newTokens(t, EdDSA, 64)
	ring := ts.Keys()
	var toks []string
	for i := range 200 {
		c := testClaims(testStart)
		c.ID = fmt.Sprint("jti-", i)
		toks = append(toks, mustIssue(t, ts, c))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := range 16 {
		wg.Go(func() {
			for i := range 400 {
				tok := toks[(g*31+i)%len(toks)]
				c, err := ts.Verify(tok)
				if err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprint("jti-", (g*31+i)%len(toks)); c.ID != want {
					errs <- fmt.Errorf("claims of another token: %s, want %s", c.ID, want)
					return
				}
				c.Audience[0] = "scribble" // must not reach the cache
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			ts.SetKeys(ring)
			ts.Keys().JWKS()
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := ts.verifier.cache.len(); n > 64 {
		t.Fatalf("%d entries, bound 64", n)
	}
}
