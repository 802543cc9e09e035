package password

import (
	"context"
	"testing"
)

// FuzzCompare feeds Compare arbitrary stored strings: it must never panic,
// never report a match together with an error, and accept only canonical
// PHC strings (parse then print gives the input back), so that one hash
// has one spelling.
func FuzzCompare(f *testing.F) {
	h := mustNewHasher(f, Config{Workers: 1})
	f.Add(mustHash(f, h, "pw"), "pw")
	f.Add(mustHash(f, h, "pw"), "wrong")
	f.Add(phcString("argon2id", "v=19", "m=64,t=1,p=1", salt16, key32), "")
	f.Add(phcString("argon2id", "v=19", "m=8,t=1,p=1", salt16+"==", key32), "pw")
	f.Add("$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "pw")
	f.Fuzz(func(t *testing.T, encoded, password string) {
		p, parseErr := parsePHC(encoded)
		if parseErr == nil {
			if got := p.String(); got != encoded {
				t.Fatalf("parsePHC accepted a non-canonical string: %q prints as %q", encoded, got)
			}
			// Parameters within the limits can still cost seconds and
			// gigabytes; the fuzzer checks the parser alone on those.
			if p.params.Memory > 1024 || p.params.Time > 4 || p.params.Threads > 8 {
				return
			}
		}
		match, rehash, err := h.Compare(context.Background(), encoded, password)
		if (err != nil) != (parseErr != nil) {
			t.Fatalf("Compare error %v, parse error %v: they should agree", err, parseErr)
		}
		if err != nil && (match || rehash) {
			t.Fatalf("Compare = %v, %v, %v: a match or rehash with an error", match, rehash, err)
		}
	})
}
