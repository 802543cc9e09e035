package sqlite

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storetest"
)

// The benchmarks of a refresh's cost (package storetest), under each
// synchronous setting: FULL (the default) fsyncs every commit, NORMAL
// only at checkpoints. Writes queue for the one writer connection, so
// none fails with SQLITE_BUSY.

func BenchmarkRotateSession(b *testing.B) {
	for _, mode := range []string{"FULL", "NORMAL"} {
		b.Run(mode, func(b *testing.B) {
			storetest.BenchRotateSession(b, mustOpenStore(b, Options{Synchronous: mode}))
		})
	}
}

// BenchmarkRotateSessionParallel also runs with group commit off
// ("alone": a transaction and an fsync per write) and at several windows,
// and reports how many writes a batch held on average.
func BenchmarkRotateSessionParallel(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"FULL", Options{}},
		{"FULL-alone", Options{GroupCommitWindow: -1}},
		{"FULL-window0", Options{GroupCommitWindow: time.Nanosecond}},
		{"FULL-window100us", Options{GroupCommitWindow: 100 * time.Microsecond}},
		{"FULL-window500us", Options{GroupCommitWindow: 500 * time.Microsecond}},
		{"NORMAL", Options{Synchronous: "NORMAL"}},
		{"NORMAL-alone", Options{Synchronous: "NORMAL", GroupCommitWindow: -1}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := mustOpenStore(b, tc.opts)
			storetest.BenchRotateSessionParallel(b, s)
			if s.group != nil && s.group.batches.Load() > 0 {
				b.ReportMetric(float64(s.group.writes.Load())/float64(s.group.batches.Load()), "writes/batch")
			}
		})
	}
}

func BenchmarkSession(b *testing.B) { storetest.BenchSession(b, mustOpenStore(b, Options{})) }
