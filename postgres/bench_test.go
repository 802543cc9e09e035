package postgres

import (
	"testing"

	"github.com/gatehouse/gatehouse/storetest"
)

// The benchmarks of a refresh's cost (package storetest). A rotation is one
// statement (compare-and-swap, record the retirement, forget old ones): one
// round trip and one commit. In parallel, commits of different sessions
// proceed at once (PostgreSQL groups their WAL flushes).

func BenchmarkRotateSession(b *testing.B) { storetest.BenchRotateSession(b, openTest(b)) }

func BenchmarkRotateSessionParallel(b *testing.B) {
	storetest.BenchRotateSessionParallel(b, openTest(b))
}

func BenchmarkSession(b *testing.B) { storetest.BenchSession(b, openTest(b)) }
