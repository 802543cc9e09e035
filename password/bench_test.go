package password

import (
	"context"
	"testing"
)

// BenchmarkHashOWASP measures one argon2id hash at the OWASP parameters,
// the cost of every login and registration. B/op is dominated by the
// argon2 memory (19 MiB); MiB/hash reports the parameter itself.
func BenchmarkHashOWASP(b *testing.B) {
	h, err := New(Config{Workers: 1})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(OWASP.Memory)/1024, "MiB/hash")
}

// BenchmarkCompareOWASP measures a login's verification, parsing included.
func BenchmarkCompareOWASP(b *testing.B) {
	h, err := New(Config{Workers: 1})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	encoded, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if match, _, err := h.Compare(ctx, encoded, "correct horse battery staple"); err != nil || !match {
			b.Fatal(match, err)
		}
	}
}

// BenchmarkCheck measures Check over a mix of refused and accepted
// passwords, after the blocklist is loaded.
func BenchmarkCheck(b *testing.B) {
	h := mustNewHasher(b, Config{})
	passwords := []string{
		"password1", "SunShine", "abcdefgh", "poiuytrewq", "Gatehouse2024!",
		"passwordpassword", "correct horse battery staple", "пароль-для-входа",
		"my gatehouse has a red door", passphrase(64),
	}
	h.Check("warm up the blocklist")
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range passwords {
			h.Check(p)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(passwords)), "ns/check")
}

// BenchmarkCheckLong measures Check on a 1024-code-point password, the
// longest it accepts.
func BenchmarkCheckLong(b *testing.B) {
	h := mustNewHasher(b, Config{})
	long := passphrase(1024)
	h.Check("warm up the blocklist")
	b.ReportAllocs()
	for b.Loop() {
		if msg := h.Check(long); msg != "" {
			b.Fatal(msg)
		}
	}
}

// BenchmarkLoadBlocklist measures the one-time load of the blocklist.
func BenchmarkLoadBlocklist(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		loadBlocklist()
	}
}
