package gatehouse

import (
	"context"
	"sync"
	"time"
)

// The revocation feed for remote verifiers (CONTRACT §10): GET
// /api/auth/revocations long-polls the same store feed that keeps this
// process's session guard in step. The guard's poller reads each entry
// once and publishes it here; every waiting follower is woken by one
// channel close and reads the entries from memory. So a revocation costs
// one store read per instance, whatever the number of followers, and a
// waiting follower costs a parked goroutine and nothing else.

// FeedGapError answers a follower that asked for entries already pruned
// (or for a seq beyond the feed's end, as after a database restore). The
// feed holds every revocation made at or after Since, from FirstSeq on.
// errors.Is(err, ErrFeedGap) reports true.
type FeedGapError struct {
	FirstSeq int64
	Since    time.Time
}

func (e *FeedGapError) Error() string { return ErrFeedGap.Error() }
func (e *FeedGapError) Unwrap() error { return ErrFeedGap }

const (
	feedRing      = 10_000 // recent entries kept in memory for followers
	feedPageLimit = 1000   // entries per answer at most
	// MaxFeedWait bounds a long poll (CONTRACT §10).
	MaxFeedWait = 60 * time.Second
)

// feedHub holds the recent session revocations, in seq order, and wakes
// the followers waiting for the next one.
type feedHub struct {
	mu sync.Mutex
	// from is the seq after which the hub knows every entry: entries holds
	// each session revocation with from < Seq <= head.
	from, head int64
	entries    []Revocation
	news       chan struct{} // closed, and replaced, when head advances
	// draining is closed when the server shuts down: waiting followers
	// are answered at once rather than holding the shutdown up.
	draining  chan struct{}
	drainOnce sync.Once
}

func newFeedHub() *feedHub {
	return &feedHub{news: make(chan struct{}), draining: make(chan struct{})}
}

// DrainFeed answers every waiting follower at once and every later one
// without waiting: call it when the server begins to shut down.
func (s *Service) DrainFeed() {
	s.guard.hub.drainOnce.Do(func() { close(s.guard.hub.draining) })
}

// reset positions the hub at the feed's end.
func (h *feedHub) reset(seq int64) {
	h.mu.Lock()
	h.from, h.head, h.entries = seq, seq, nil
	h.mu.Unlock()
}

// publish appends the entries read after the head, up to seq head.
func (h *feedHub) publish(revs []Revocation, head int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if head <= h.head {
		return
	}
	for _, r := range revs {
		if r.SessionID != "" && r.Seq > h.head {
			h.entries = append(h.entries, r)
		}
	}
	if over := len(h.entries) - feedRing; over > 0 {
		h.from = h.entries[over-1].Seq
		h.entries = append(h.entries[:0:0], h.entries[over:]...)
	}
	h.head = head
	close(h.news)
	h.news = make(chan struct{})
}

// read returns the entries after `after` that the hub holds, the seq the
// answer covers, and whether the hub could answer at all (after within
// its window); news is closed when there is more.
func (h *feedHub) read(after int64) (out []Revocation, last int64, ok bool, news <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if after < h.from || after > h.head {
		return nil, 0, false, h.news
	}
	// Binary search would do; the window is small and mostly read at its end.
	i := len(h.entries)
	for i > 0 && h.entries[i-1].Seq > after {
		i--
	}
	out = h.entries[i:]
	last = h.head
	if len(out) > feedPageLimit {
		out = out[:feedPageLimit]
		last = out[len(out)-1].Seq
	}
	return append([]Revocation(nil), out...), last, true, h.news
}

// RevocationFeed answers a follower: the session revocations with Seq >
// after (each with its time), and the seq the answer covers (resume with
// after = last). It waits up to wait for the first one. A *FeedGapError
// means entries after `after` were pruned, or after is beyond the feed.
func (s *Service) RevocationFeed(ctx context.Context, after int64, wait time.Duration) ([]Revocation, int64, error) {
	wait = min(max(wait, 0), MaxFeedWait)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		entries, last, ok, news := s.guard.hub.read(after)
		if !ok {
			entries, last, wait, err := s.feedFromStore(ctx, after)
			if err != nil || !wait {
				return entries, last, err
			}
			// after is ahead of this instance's hub but not of the store:
			// another instance appended; the poller brings it here soon.
		} else if len(entries) > 0 || last > after {
			return entries, last, nil
		}
		select {
		case <-news:
		case <-timer.C:
			return []Revocation{}, after, nil
		case <-s.guard.hub.draining:
			return []Revocation{}, after, nil
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
}

// feedFromStore answers from the store what the hub does not hold: a
// follower catching up from before this process started, or before the
// hub's window. wait reports an `after` the store has but the hub not yet.
func (s *Service) feedFromStore(ctx context.Context, after int64) (out []Revocation, last int64, wait bool, err error) {
	end, err := s.store.LastRevocationSeq(ctx)
	if err != nil {
		return nil, 0, false, err
	}
	if after > end {
		// A follower ahead of the feed: the database went back in time.
		return nil, 0, false, &FeedGapError{FirstSeq: end + 1, Since: s.now().UTC()}
	}
	revs, err := s.store.Revocations(ctx, after, feedPageLimit)
	if err != nil {
		return nil, 0, false, err
	}
	if len(revs) == 0 {
		if end > after {
			return nil, 0, false, &FeedGapError{FirstSeq: end + 1, Since: s.now().UTC()}
		}
		return nil, 0, true, nil
	}
	if revs[0].Seq != after+1 {
		// Seqs have no gaps: the missing ones were pruned.
		return nil, 0, false, &FeedGapError{FirstSeq: revs[0].Seq, Since: revs[0].At}
	}
	out = []Revocation{}
	for _, r := range revs {
		if r.SessionID != "" {
			out = append(out, r)
		}
	}
	return out, revs[len(revs)-1].Seq, false, nil
}
