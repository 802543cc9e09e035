package gatehouse_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/ghtest"
)

func limitedService(t *testing.T, mods ...func(*gatehouse.Config)) (*gatehouse.Service, *countingPasswords, *ghtest.Clock, string) {
	t.Helper()
	clock := ghtest.NewClock()
	counting := &countingPasswords{Hasher: mustHasher(t)}
	path := filepath.Join(t.TempDir(), "g.db")
	mods = append([]func(*gatehouse.Config){func(c *gatehouse.Config) {
		c.Now = clock.Now
		c.LoginLimit = gatehouse.Limit{N: 10, Window: 15 * time.Minute}
	}}, mods...)
	svc := newService(t, openStore(t, path), counting, mods...)
	if _, err := svc.CreateUser(context.Background(), "victim@example.com", pw, ""); err != nil {
		t.Fatal(err)
	}
	return svc, counting, clock, path
}

func evaluated(c *countingPasswords) int64 { return c.compares.Load() + c.dummies.Load() }

// A burst of 30 wrong passwords at once from one address, against a limit
// of 10: at most 10 are evaluated, and the right password sent inside the
// burst is refused once the limit is reached.
func TestLoginBurstEvaluatesAtMostTheLimit(t *testing.T) {
	svc, counting, _, _ := limitedService(t)
	ctx := context.Background()
	client := gatehouse.ClientInfo{IP: "198.51.100.9"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for i := range 30 {
		wg.Go(func() {
			_, err := svc.Login(ctx, "victim@example.com", fmt.Sprintf("wrong password %d", i), client)
			c, _ := gatehouse.Code(err)
			mu.Lock()
			codes[c.Code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if n := evaluated(counting); n > 10 {
		t.Fatalf("%d passwords evaluated for a limit of 10 (answers %v)", n, codes)
	}
	if codes["rate_limited"] < 20 {
		t.Fatalf("answers %v: want at least 20 refused", codes)
	}
	if _, err := svc.Login(ctx, "victim@example.com", pw, client); !errors.Is(err, gatehouse.ErrRateLimited) {
		t.Fatalf("right password after the burst: %v, want rate_limited", err)
	}
}

// Rotating addresses does not escape the per-account defence: after 10
// failures each attempt waits a growing delay, so 20 addresses × 10
// guesses get nowhere near 200 evaluations; the delay passes with time,
// and the owner's right password clears it.
func TestAccountDelayAcrossAddresses(t *testing.T) {
	svc, counting, clock, _ := limitedService(t)
	ctx := context.Background()
	refused := 0
	for a := range 20 {
		for range 10 {
			_, err := svc.Login(ctx, "victim@example.com", "a wrong guess", gatehouse.ClientInfo{IP: fmt.Sprintf("127.0.0.%d", a+2)})
			if errors.Is(err, gatehouse.ErrRateLimited) {
				refused++
			} else if !errors.Is(err, gatehouse.ErrInvalidCredentials) {
				t.Fatal(err)
			}
		}
	}
	if n := evaluated(counting); n > 11 {
		t.Fatalf("%d guesses evaluated from 20 addresses in an instant; want at most 11", n)
	}
	_, err := svc.Login(ctx, "victim@example.com", pw, gatehouse.ClientInfo{IP: "203.0.113.1"})
	var rl *gatehouse.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter > 15*60 {
		t.Fatalf("owner during the delay: %v", err)
	}
	clock.Add(time.Duration(rl.RetryAfter) * time.Second)
	if _, err := svc.Login(ctx, "victim@example.com", pw, gatehouse.ClientInfo{IP: "203.0.113.1"}); err != nil {
		t.Fatalf("owner after the delay: %v", err)
	}
	before := evaluated(counting)
	if _, err := svc.Login(ctx, "victim@example.com", "wrong again", gatehouse.ClientInfo{IP: "203.0.113.1"}); !errors.Is(err, gatehouse.ErrInvalidCredentials) {
		t.Fatalf("a success clears the account's counters: %v", err)
	}
	if evaluated(counting) != before+1 {
		t.Fatal("the attempt after a success was not evaluated")
	}
}

// The hard cap: however slowly an attacker goes, at most AccountLimit.N
// failures are evaluated in its window.
func TestAccountCap(t *testing.T) {
	svc, counting, clock, _ := limitedService(t, func(c *gatehouse.Config) {
		c.AccountLimit = gatehouse.Limit{N: 15, Window: 24 * time.Hour}
	})
	ctx := context.Background()
	for i := range 40 {
		clock.Add(20 * time.Minute) // past every delay and pair window
		svc.Login(ctx, "victim@example.com", "guess", gatehouse.ClientInfo{IP: fmt.Sprintf("192.0.2.%d", i+1)})
	}
	if n := evaluated(counting); n != 15 {
		t.Fatalf("%d evaluated, want the cap of 15", n)
	}
}

// IPv6 clients are counted by their /64.
func TestAddressKeyGroupsIPv6By64(t *testing.T) {
	a := gatehouse.AddressKey("2001:db8:1:2:aaaa::1")
	b := gatehouse.AddressKey("2001:db8:1:2:ffff:1:2:3")
	c := gatehouse.AddressKey("2001:db8:1:3::1")
	if a != b || a == c {
		t.Fatalf("/64 grouping: %q %q %q", a, b, c)
	}
	if gatehouse.AddressKey("::ffff:192.0.2.1") != "192.0.2.1" || gatehouse.AddressKey("192.0.2.1") != "192.0.2.1" {
		t.Fatal("IPv4 (mapped or not) is one address")
	}
	if k := gatehouse.AddressKey(strings.Repeat("x", 1000)); len(k) > 64 {
		t.Fatal("an unparsable address is not bounded")
	}
	svc, counting, _, _ := limitedService(t)
	for i := range 15 {
		svc.Login(context.Background(), "victim@example.com", "guess", gatehouse.ClientInfo{IP: fmt.Sprintf("2001:db8:1:2::%x", i+1)})
	}
	if n := evaluated(counting); n > 10 {
		t.Fatalf("%d evaluated from one /64, want at most the limit of 10", n)
	}
}

// A 1 MB "email" stores nothing: the database stays the same size.
func TestHugeEmailStoresNothing(t *testing.T) {
	svc, _, _, path := limitedService(t)
	size := func() int64 {
		var total int64
		for _, suffix := range []string{"", "-wal"} {
			if fi, err := os.Stat(path + suffix); err == nil {
				total += fi.Size()
			}
		}
		return total
	}
	ctx := context.Background()
	svc.Login(ctx, "warm@example.com", "guess", gatehouse.ClientInfo{IP: "192.0.2.1"}) // the attempts table's first page
	before := size()
	huge := strings.Repeat("a", 1<<20) + "@example.com"
	for i := range 8 {
		_, err := svc.Login(ctx, huge, "guess", gatehouse.ClientInfo{IP: fmt.Sprintf("192.0.2.%d", i+10)})
		if !errors.Is(err, gatehouse.ErrInvalidInput) {
			t.Fatalf("1 MB email: %v", err)
		}
		if _, err := svc.Register(ctx, huge, pw, "", gatehouse.ClientInfo{IP: "192.0.2.99"}); !errors.Is(err, gatehouse.ErrInvalidInput) {
			t.Fatalf("register with a 1 MB email: %v", err)
		}
	}
	if after := size(); after > before+64<<10 {
		t.Fatalf("the database grew from %d to %d bytes", before, after)
	}
}

// Logins in flight with the right password are not failures: many devices
// logging in to one account at once, from their own addresses, all get in.
func TestConcurrentRightLoginsAreNotFailures(t *testing.T) {
	svc, _, _, _ := limitedService(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 30)
	for i := range 30 {
		wg.Go(func() {
			_, errs[i] = svc.Login(ctx, "victim@example.com", pw, gatehouse.ClientInfo{IP: fmt.Sprintf("198.51.100.%d", i+1)})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
}
