package postgres

import (
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/postgres/pgtest"
	"github.com/gatehouse/gatehouse/storetest"
)

// The benchmarks of a refresh's cost (package storetest). A rotation is one
// statement (compare-and-swap, record the retirement, forget old ones): one
// round trip and one commit. In parallel, commits of different sessions
// proceed at once (PostgreSQL groups their WAL flushes). The parallel ones
// run at several pool sizes: the measurements behind defaultMaxConns.

func BenchmarkRotateSession(b *testing.B) { storetest.BenchRotateSession(b, openTest(b)) }

var benchPools = []int32{2, 4, 8, 16, 32}

func BenchmarkRotateSessionParallel(b *testing.B) {
	for _, n := range benchPools {
		b.Run(fmt.Sprintf("pool%d", n), func(b *testing.B) {
			storetest.BenchRotateSessionParallel(b, openOpts(b, pgtest.URL(b), Options{MaxConns: n}))
		})
	}
}

func BenchmarkSession(b *testing.B) {
	for _, n := range benchPools {
		b.Run(fmt.Sprintf("pool%d", n), func(b *testing.B) {
			storetest.BenchSession(b, openOpts(b, pgtest.URL(b), Options{MaxConns: n}))
		})
	}
}
