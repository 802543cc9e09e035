package password

import (
	"runtime"
	"runtime/debug"
	"sync"
	"time"
)

// Memory. Each argon2id hash allocates Params.Memory (19 MiB at the OWASP
// parameters) and drops it when done, so a login flood is the one request
// pattern that can make the process large (OWASP ASVS 5.0 15.2.2: bound the
// resources one request may consume). Two things keep it small:
//
//   - The pool runs at most MaxMemory / Params.Memory hashes at once,
//     whatever the number of CPUs, so that the memory of the hashes in
//     progress stays within a budget the operator can plan for.
//   - Go frees a hash's memory only at its next collection and returns it
//     to the OS later still. Left to itself, the heap grows to twice what
//     was live at the last collection (GOGC=100): the memory of every hash
//     that happened to be running then, twice over, and the scavenger keeps
//     that much mapped long after a burst. So a worker collects after each
//     large hash, before it hands its slot on, and the next hash reuses the
//     memory instead of growing the heap; and once the pool has been idle
//     for a while, the freed memory goes back to the OS.

const (
	// DefaultMaxMemory is Config.MaxMemory's default, in KiB: three
	// hashes at the OWASP parameters.
	DefaultMaxMemory = 64 * 1024
	// largeHash is the Params.Memory (KiB) from which a hash is worth a
	// collection of its own: it is then far more than a collection costs
	// (a few hundred microseconds for the few MiB of a server's live
	// heap, against tens of milliseconds of hashing).
	largeHash = 1024
	// idleTrim is how long the pool stays idle before the memory freed by
	// a burst of hashes goes back to the OS: long enough that a steady
	// trickle of logins, one at a time, does not pay for it on each one.
	idleTrim = time.Second
)

// workersFor returns how many hashes may run at once: the configured
// number (GOMAXPROCS when 0, as argon2id with one lane keeps a CPU busy),
// at most the memory budget's worth, and at least one, or no login could
// succeed.
func workersFor(workers int, budget, perHash uint32) int {
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return max(1, min(workers, int(budget/perHash)))
}

// trimmer gives a burst's memory back to the OS once the pool has been idle
// for a delay, once per idle period rather than on every request: each
// call to free walks the whole heap.
type trimmer struct {
	free  func()      // debug.FreeOSMemory; replaced in tests
	idle  func() bool // whether the pool is idle now
	timer interface{ Reset(time.Duration) bool }
	delay time.Duration

	mu    sync.Mutex
	dirty bool // a large hash has run since the last trim
}

func newTrimmer(idle func() bool) *trimmer {
	t := &trimmer{free: debug.FreeOSMemory, idle: idle, delay: idleTrim}
	t.timer = newStoppedTimer(t.fire)
	return t
}

// newStoppedTimer returns a timer that calls f when reset and then left
// alone for its duration.
func newStoppedTimer(f func()) *time.Timer {
	tm := time.AfterFunc(time.Hour, f)
	tm.Stop()
	return tm
}

// done records that a large hash finished. When it leaves the pool idle,
// it starts the delay again, so that a trickle of requests pushes the trim
// back rather than paying for one each.
func (t *trimmer) done(idleNow bool) {
	t.mu.Lock()
	t.dirty = true
	t.mu.Unlock()
	if idleNow {
		t.timer.Reset(t.delay)
	}
}

// fire runs when the pool has stayed idle for the delay, or so it seemed:
// if work started meanwhile, the release that ends it arms the timer again.
func (t *trimmer) fire() {
	if !t.idle() {
		return
	}
	t.mu.Lock()
	dirty := t.dirty
	t.dirty = false
	t.mu.Unlock()
	if dirty {
		t.free()
	}
}
