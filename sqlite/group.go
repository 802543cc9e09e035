package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	msqlite "modernc.org/sqlite"

	"github.com/gatehouse/gatehouse"
)

// Group commit.
//
// With synchronous=FULL every commit waits for an fsync of the WAL, and
// the fsync, not SQLite, is what bounds the writes a second (see the
// package documentation). The hot writes of independent sessions (a
// refresh's rotation, a login's new session, a logout) therefore go
// through a committer: callers that arrive while a commit is on its way
// to disk queue up, and the next transaction runs all of their writes and
// commits them with one fsync. Each caller is answered only after that
// commit returned, so an acknowledged write is as durable as before.
//
// Every write of a batch runs against the state the writes before it in
// the same transaction left, under the one write lock, exactly as if they
// had been committed one after another; so the compare-and-swap of
// RotateSession still lets one of two racing rotations of a session win,
// even when both are in one batch.
//
// The events attached to a caller's context (gatehouse.WithEvents) are
// stored right after its write, in the batch's transaction, exactly when
// they would be for the write alone (see events.go).
//
// Failures stay with their caller. A write that settles with an answer of
// its own and writes nothing (a lost swap, an unknown session) answers
// only its caller. Should a statement fail with a database error, the
// whole transaction is rolled back (SQLite may already have rolled it
// back: SQLITE_FULL, SQLITE_IOERR) and every write of the batch runs
// again in a transaction of its own, so each caller gets the answer it
// would have had alone. A failed BEGIN or COMMIT concerns the database,
// not one write: all callers of the batch get it.

const (
	// groupMax bounds a batch, and so the latency a write adds to the
	// others of its batch.
	groupMax = 64
	// defaultGroupWindow is how long the committer waits for more writes
	// once writes are concurrent; see Options.GroupCommitWindow.
	defaultGroupWindow = 200 * time.Microsecond
)

// A groupOp is one caller's write waiting for, or in, a batch.
type groupOp struct {
	ctx  context.Context
	name string // the operation, for errors: "rotate session"
	// fn runs the write in tx, using ctx for its statements. It may run
	// twice (in a batch that is rolled back, then alone), so it assigns
	// its results rather than adding to them.
	fn    func(ctx context.Context, tx *sql.Tx) error
	state atomic.Int32 // opQueued, opTaken or opWithdrawn
	done  chan error   // receives the caller's answer; buffered
}

const (
	opQueued int32 = iota
	opTaken
	opWithdrawn
)

// committer runs the batches on the Store's writer connection, in one
// goroutine.
type committer struct {
	s      *Store
	window time.Duration

	mu     sync.Mutex
	queue  []*groupOp
	closed bool

	kick    chan struct{} // buffered 1: there is work, or the committer must stop
	stopped chan struct{} // closed when the goroutine ended

	// Counts so far, for tests and benchmarks: batches run, writes in
	// them, and batches rolled back to run their writes alone.
	batches, writes, reruns atomic.Int64
}

func newCommitter(s *Store, window time.Duration) *committer {
	c := &committer{s: s, window: window, kick: make(chan struct{}, 1), stopped: make(chan struct{})}
	go c.loop()
	return c
}

// groupTx runs fn in a write transaction that it may share with other
// callers' writes, and returns once that transaction committed (or failed).
// fn must only write rows that no other caller's fn of the same batch
// depends on for an answer other than the one the order of the batch
// gives: the batched writes are those of one session each.
func (s *Store) groupTx(ctx context.Context, name string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if s.group == nil {
		return s.writeTx(ctx, name, func(tx *sql.Tx) error { return fn(ctx, tx) })
	}
	if err := ctx.Err(); err != nil {
		return s.wrap(ctx, name, err)
	}
	o := &groupOp{ctx: ctx, name: name, fn: fn, done: make(chan error, 1)}
	if !s.group.enqueue(o) {
		return fmt.Errorf("sqlite: %s: %w: the store is closed", name, gatehouse.ErrUnavailable)
	}
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		if o.state.CompareAndSwap(opQueued, opWithdrawn) {
			return s.wrap(ctx, name, ctx.Err())
		}
		// Already in a transaction that may commit: the caller learns
		// how it ended rather than guessing.
		return <-o.done
	}
}

func (c *committer) enqueue(o *groupOp) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.queue = append(c.queue, o)
	c.mu.Unlock()
	c.signal()
	return true
}

func (c *committer) signal() {
	select {
	case c.kick <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// stop makes the committer finish the writes already queued and end, and
// waits for it.
func (c *committer) stop() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.signal()
	<-c.stopped
}

// take removes up to groupMax queued writes, in arrival order. It reports
// whether they are the last: the committer is stopping and nothing else is
// queued (enqueue refuses new writes by then).
func (c *committer) take() (batch []*groupOp, last bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := min(len(c.queue), groupMax)
	batch = append(batch, c.queue[:n]...)
	c.queue = append(c.queue[:0], c.queue[n:]...)
	if len(c.queue) > 0 {
		c.signal()
	}
	return batch, c.closed && len(c.queue) == 0
}

func (c *committer) loop() {
	defer close(c.stopped)
	size := 0 // of the previous batch
	for range c.kick {
		// Writers that are not concurrent gain nothing from waiting, so
		// wait only when the previous batch showed company: then the
		// writers it answered are on their way back with their next write.
		if size > 1 && c.window > 0 {
			time.Sleep(c.window)
		}
		batch, last := c.take()
		size = c.commit(batch)
		if size > 0 {
			c.batches.Add(1)
			c.writes.Add(int64(size))
		}
		if last {
			return
		}
	}
}

// commit runs a batch and answers its callers; it returns how many writes
// it ran (withdrawn ones are not run).
func (c *committer) commit(batch []*groupOp) int {
	ops := batch[:0]
	for _, o := range batch {
		if o.state.CompareAndSwap(opQueued, opTaken) {
			ops = append(ops, o)
		}
	}
	if len(ops) == 1 {
		// Alone: exactly the transaction the write would have had without
		// a committer, under its caller's context.
		c.alone(ops[0])
		return 1
	}
	if len(ops) == 0 {
		return 0
	}
	answers, err := c.together(ops)
	switch {
	case errors.Is(err, errStatement):
		c.reruns.Add(1)
		for _, o := range ops {
			c.alone(o)
		}
	case err != nil:
		for _, o := range ops {
			o.done <- c.s.wrap(o.ctx, o.name, err)
		}
	default:
		for i, o := range ops {
			o.done <- c.s.wrap(o.ctx, o.name, answers[i])
		}
	}
	return len(ops)
}

func (c *committer) alone(o *groupOp) {
	o.done <- c.s.writeTx(o.ctx, o.name, func(tx *sql.Tx) error { return o.fn(o.ctx, tx) })
}

// errStatement marks a batch whose statement failed: rerun its writes alone.
var errStatement = errors.New("a statement of the batch failed")

// together runs ops in one transaction and returns each one's answer. The
// statements run under a context of the committer's own, so that a caller
// giving up cannot interrupt the others' writes.
func (c *committer) together(ops []*groupOp) ([]error, error) {
	ctx := context.Background()
	tx, err := c.s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	answers := make([]error, len(ops))
	for i, o := range ops {
		err := o.fn(ctx, tx)
		switch {
		case errors.Is(err, errUnchanged):
			err = nil // its answer, without its events (events.go)
		case err == nil:
			// The events of the caller's context, as writeTx stores them
			// for a write alone. One that fails (a taken id) is a failed
			// statement: the batch reruns each write alone, where only
			// this one fails, with its change.
			if insertEvents(ctx, tx, gatehouse.EventsOf(o.ctx)) != nil {
				return nil, errStatement
			}
		case !settled(err):
			return nil, errStatement
		}
		answers[i] = err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return answers, nil
}

// settled reports whether err is a write's own answer (a sentinel it
// returned having written nothing, like an unknown session) rather than a
// failure of the database.
func settled(err error) bool {
	var se *msqlite.Error
	return errors.Is(err, gatehouse.ErrNotFound) && !errors.As(err, &se)
}
