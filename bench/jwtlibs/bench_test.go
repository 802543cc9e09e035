package jwtlibs

import (
	"testing"

	"github.com/gatehouse/gatehouse/token"
)

// BenchmarkVerify verifies the same valid token with each library,
// configured as in libs_test.go, and with the bare standard-library
// signature check.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{token.EdDSA, token.ES256} {
		s := newSetup(b, alg)
		libs := append([]struct {
			name   string
			verify verifier
		}{{"bare-stdlib", s.bare()}}, libraries(b, s)...)
		libs = append(libs, struct {
			name   string
			verify verifier
		}{"gatehouse token cached", s.gatehouse(b, 0)})
		for _, l := range libs {
			b.Run(alg+"/"+l.name, func(b *testing.B) {
				if err := l.verify(s.token); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if err := l.verify(s.token); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
