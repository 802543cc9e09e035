package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// testFeedUnderConcurrency follows the revocation feed by its cursor, as
// the session guard does, while many goroutines revoke: the reader must
// see every revocation. A store whose seqs can become visible out of order
// (a sequence taken at insert, committed later) fails here: the reader
// moves its cursor past a seq that commits afterwards and never sees it.
func testFeedUnderConcurrency(t *testing.T, open func(t testing.TB) gatehouse.Store) {
	t.Parallel()
	ctx := context.Background()
	st := open(t)
	u := mustCreateUser(t, st, "u")
	const writers, each = 8, 20
	ids := make([][]string, writers)
	for w := range writers {
		for range each {
			ids[w] = append(ids[w], mustCreateSession(t, st, newSession(u.ID, base)).ID)
		}
	}
	seen := map[string]bool{}
	var cursor int64
	read := func() {
		revs, err := st.Revocations(ctx, cursor, 1000)
		if err != nil {
			t.Errorf("Revocations: %v", err)
			return
		}
		for _, r := range revs {
			if r.Seq <= cursor {
				t.Errorf("seq %d after cursor %d", r.Seq, cursor)
			}
			seen[r.SessionID] = true
			cursor = r.Seq
		}
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for _, id := range ids[w] {
				if _, err := st.RevokeSession(ctx, id, gatehouse.ReasonLogout, at(time.Minute)); err != nil {
					t.Errorf("RevokeSession: %v", err)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for reading := true; reading; {
		select {
		case <-done:
			reading = false
		default:
			read()
		}
	}
	read() // a poller's catch-up after the last append
	for w := range writers {
		for _, id := range ids[w] {
			if !seen[id] {
				t.Fatalf("the cursor reader never saw the revocation of %s", id)
			}
		}
	}
}
