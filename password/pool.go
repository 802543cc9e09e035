package password

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse"
)

// pool bounds the argon2id computations running at once, and the callers
// waiting for one. Memory is what an attacker exhausts with logins: each
// hash holds Params.Memory (19 MiB by default) for its duration, so the
// bound is Workers × Memory however many requests arrive (SECURITY.md §7;
// OWASP ASVS 5.0 15.2.2). Callers beyond the queue, or that wait too long,
// get ErrServerBusy, which the HTTP layer answers with 503, rather than
// piling up.
type pool struct {
	// sem holds one token per running hash. Callers blocked on a send
	// are woken in FIFO order by the runtime, and a freed slot goes to
	// the longest waiter before a newcomer can take it.
	sem      chan struct{}
	maxQueue int64
	maxWait  time.Duration
	waiting  atomic.Int64
	rejected atomic.Uint64

	// large reports whether each hash is large enough to collect after
	// (memory.go); collect is runtime.GC, and trim returns the memory to
	// the OS once the pool is idle. Both are replaced in tests.
	large   bool
	collect func()
	trim    *trimmer
}

// newPool returns a pool of workers for hashes of hashKiB each.
func newPool(workers, maxQueue int, maxWait time.Duration, hashKiB uint32) *pool {
	p := &pool{
		sem:      make(chan struct{}, workers),
		maxQueue: int64(maxQueue),
		maxWait:  maxWait,
		large:    hashKiB >= largeHash,
		collect:  runtime.GC,
	}
	p.trim = newTrimmer(p.idle)
	return p
}

// acquire waits for a worker and returns the function that gives it back.
// It fails with an error wrapping [gatehouse.ErrServerBusy] when the queue
// is full, when maxWait passes, or when ctx's deadline passes first (then
// the error wraps context.DeadlineExceeded too); with ctx's error alone
// when ctx is cancelled (the caller has gone: nothing to count).
func (p *pool) acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, p.ctxErr(err)
	}
	select {
	case p.sem <- struct{}{}:
		return p.release, nil
	default:
	}
	// Join the queue unless it is full. A CAS rather than Add-then-undo,
	// so that Waiting never reads above maxQueue.
	for {
		n := p.waiting.Load()
		if n >= p.maxQueue {
			p.rejected.Add(1)
			return nil, fmt.Errorf("password: %d callers already waiting for a hashing worker: %w", n, gatehouse.ErrServerBusy)
		}
		if p.waiting.CompareAndSwap(n, n+1) {
			break
		}
	}
	defer p.waiting.Add(-1)
	timer := time.NewTimer(p.maxWait)
	defer timer.Stop()
	select {
	case p.sem <- struct{}{}:
		return p.release, nil
	case <-timer.C:
		p.rejected.Add(1)
		return nil, fmt.Errorf("password: no hashing worker free within %v: %w", p.maxWait, gatehouse.ErrServerBusy)
	case <-ctx.Done():
		return nil, p.ctxErr(ctx.Err())
	}
}

// release gives a worker back. After a large hash it first collects, so
// that the next hash reuses the memory this one dropped rather than the
// heap growing by a hash's worth (memory.go); while the worker is still
// held, so that the next hash cannot start allocating before the memory
// is free.
func (p *pool) release() {
	if !p.large {
		<-p.sem
		return
	}
	p.collect()
	<-p.sem
	p.trim.done(p.idle())
}

// idle reports whether no hash is running or waiting.
func (p *pool) idle() bool { return len(p.sem) == 0 && p.waiting.Load() == 0 }

// ctxErr turns the error of an ended ctx into acquire's error. A deadline
// means the server ran out of time to serve, which is being busy.
func (p *pool) ctxErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		p.rejected.Add(1)
		return fmt.Errorf("password: waiting for a hashing worker: %w: %w", gatehouse.ErrServerBusy, err)
	}
	return fmt.Errorf("password: waiting for a hashing worker: %w", err)
}

func (p *pool) stats() Stats {
	return Stats{
		Busy:     len(p.sem),
		Waiting:  int(p.waiting.Load()),
		Rejected: p.rejected.Load(),
	}
}
