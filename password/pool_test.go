package password

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// waitFor polls cond until it holds; the bound is a liveness limit for a
// broken test, not a speed assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// occupy takes the pool's only worker, as a long hash would, and gives it
// back at the end of the test unless the test does first.
func occupy(t *testing.T, h *Hasher) (release func()) {
	t.Helper()
	r, err := h.pool.acquire(context.Background())
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	var once sync.Once
	release = func() { once.Do(r) }
	t.Cleanup(release)
	return release
}

func TestPoolBusyFailsFast(t *testing.T) {
	h := mustNewHasher(t, Config{Workers: 1, MaxQueue: 1, MaxWait: time.Hour})
	ctx := context.Background()
	encoded := mustHash(t, h, "correct horse battery staple")
	release := occupy(t, h)

	// One caller may wait...
	waiter := make(chan error, 1)
	go func() {
		match, _, err := h.Compare(ctx, encoded, "correct horse battery staple")
		if err == nil && !match {
			err = errors.New("no match")
		}
		waiter <- err
	}()
	waitFor(t, "one waiting caller", func() bool { return h.Stats().Waiting == 1 })

	// ...every other one is refused at once, whatever it asks for. With
	// MaxWait an hour, a refusal before the 10s deadline (which would wrap
	// DeadlineExceeded) can only come from the full queue.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	calls := []struct {
		name string
		call func() error
	}{
		{"Hash", func() error { _, err := h.Hash(ctx, "pw"); return err }},
		{"Compare", func() error { _, _, err := h.Compare(ctx, encoded, "pw"); return err }},
		{"CompareDummy", func() error { return h.CompareDummy(ctx, "pw") }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if !errors.Is(err, gatehouse.ErrServerBusy) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s = %v, want ErrServerBusy from the full queue", c.name, err)
			}
		})
	}
	if got, want := h.Stats(), (Stats{Busy: 1, Waiting: 1, Rejected: 3}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}

	// Freeing the worker serves the waiter.
	release()
	if err := <-waiter; err != nil {
		t.Fatalf("waiting Compare = %v, want a match", err)
	}
	if got, want := h.Stats(), (Stats{Busy: 0, Waiting: 0, Rejected: 3}); got != want {
		t.Errorf("Stats after = %+v, want %+v", got, want)
	}
}

func TestPoolMaxWait(t *testing.T) {
	h := mustNewHasher(t, Config{Workers: 1, MaxQueue: 8, MaxWait: 20 * time.Millisecond})
	occupy(t, h)
	_, err := h.Hash(context.Background(), "pw")
	if !errors.Is(err, gatehouse.ErrServerBusy) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Hash = %v, want ErrServerBusy from MaxWait", err)
	}
	if got, want := h.Stats(), (Stats{Busy: 1, Waiting: 0, Rejected: 1}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func TestPoolContext(t *testing.T) {
	t.Run("deadline while waiting", func(t *testing.T) {
		h := mustNewHasher(t, Config{Workers: 1, MaxWait: time.Hour})
		occupy(t, h)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		err := h.CompareDummy(ctx, "pw")
		if !errors.Is(err, gatehouse.ErrServerBusy) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("CompareDummy = %v, want ErrServerBusy and DeadlineExceeded", err)
		}
		if got := h.Stats().Rejected; got != 1 {
			t.Errorf("Rejected = %d, want 1", got)
		}
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		h := mustNewHasher(t, Config{Workers: 1, MaxWait: time.Hour})
		occupy(t, h)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { _, err := h.Hash(ctx, "pw"); done <- err }()
		waitFor(t, "the Hash to wait", func() bool { return h.Stats().Waiting == 1 })
		cancel()
		err := <-done
		if !errors.Is(err, context.Canceled) || errors.Is(err, gatehouse.ErrServerBusy) {
			t.Fatalf("Hash = %v, want context.Canceled only", err)
		}
		if got, want := h.Stats(), (Stats{Busy: 1}); got != want {
			t.Errorf("Stats = %+v, want %+v: a caller that left is not a refusal", got, want)
		}
	})
	t.Run("already cancelled with a free worker", func(t *testing.T) {
		h := mustNewHasher(t, Config{Workers: 1})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Hash = %v, want context.Canceled without hashing", err)
		}
		if got := h.Stats(); got != (Stats{}) {
			t.Errorf("Stats = %+v, want zero", got)
		}
	})
	t.Run("already past its deadline", func(t *testing.T) {
		h := mustNewHasher(t, Config{Workers: 1})
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		if _, _, err := h.Compare(ctx, h.dummy, "pw"); !errors.Is(err, gatehouse.ErrServerBusy) {
			t.Fatalf("Compare = %v, want ErrServerBusy", err)
		}
	})
}

// TestPoolConcurrent runs more callers than workers; all of them must get
// through (the queue is long enough), and Busy never exceeds Workers. Run
// it with -race.
func TestPoolConcurrent(t *testing.T) {
	const workers, callers = 2, 24
	h := mustNewHasher(t, Config{Workers: workers, MaxWait: time.Minute})
	encoded := mustHash(t, h, "correct horse battery staple")
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			if s := h.Stats(); s.Busy > workers {
				errs <- errors.New("more hashes running than workers")
			}
			var err error
			switch i % 3 {
			case 0:
				_, err = h.Hash(context.Background(), "pw")
			case 1:
				var match bool
				if match, _, err = h.Compare(context.Background(), encoded, "correct horse battery staple"); err == nil && !match {
					err = errors.New("no match")
				}
			default:
				err = h.CompareDummy(context.Background(), "pw")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := h.Stats(); got != (Stats{}) {
		t.Errorf("Stats = %+v, want zero once all are done", got)
	}
}
