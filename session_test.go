package gatehouse_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/ghtest"
)

// The session rules of refresh-token rotation (RFC 9700 §4.14.2), on an
// injected clock: each case runs in milliseconds, with no sleep.

func newClockedService(t *testing.T, grace time.Duration) (*gatehouse.Service, *ghtest.Clock, *gatehouse.Grant) {
	t.Helper()
	clock := ghtest.NewClock()
	svc := newService(t, openStore(t, filepath.Join(t.TempDir(), "g.db")), nil, func(c *gatehouse.Config) {
		c.Now = clock.Now
		c.ReuseGrace = grace
		c.RefreshTTL = time.Hour
		c.SessionTTL = 3 * time.Hour
	})
	ctx := context.Background()
	if _, err := svc.CreateUser(ctx, "rules@example.com", pw, ""); err != nil {
		t.Fatal(err)
	}
	g, err := svc.Login(ctx, "rules@example.com", pw, gatehouse.ClientInfo{IP: "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	return svc, clock, g
}

func refresh(t *testing.T, svc *gatehouse.Service, token string, want error) *gatehouse.Grant {
	t.Helper()
	g, err := svc.Refresh(context.Background(), token)
	if !errors.Is(err, want) || (want == nil) != (err == nil) {
		t.Fatalf("Refresh: err = %v, want %v", err, want)
	}
	return g
}

func TestRotationIssuesANewTokenEachTime(t *testing.T) {
	svc, clock, g := newClockedService(t, 10*time.Second)
	seen := map[string]bool{g.RefreshToken: true}
	token := g.RefreshToken
	for range 5 {
		clock.Add(time.Minute)
		next := refresh(t, svc, token, nil)
		if next.Reissued || seen[next.RefreshToken] {
			t.Fatalf("rotation handed out a used token (reissued=%v)", next.Reissued)
		}
		seen[next.RefreshToken] = true
		token = next.RefreshToken
	}
}

func TestRetiredTokenWithinGraceGetsTheCurrentOne(t *testing.T) {
	svc, clock, g := newClockedService(t, 10*time.Second)
	clock.Add(time.Second)
	next := refresh(t, svc, g.RefreshToken, nil)
	clock.Add(9 * time.Second) // still within the grace of the rotation
	again := refresh(t, svc, g.RefreshToken, nil)
	if !again.Reissued || again.RefreshToken != next.RefreshToken {
		t.Fatalf("within grace: reissued=%v, same token=%v", again.Reissued, again.RefreshToken == next.RefreshToken)
	}
	// The session lives on: the current token still rotates.
	refresh(t, svc, next.RefreshToken, nil)
}

// The grace covers a session's last RetirementsKept generations, however
// fast they went: a token that many rotations old is reuse even within it.
func TestGraceCoversTheLastRetirementsKept(t *testing.T) {
	svc, clock, g := newClockedService(t, 10*time.Second)
	tokens := []string{g.RefreshToken}
	for range gatehouse.RetirementsKept + 1 {
		clock.Add(time.Millisecond)
		tokens = append(tokens, refresh(t, svc, tokens[len(tokens)-1], nil).RefreshToken)
	}
	current := tokens[len(tokens)-1]
	// The oldest kept: within the grace, it gets the current token.
	kept := refresh(t, svc, tokens[len(tokens)-1-gatehouse.RetirementsKept], nil)
	if !kept.Reissued || kept.RefreshToken != current {
		t.Fatalf("%d generations old, within grace: reissued=%v, current=%v", gatehouse.RetirementsKept, kept.Reissued, kept.RefreshToken == current)
	}
	// One older: reuse, and the session ends.
	refresh(t, svc, tokens[len(tokens)-2-gatehouse.RetirementsKept], gatehouse.ErrRefreshTokenReused)
	refresh(t, svc, current, gatehouse.ErrSessionRevoked)
}

func TestRetiredTokenAfterGraceIsTheftAndEndsTheSession(t *testing.T) {
	svc, clock, g := newClockedService(t, 10*time.Second)
	clock.Add(time.Second)
	next := refresh(t, svc, g.RefreshToken, nil)
	clock.Add(11 * time.Second)
	refresh(t, svc, g.RefreshToken, gatehouse.ErrRefreshTokenReused)
	// The thief and the victim are both out: the current token is dead too.
	refresh(t, svc, next.RefreshToken, gatehouse.ErrSessionRevoked)
}

func TestNoGraceMeansReuseAtOnce(t *testing.T) {
	svc, _, g := newClockedService(t, 0)
	next := refresh(t, svc, g.RefreshToken, nil)
	refresh(t, svc, g.RefreshToken, gatehouse.ErrRefreshTokenReused)
	refresh(t, svc, next.RefreshToken, gatehouse.ErrSessionRevoked)
}

func TestIdleExpiry(t *testing.T) {
	svc, clock, g := newClockedService(t, 10*time.Second)
	clock.Add(59 * time.Minute)
	next := refresh(t, svc, g.RefreshToken, nil) // each rotation restarts the idle hour
	clock.Add(59 * time.Minute)
	next = refresh(t, svc, next.RefreshToken, nil)
	clock.Add(time.Hour + time.Second)
	refresh(t, svc, next.RefreshToken, gatehouse.ErrRefreshTokenExpired)
}

func TestAbsoluteExpiryDespiteActivity(t *testing.T) {
	svc, clock, g := newClockedService(t, 10*time.Second)
	token := g.RefreshToken
	for range 5 { // 5 × 40 min: used often, but past the 3 h bound
		clock.Add(40 * time.Minute)
		next, err := svc.Refresh(context.Background(), token)
		if err != nil {
			if !errors.Is(err, gatehouse.ErrRefreshTokenExpired) {
				t.Fatalf("Refresh: %v", err)
			}
			return
		}
		token = next.RefreshToken
	}
	t.Fatal("the session outlived its absolute lifetime")
}

func TestLogoutEndsTheSession(t *testing.T) {
	svc, _, g := newClockedService(t, 10*time.Second)
	if err := svc.Logout(context.Background(), g.RefreshToken); err != nil {
		t.Fatal(err)
	}
	refresh(t, svc, g.RefreshToken, gatehouse.ErrSessionRevoked)
	if err := svc.Logout(context.Background(), g.RefreshToken); err != nil {
		t.Fatalf("a second logout: %v", err)
	}
}

func TestForgedRefreshTokensAreInvalid(t *testing.T) {
	svc, _, g := newClockedService(t, 10*time.Second)
	tampered := []byte(g.RefreshToken)
	tampered[len(tampered)-2] ^= 1
	for _, tok := range []string{"", "garbage", string(tampered), g.RefreshToken + "x"} {
		refresh(t, svc, tok, gatehouse.ErrRefreshTokenInvalid)
	}
	refresh(t, svc, g.RefreshToken, nil) // none of them hurt the real session
}
