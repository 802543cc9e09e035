package password

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWorkersBoundedByMemory(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	tests := []struct {
		name            string
		workers         int
		budget, perHash uint32 // KiB
		want            int
	}{
		{"budget lowers the workers", 8, 64 << 10, OWASP.Memory, 3},
		{"workers below the budget stay", 2, 64 << 10, OWASP.Memory, 2},
		{"one hash over the budget still runs", 4, 16 << 10, OWASP.Memory, 1},
		{"small hashes: the workers bound", 4, 64 << 10, 64, 4},
		{"default: CPUs within the budget", 0, 64 << 10, OWASP.Memory, min(procs, 3)},
		{"default with room: CPUs", 0, 1 << 30, 64, procs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := workersFor(tc.workers, tc.budget, tc.perHash); got != tc.want {
				t.Errorf("workersFor(%d, %d, %d) = %d, want %d", tc.workers, tc.budget, tc.perHash, got, tc.want)
			}
		})
	}
	t.Run("New applies it", func(t *testing.T) {
		h := mustNewHasher(t, Config{Workers: 8, MaxMemory: 3*tiny.Memory + tiny.Memory/2})
		if got := h.Workers(); got != 3 {
			t.Errorf("Workers() = %d, want 3 (MaxMemory / Params.Memory)", got)
		}
		if got := mustNewHasher(t, Config{Workers: 8}).Workers(); got != 8 {
			t.Errorf("Workers() = %d with the default budget and tiny hashes, want 8", got)
		}
	})
}

// TestPoolCollectsAfterLargeHash: a large hash is collected before its
// worker is handed on; a small one costs no collection.
func TestPoolCollectsAfterLargeHash(t *testing.T) {
	for _, large := range []bool{true, false} {
		h := mustNewHasher(t, Config{Workers: 1})
		h.pool.large = large
		var collected, heldDuring atomic.Int32
		h.pool.collect = func() {
			collected.Add(1)
			if h.Stats().Busy == 1 {
				heldDuring.Add(1)
			}
		}
		encoded := mustHash(t, h, "correct horse battery staple")
		if _, _, err := h.Compare(context.Background(), encoded, "pw"); err != nil {
			t.Fatal(err)
		}
		if err := h.CompareDummy(context.Background(), "pw"); err != nil {
			t.Fatal(err)
		}
		want := int32(0)
		if large {
			want = 3
		}
		if got := collected.Load(); got != want {
			t.Errorf("large=%v: %d collections after 3 hashes, want %d", large, got, want)
		}
		if got := heldDuring.Load(); got != want {
			t.Errorf("large=%v: %d collections with the worker held, want %d", large, got, heldDuring.Load())
		}
	}
}

// fakeTimer stands for the trimmer's time.Timer: the test fires it.
type fakeTimer struct {
	mu     sync.Mutex
	resets int
}

func (f *fakeTimer) Reset(time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resets++
	return false
}

func (f *fakeTimer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.resets
}

// largeHasher returns a hasher with tiny params whose pool acts as for
// large hashes, with a fake timer, and a counter of memory returns.
func largeHasher(t *testing.T, workers int) (*Hasher, *fakeTimer, *atomic.Int32) {
	t.Helper()
	h := mustNewHasher(t, Config{Workers: workers})
	h.pool.large = true
	h.pool.collect = func() {}
	ft := &fakeTimer{}
	var freed atomic.Int32
	h.pool.trim.timer = ft
	h.pool.trim.free = func() { freed.Add(1) }
	return h, ft, &freed
}

func TestTrimOncePerIdlePeriod(t *testing.T) {
	h, ft, freed := largeHasher(t, 1)

	// A trickle of hashes, each leaving the pool idle, pushes the trim
	// back each time and pays for none.
	for range 20 {
		mustHash(t, h, "pw")
	}
	if got := ft.count(); got != 20 {
		t.Errorf("timer reset %d times by 20 hashes, want 20", got)
	}
	if got := freed.Load(); got != 0 {
		t.Fatalf("memory returned %d times before the pool was idle for the delay, want 0", got)
	}

	// The delay passes: one return, and no second one without a hash.
	h.pool.trim.fire()
	h.pool.trim.fire()
	if got := freed.Load(); got != 1 {
		t.Fatalf("memory returned %d times after one idle period, want 1", got)
	}

	// The timer fires while a hash runs: nothing, until the release that
	// leaves the pool idle arms it again.
	mustHash(t, h, "pw")
	release := occupy(t, h)
	h.pool.trim.fire()
	if got := freed.Load(); got != 1 {
		t.Fatalf("memory returned while a hash ran (%d returns), want none", got)
	}
	before := ft.count()
	release()
	if ft.count() != before+1 {
		t.Fatalf("the release that left the pool idle did not arm the timer")
	}
	h.pool.trim.fire()
	if got := freed.Load(); got != 2 {
		t.Fatalf("memory returned %d times after the second idle period, want 2", got)
	}
}

// TestTrimNotArmedWhileBusy: in a burst the timer is armed only by the
// releases that leave the pool idle, not by every hash.
func TestTrimNotArmedWhileBusy(t *testing.T) {
	h, ft, _ := largeHasher(t, 1)
	release := occupy(t, h)
	done := make(chan error, 8)
	for range 8 {
		go func() { _, err := h.Hash(context.Background(), "pw"); done <- err }()
	}
	waitFor(t, "8 waiting hashes", func() bool { return h.Stats().Waiting == 8 })
	release()
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// 9 releases in all; the last leaves the pool idle. The runtime may
	// see the pool idle for a moment between two hashes, never 9 times.
	if got := ft.count(); got < 1 || got > 8 {
		t.Errorf("timer armed %d times by a burst of 9 hashes, want at least 1 and fewer than 9", got)
	}
}

func TestTrimRealTimer(t *testing.T) {
	h := mustNewHasher(t, Config{Workers: 1})
	h.pool.large = true
	h.pool.trim.delay = time.Millisecond
	var freed atomic.Int32
	h.pool.trim.free = func() { freed.Add(1) }
	mustHash(t, h, "pw")
	waitFor(t, "the memory to be returned", func() bool { return freed.Load() == 1 })
}

// TestHeapStaysWithinBudget runs a burst of real OWASP hashes and checks
// the heap the runtime obtained for them: no more than the hashes that may
// run at once. Without the collection after each hash, the heap grows to
// twice what was live at the last collection (GOGC=100).
func TestHeapStaysWithinBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("16 OWASP hashes; skipped with -short")
	}
	const workers, hashes = 2, 16
	h, err := New(Config{Workers: workers, MaxWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	h.pool.trim.free = func() {} // keep the heap's high-water mark readable
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	for range hashes {
		wg.Go(func() {
			if _, err := h.Hash(context.Background(), "pw"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// HeapSys never shrinks (returned memory stays in it, as HeapReleased),
	// so its growth is the most heap the burst needed at once.
	grew := int64(after.HeapSys) - int64(before.HeapSys)
	hash := int64(OWASP.Memory) << 10
	// The hashes running at once, and a little for the rest of the test
	// binary; without the collections it grows by three hashes' worth.
	if limit := workers*hash + 8<<20; grew > limit {
		t.Errorf("heap grew by %d MiB for %d workers of %d MiB, want at most %d MiB",
			grew>>20, workers, hash>>20, limit>>20)
	}
}

// BenchmarkHashBurst runs OWASP hashes from more callers than workers, as a
// login flood does, with and without the collection after each hash: its
// cost in CPU (gc-ms/op, the collector's CPU time per hash, against
// user-ms/op, the hashing's), against what it saves in heap (HeapSys-MiB,
// the most heap the runtime obtained; run each case alone to read it, as
// HeapSys never shrinks).
func BenchmarkHashBurst(b *testing.B) {
	for _, collect := range []bool{true, false} {
		b.Run(fmt.Sprintf("collect=%v", collect), func(b *testing.B) {
			h, err := New(Config{MaxWait: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			if !collect {
				h.pool.collect = func() {}
			}
			b.SetParallelism(4) // callers per GOMAXPROCS: more than the workers
			gc0, user0 := cpuSeconds()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			gc1, user1 := cpuSeconds()
			b.ReportMetric((gc1-gc0)*1e3/float64(b.N), "gc-ms/op")
			b.ReportMetric((user1-user0)*1e3/float64(b.N), "user-ms/op")
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapSys)/(1<<20), "HeapSys-MiB")
		})
	}
}

// cpuSeconds returns the CPU time the collector and the program's own code
// have used so far.
func cpuSeconds() (gc, user float64) {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/user:cpu-seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64(), s[1].Value.Float64()
}
