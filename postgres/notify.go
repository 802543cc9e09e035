package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// notifyChannel is the LISTEN/NOTIFY channel of revocation-feed appends.
// Channels are per database, not per schema, so the payload names the
// schema, and a listener ignores other schemas' notices.
const notifyChannel = "gatehouse_revocations"

// Backoff of the listener's reconnection.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// RevocationNotices implements [gatehouse.RevocationNotifier]: the channel
// receives a value when another instance (or this one) appended to the
// revocation feed, so that the session guard reads the feed at once
// instead of at its next poll. It is closed when ctx ends.
//
// It listens on a dedicated connection, outside the pool (a LISTEN belongs
// to one session). When that connection is lost it reconnects with
// exponential backoff, and sends a value after each (re)connection: a
// notice sent while it was down is lost, and the guard's read of the feed
// after the cursor catches up with whatever it missed. The feed, not the
// notice, is what carries the revocations; a notice only makes them
// arrive sooner than the next poll.
func (s *Store) RevocationNotices(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		signal := func() {
			select {
			case out <- struct{}{}:
			default: // one pending value is enough: the guard reads the whole feed
			}
		}
		backoff := listenBackoffMin
		failing := false
		for ctx.Err() == nil && !s.closed.Load() {
			err := s.listen(ctx, func() {
				backoff = listenBackoffMin
				if failing {
					failing = false
					s.log.InfoContext(ctx, "revocation listener reconnected")
				}
				signal()
			}, signal)
			if ctx.Err() != nil || s.closed.Load() {
				return
			}
			if !failing {
				failing = true
				s.log.WarnContext(ctx, "revocation listener lost its connection; revocations of other instances arrive by polling until it is back",
					"err", s.wrap(ctx, "listen", err))
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, listenBackoffMax)
		}
	}()
	return out
}

// listen connects, LISTENs, calls connected, then calls notice for every
// notice of this schema until the connection fails or ctx ends.
func (s *Store) listen(ctx context.Context, connected, notice func()) error {
	cfg := s.pool.Config().ConnConfig.Copy()
	cctx, cancel := context.WithTimeout(ctx, s.opts.QueryTimeout)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		cancel()
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(cctx, "LISTEN "+pgx.Identifier{notifyChannel}.Sanitize())
	cancel()
	if err != nil {
		return err
	}
	connected()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Channel == notifyChannel && n.Payload == s.schema {
			notice()
		}
	}
}
