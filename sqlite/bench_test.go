package sqlite

import (
	"testing"

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

func BenchmarkRotateSessionParallel(b *testing.B) {
	for _, mode := range []string{"FULL", "NORMAL"} {
		b.Run(mode, func(b *testing.B) {
			storetest.BenchRotateSessionParallel(b, mustOpenStore(b, Options{Synchronous: mode}))
		})
	}
}

func BenchmarkSession(b *testing.B) { storetest.BenchSession(b, mustOpenStore(b, Options{})) }
