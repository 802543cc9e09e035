package postgres

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

// rotations batches the rotations that arrive together: the refresh is
// the hot write, and each one alone is a round trip and a commit, whose
// WAL flush and backend work cost PostgreSQL more than the UPDATE itself.
//
// A worker takes rotations from an unbuffered channel: one (waiting for
// it), then every other rotation already waiting to be taken, and sends
// them to the database as one pgx batch: one round trip, and one implicit
// transaction (the batch ends with one Sync), so one commit. Under light
// load the worker is waiting and a rotation goes alone at once; no
// rotation waits for a timer. Each caller is answered after the commit
// that holds its rotation.
//
// A batch is one transaction, so its statements run one after the other
// and each sees the ones before: two rotations of one token in one batch
// make one successor, as two separate ones would. Any error aborts the
// whole batch, which then runs its rotations one by one: a rotation that
// did commit before the error (a connection lost after the commit) finds
// its generation moved on, and the service judges the token as it would
// after losing a race (RFC 9700 §4.14.2).
type rotations struct {
	store   *Store
	queue   chan *rotation
	stop    chan struct{} // closed by close: the workers stop taking
	stopped chan struct{} // closed once every worker has returned
	wg      sync.WaitGroup

	batches, writes atomic.Int64 // for tests and measurements
	waiting         atomic.Int64 // callers not yet taken by a worker (for tests)
}

// rotation is one RotateSession waiting for its batch.
type rotation struct {
	ctx       context.Context
	id        string
	from      int64
	now, idle time.Time

	done chan struct{}
	sess *gatehouse.Session
	err  error
}

// rotationWorkers is how many batches may be in flight at once, chosen by
// measurement: 16 clients refreshing through one server against a local
// PostgreSQL 15 on the 2-core development VM (go run ./bench/load --stores
// postgres --clients 16 --duration 4s --rounds 3 --scenarios
// healthz,refresh; median refreshes/s and commits per refresh):
//
//	workers          1      2      4
//	refreshes/s   5033   3712   3408
//	commits/req   0.18   0.30   0.46
//
// While one batch commits, the next gathers everything that arrives; a
// second worker only splits that into smaller batches and more commits.
// A batch takes its rows' locks in id order, so two instances' batches
// never deadlock; one waits for the other's commit at most.
const rotationWorkers = 1

// maxBatch bounds a batch: a few dozen statements already share their
// commit; more would only hold row locks longer.
const maxBatch = 64

func newRotations(s *Store, workers int) *rotations {
	r := &rotations{store: s, queue: make(chan *rotation), stop: make(chan struct{}), stopped: make(chan struct{})}
	r.wg.Add(workers)
	for range workers {
		go r.work()
	}
	go func() { r.wg.Wait(); close(r.stopped) }()
	return r
}

// close stops the workers after the rotations already taken are answered.
func (r *rotations) close() {
	close(r.stop)
	<-r.stopped
}

// rotate hands a rotation to a worker and waits for its answer.
func (r *rotations) rotate(ctx context.Context, op *rotation) (*gatehouse.Session, error) {
	op.ctx, op.done = ctx, make(chan struct{})
	var refused error
	r.waiting.Add(1)
	select {
	case r.queue <- op:
	case <-r.stopped:
		refused = errors.New("closed")
	case <-ctx.Done():
		refused = ctx.Err()
	}
	r.waiting.Add(-1)
	if refused != nil {
		return nil, r.store.wrap(ctx, "rotate session", refused)
	}
	<-op.done // taken: answered after its commit, or its failure
	return op.sess, op.err
}

func (r *rotations) work() {
	defer r.wg.Done()
	for {
		var batch []*rotation
		select {
		case op := <-r.queue:
			batch = append(batch, op)
		case <-r.stop:
			return
		}
	take:
		for len(batch) < maxBatch {
			select {
			case op := <-r.queue:
				batch = append(batch, op)
			default:
				break take
			}
		}
		r.run(batch)
	}
}

// run commits a batch and answers each of its callers.
func (r *rotations) run(batch []*rotation) {
	defer func() {
		for _, op := range batch {
			close(op.done)
		}
	}()
	live := batch[:0:0]
	for _, op := range batch {
		if err := op.ctx.Err(); err != nil {
			op.err = r.store.wrap(op.ctx, "rotate session", err) // its caller gave up: never run
			continue
		}
		live = append(live, op)
	}
	r.batches.Add(1)
	r.writes.Add(int64(len(live)))
	if len(live) > 1 && r.together(live) == nil {
		return
	}
	for _, op := range live {
		op.sess, op.err = r.store.rotateAlone(op.ctx, op)
	}
}

// together runs the rotations as one batch. On an error nothing of it
// committed, and no caller has been answered.
func (r *rotations) together(ops []*rotation) error {
	// Rows locked in one order in every batch cannot deadlock two batches.
	sorted := slices.Clone(ops)
	slices.SortStableFunc(sorted, func(a, b *rotation) int { return cmp.Compare(a.id, b.id) })
	found := make([]bool, len(sorted))
	sessions := make([]*gatehouse.Session, len(sorted))
	err := r.store.do(context.Background(), "rotate sessions", func(ctx context.Context) error {
		b := &pgx.Batch{}
		for _, op := range sorted {
			b.Queue(rotate, op.id, op.from, op.now, op.idle)
		}
		res := r.store.pool.SendBatch(ctx, b)
		for i := range sorted {
			sess, err := scanSession(res.QueryRow())
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				sessions[i], found[i] = nil, false
			case err != nil:
				res.Close()
				return err
			default:
				sessions[i], found[i] = &sess, true
			}
		}
		return res.Close() // the commit's answer
	})
	if err != nil {
		return err
	}
	for i, op := range sorted {
		if found[i] {
			op.sess = sessions[i]
			continue
		}
		// Not rotated: say whether the session exists at all, as
		// RotateSession alone does.
		op.err = r.store.read(op.ctx, "rotate session", func(ctx context.Context) error {
			return sessionExists(ctx, r.store.pool, op.id)
		})
	}
	return nil
}
