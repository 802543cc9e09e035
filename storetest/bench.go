package storetest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// The benchmarks below measure what a refresh costs a store, the same way
// for every store; each store's bench_test.go opens its store (under the
// settings it compares) and calls them.

// BenchSessions stores a user and n sessions in s and returns the sessions.
func BenchSessions(b testing.TB, s gatehouse.Store, n int) []*gatehouse.Session {
	b.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	u := &gatehouse.User{ID: gatehouse.NewID(), Email: "bench@example.com", PasswordHash: "h", CreatedAt: now}
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	out := make([]*gatehouse.Session, n)
	for i := range out {
		out[i] = &gatehouse.Session{
			ID: gatehouse.NewID(), UserID: u.ID, Secret: gatehouse.RandomBytes(32), Generation: 1,
			CreatedAt: now, LastUsedAt: now, RotatedAt: now,
			IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(24 * time.Hour),
			UserAgent: "bench", IP: "127.0.0.1",
		}
		if err := s.CreateSession(ctx, out[i]); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// BenchRotateSession measures a refresh's write: one RotateSession,
// committed, per iteration. It rotates 1000 sessions in turn, so that each
// keeps the few retirements a real session has within the reuse grace.
func BenchRotateSession(b *testing.B, s gatehouse.Store) {
	sessions := BenchSessions(b, s, 1000)
	ctx := context.Background()
	i := 0
	b.ResetTimer()
	for b.Loop() {
		sess := sessions[i%len(sessions)]
		i++
		now := time.Now()
		ok, err := Rotated(s.RotateSession(ctx, sess.ID, sess.Generation, now, now.Add(time.Hour)))
		if err != nil || !ok {
			b.Fatalf("RotateSession(%d) = %v, %v", sess.Generation, ok, err)
		}
		sess.Generation++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchRotateSessionParallel is a refresh as the Service does it (read the
// session, then rotate it) from parallel goroutines, as concurrent clients
// (or instances) send them: 8 per CPU, so that on a small machine there are
// as many in flight as the 16 clients of the load test (bench/load), not
// just GOMAXPROCS of them.
func BenchRotateSessionParallel(b *testing.B, s gatehouse.Store) {
	sessions := BenchSessions(b, s, 1000)
	var next atomic.Int64
	ctx := context.Background()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			// Each session is rotated by one goroutine at a time at most in
			// practice; a lost swap is not an error.
			sess := sessions[int(next.Add(1))%len(sessions)]
			cur, err := s.Session(ctx, sess.ID)
			if err != nil {
				b.Errorf("Session: %v", err)
				return
			}
			now := time.Now()
			if _, err := Rotated(s.RotateSession(ctx, sess.ID, cur.Generation, now, now.Add(time.Hour))); err != nil {
				b.Errorf("RotateSession: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "refreshes/s")
}

// BenchSession measures the read behind a cache miss of the session guard
// and the start of every refresh, from parallel goroutines.
func BenchSession(b *testing.B, s gatehouse.Store) {
	sessions := BenchSessions(b, s, 1000)
	ctx := context.Background()
	var i atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Session(ctx, sessions[int(i.Add(1))%len(sessions)].ID); err != nil {
				b.Errorf("Session: %v", err)
				return
			}
		}
	})
}
