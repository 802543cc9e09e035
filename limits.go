package gatehouse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"time"
)

// Brute-force defences of login (OWASP ASVS 5.0 6.3.1, NIST SP 800-63B
// §5.2.2). Three counters guard every password check:
//
//   - per (account, client address): Policy.LoginLimit, 10 per 15 min by
//     default, then 429 for that pair only;
//   - per account, whatever the address: after accountDelayAfter failures
//     each further attempt must wait a delay that doubles with every
//     failure, up to accountMaxDelay; and Policy.AccountLimit (100 per day
//     by default, NIST's "no more than 100 consecutive failed attempts")
//     caps the attempts evaluated at all.
//
// The per-account part is a growing delay rather than a lock-out at a low
// count on purpose: a lock-out that anyone can trigger by typing a victim's
// email from many addresses is a denial of service against that victim.
// With the delay, reaching the cap of 100 takes an attacker most of a day,
// while the owner, who knows the password, waits seconds to minutes.
//
// Every counter is reserved before the password is hashed (count first,
// then compare the returned count): however many attempts arrive at once,
// at most the limit of them are evaluated, on one instance or many sharing
// a database. A right password clears the account's counters.
const (
	accountDelayAfter = 10
	accountMinDelay   = time.Second
	accountMaxDelay   = 15 * time.Minute
)

// accountDelay is the wait before the next attempt on an account with
// failures failed attempts (failures > accountDelayAfter).
func accountDelay(failures int) time.Duration {
	d := accountMinDelay
	for i := accountDelayAfter; i < failures && d < accountMaxDelay; i++ {
		d *= 2
	}
	return min(d, accountMaxDelay)
}

// limitKey names a counter by a digest of its parts, so that keys have a
// fixed size whatever the client sends and the attempts table holds no
// email address.
func limitKey(kind string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return kind + "|" + hex.EncodeToString(h.Sum(nil)[:16])
}

// pairKey names the counter of an (account, address) pair. It starts with
// the account's own prefix, so that a password reset can clear the pairs
// of every address at once.
func pairKey(canonicalEmail, ip string) string {
	return pairPrefix(canonicalEmail) + limitKey("", AddressKey(ip))[1:]
}

func pairPrefix(canonicalEmail string) string {
	return limitKey("login", canonicalEmail) + "|"
}

// clearLoginLimits forgets every login counter of an account: its own,
// and those of its (account, address) pairs for every address.
func (s *Service) clearLoginLimits(ctx context.Context, canonicalEmail string) error {
	if err := s.loginGate(canonicalEmail, "").succeeded(ctx, s.store); err != nil {
		return err
	}
	return s.store.ClearAttemptsPrefix(ctx, pairPrefix(canonicalEmail))
}

// AddressKey is the client address as the limits count it: an IPv4
// address whole, an IPv6 address by its /64, the block one subscriber
// usually holds (RFC 6177), so that rotating through one's own /64 does
// not buy fresh attempts. Anything unparsable is used as given (bounded).
func AddressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		if len(ip) > 64 {
			ip = ip[:64]
		}
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// loginGate holds the counters of one login attempt: those reserved for
// it (pair, account) and the account's recorded failures, which set the
// delay. Failures are counted apart from reservations so that logins in
// flight with the right password do not look like failures.
type loginGate struct {
	pair, account, failures, delay string
	window                         time.Duration
}

// loginGate names the counters of a login to an account from an address.
func (s *Service) loginGate(canonicalEmail, ip string) *loginGate {
	return &loginGate{
		pair:     pairKey(canonicalEmail, ip),
		account:  limitKey("login-account", canonicalEmail),
		failures: limitKey("login-failures", canonicalEmail),
		delay:    limitKey("login-delay", canonicalEmail),
		window:   s.cfg.AccountLimit.Window,
	}
}

// reserveLogin reserves the attempt on every counter before the password
// is checked, and returns a *RateLimitError when any of them is over.
func (s *Service) reserveLogin(ctx context.Context, canonicalEmail, ip string) (*loginGate, error) {
	g := s.loginGate(canonicalEmail, ip)
	now := s.now()
	if l := s.cfg.AccountLimit; l.N > 0 {
		failures, _, err := s.store.Attempts(ctx, g.failures, now)
		if err != nil {
			return nil, err
		}
		if failures >= accountDelayAfter {
			// One attempt per delay: the first to open the delay window
			// goes on, the others wait for it to pass.
			n, until, err := s.store.AddAttempt(ctx, g.delay, now, accountDelay(failures))
			if err != nil {
				return nil, err
			}
			if n > 1 {
				return nil, &RateLimitError{RetryAfter: retryAfter(until, now), first: n == 2}
			}
		}
	}
	if l := s.cfg.LoginLimit; l.N > 0 {
		n, resetAt, err := s.store.AddAttempt(ctx, g.pair, now, l.Window)
		if err != nil {
			return nil, err
		}
		if n > l.N {
			return nil, &RateLimitError{RetryAfter: retryAfter(resetAt, now), first: n == l.N+1}
		}
	}
	if l := s.cfg.AccountLimit; l.N > 0 {
		n, resetAt, err := s.store.AddAttempt(ctx, g.account, now, l.Window)
		if err != nil {
			return nil, err
		}
		if n > l.N {
			return nil, &RateLimitError{RetryAfter: retryAfter(resetAt, now), first: n == l.N+1}
		}
	}
	return g, nil
}

// failed records a wrong password: the account's delay grows with these.
func (g *loginGate) failed(ctx context.Context, st Store, now time.Time) error {
	if g.window <= 0 {
		return nil
	}
	_, _, err := st.AddAttempt(ctx, g.failures, now, g.window)
	return err
}

// succeeded clears the counters of an account whose password was right.
func (g *loginGate) succeeded(ctx context.Context, st Store) error {
	for _, k := range []string{g.pair, g.account, g.failures, g.delay} {
		if err := st.ClearAttempts(ctx, k); err != nil {
			return err
		}
	}
	return nil
}
