// Package storetest is the conformance suite of [gatehouse.Store]: every
// implementation (sqlite, postgres) runs [Run] and so behaves the same.
//
// It pins the behaviour documented on the Store interface, plus what the
// Service relies on without saying (times round-trip to the microsecond
// and come back in UTC; unknown ids answer ErrNotFound). It imports no
// database driver.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Run runs the suite. open must return a new, empty, migrated store for
// each call and close it when t ends (t.Cleanup). Subtests run in parallel,
// so open must be safe to call concurrently.
func Run(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	t.Run("Ping", func(t *testing.T) {
		t.Parallel()
		if err := open(t).Ping(context.Background()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	t.Run("Users", func(t *testing.T) { testUsers(t, open) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open) })
	t.Run("Rotate", func(t *testing.T) { testRotate(t, open) })
	t.Run("Revoke", func(t *testing.T) { testRevoke(t, open) })
	t.Run("Attempts", func(t *testing.T) { testAttempts(t, open) })
	t.Run("Posts", func(t *testing.T) { testPosts(t, open) })
	t.Run("SigningKeys", func(t *testing.T) { testSigningKeys(t, open) })
	t.Run("Prune", func(t *testing.T) { testPrune(t, open) })
	t.Run("NUL", func(t *testing.T) { testNUL(t, open) })
	t.Run("FeedUnderConcurrency", func(t *testing.T) { testFeedUnderConcurrency(t, open) })
	t.Run("ConcurrentWrites", func(t *testing.T) { testConcurrentWrites(t, open) })
	t.Run("EmailTokens", func(t *testing.T) { testEmailTokens(t, open) })
	t.Run("Outbox", func(t *testing.T) { testOutbox(t, open) })
	t.Run("MFA", func(t *testing.T) { testMFA(t, open) })
	t.Run("Passkeys", func(t *testing.T) { testPasskeys(t, open) })
	t.Run("Clients", func(t *testing.T) { testClients(t, open) })
	t.Run("Admin", func(t *testing.T) { testAdmin(t, open) })
	t.Run("Events", func(t *testing.T) { testEvents(t, open) })
}

// base is the suite's "now": microsecond precision, far from any edge.
var base = time.Date(2031, time.March, 4, 5, 6, 7, 891011000, time.UTC)

// at returns base plus d.
func at(d time.Duration) time.Time { return base.Add(d) }

var emailSeq atomic.Int64

// mustCreateUser stores a new user with a unique email.
func mustCreateUser(tb testing.TB, st gatehouse.Store, name string) *gatehouse.User {
	tb.Helper()
	u := &gatehouse.User{
		ID:           gatehouse.NewID(),
		Email:        fmt.Sprintf("user%d@example.com", emailSeq.Add(1)),
		Name:         name,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		CreatedAt:    base,
	}
	if err := st.CreateUser(context.Background(), u); err != nil {
		tb.Fatalf("CreateUser: %v", err)
	}
	return u
}

// newSession returns a live session of user created at created, idle
// expiry an hour later, absolute expiry a day later.
func newSession(userID string, created time.Time) *gatehouse.Session {
	return &gatehouse.Session{
		ID:            gatehouse.NewID(),
		UserID:        userID,
		Secret:        gatehouse.RandomBytes(32),
		Generation:    1,
		CreatedAt:     created,
		LastUsedAt:    created,
		RotatedAt:     created,
		IdleExpiresAt: created.Add(time.Hour),
		ExpiresAt:     created.Add(24 * time.Hour),
		UserAgent:     "storetest/1.0",
		IP:            "192.0.2.7",
	}
}

// mustCreateSession stores s and returns it.
func mustCreateSession(tb testing.TB, st gatehouse.Store, s *gatehouse.Session) *gatehouse.Session {
	tb.Helper()
	if err := st.CreateSession(context.Background(), s); err != nil {
		tb.Fatalf("CreateSession: %v", err)
	}
	return s
}

// mustSession loads a session.
func mustSession(tb testing.TB, st gatehouse.Store, id string) *gatehouse.Session {
	tb.Helper()
	s, err := st.Session(context.Background(), id)
	if err != nil {
		tb.Fatalf("Session(%s): %v", id, err)
	}
	return s
}

// wantErr fails unless errors.Is(err, target).
func wantErr(tb testing.TB, what string, err, target error) {
	tb.Helper()
	if !errors.Is(err, target) {
		tb.Errorf("%s: error %v, want one wrapping %q", what, err, target)
	}
}

// wantTime fails unless got is want to the microsecond and in UTC.
func wantTime(tb testing.TB, what string, got, want time.Time) {
	tb.Helper()
	if !got.Equal(want) {
		tb.Errorf("%s = %v, want %v", what, got, want)
	}
	if !got.IsZero() && got.Location() != time.UTC {
		tb.Errorf("%s is in %v, want UTC", what, got.Location())
	}
}

// wantSession compares every field of two sessions.
func wantSession(tb testing.TB, got, want *gatehouse.Session) {
	tb.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.Generation != want.Generation ||
		got.RevokeReason != want.RevokeReason || got.UserAgent != want.UserAgent || got.IP != want.IP ||
		got.ACR != want.ACR || !slices.Equal(got.AMR, want.AMR) || (got.AMR == nil) != (want.AMR == nil) {
		tb.Errorf("session = %+v,\nwant %+v", got, want)
	}
	if !slices.Equal(got.Secret, want.Secret) {
		tb.Errorf("session %s: Secret differs", want.ID)
	}
	wantTime(tb, "CreatedAt", got.CreatedAt, want.CreatedAt)
	wantTime(tb, "LastUsedAt", got.LastUsedAt, want.LastUsedAt)
	wantTime(tb, "RotatedAt", got.RotatedAt, want.RotatedAt)
	wantTime(tb, "IdleExpiresAt", got.IdleExpiresAt, want.IdleExpiresAt)
	wantTime(tb, "ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	wantTime(tb, "RevokedAt", got.RevokedAt, want.RevokedAt)
}

// ids returns the ids of sessions, in order.
func ids(ss []gatehouse.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// feed returns the whole revocation feed.
func feed(tb testing.TB, st gatehouse.Store) []gatehouse.Revocation {
	tb.Helper()
	revs, err := st.Revocations(context.Background(), 0, 1_000_000)
	if err != nil {
		tb.Fatalf("Revocations: %v", err)
	}
	return revs
}

// feedIDs returns the session ids of the feed, in Seq order.
func feedIDs(tb testing.TB, st gatehouse.Store) []string {
	tb.Helper()
	var out []string
	for _, r := range feed(tb, st) {
		out = append(out, r.SessionID)
	}
	return out
}
