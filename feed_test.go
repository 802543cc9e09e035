package gatehouse_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// A follower that asks for entries from before this process started is
// answered from the store; one that asks for pruned entries gets a
// FeedGapError saying where the feed resumes and since when it is whole.
func TestRevocationFeedCatchUpAndGap(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.db")
	st := openStore(t, path)
	first := newService(t, st, nil)
	if _, err := first.CreateUser(ctx, "feed@example.com", pw, ""); err != nil {
		t.Fatal(err)
	}
	var sids []string
	for range 3 {
		g, err := first.Login(ctx, "feed@example.com", pw, gatehouse.ClientInfo{IP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := first.Logout(ctx, g.RefreshToken); err != nil {
			t.Fatal(err)
		}
		sids = append(sids, g.Session.ID)
	}
	// A new process: its hub starts at the feed's end.
	later := newService(t, st, nil)
	entries, last, err := later.RevocationFeed(ctx, 0, 0)
	if err != nil || len(entries) != 3 {
		t.Fatalf("catch-up: %v %v", entries, err)
	}
	for i, e := range entries {
		if e.SessionID != sids[i] || e.Seq != int64(i+1) || e.At.IsZero() {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	if last != 3 {
		t.Fatalf("last %d", last)
	}
	// Up to date: the wait runs out empty, at the same seq.
	if entries, last, err := later.RevocationFeed(ctx, 3, 50*time.Millisecond); err != nil || len(entries) != 0 || last != 3 {
		t.Fatalf("idle: %v %d %v", entries, last, err)
	}
	// Entries 1 and 2 pruned: a follower after 0 missed them.
	cut := entries2At(t, entries)
	if err := st.Prune(ctx, time.Now(), time.Unix(0, 0), cut, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	_, _, err = later.RevocationFeed(ctx, 0, 0)
	var gap *gatehouse.FeedGapError
	if !errors.As(err, &gap) || !errors.Is(err, gatehouse.ErrFeedGap) || gap.FirstSeq != 3 || !gap.Since.Equal(entries[2].At) {
		t.Fatalf("gap: %v %+v", err, gap)
	}
	// Resuming where the gap says works.
	if entries, _, err := later.RevocationFeed(ctx, gap.FirstSeq-1, 0); err != nil || len(entries) != 1 || entries[0].SessionID != sids[2] {
		t.Fatalf("resume: %v %v", entries, err)
	}
	// Beyond the end: the database went back in time.
	if _, _, err := later.RevocationFeed(ctx, 99, 0); !errors.As(err, &gap) || gap.FirstSeq != 4 {
		t.Fatalf("beyond the end: %v", err)
	}
}

// entries2At is a time after the second entry and up to the third: pruning
// before it removes the first two.
func entries2At(t *testing.T, entries []gatehouse.Revocation) time.Time {
	t.Helper()
	if !entries[2].At.After(entries[1].At) {
		time.Sleep(time.Millisecond) // the clock did not move between them
		t.Skip("revocations in the same microsecond: cannot prune between them")
	}
	return entries[2].At
}
