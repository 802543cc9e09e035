package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

var benchAlgs = []string{EdDSA, ES256, RS256, HS256}

// BenchmarkVerify is the full verification, cache off: format, header,
// key, signature, claims. Compare with BenchmarkBareSignature.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			ts, _ := newTokens(b, alg, -1)
			tok := mustIssue(b, ts, testClaims(testStart))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ts.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBareSignature is only the standard library's signature check
// over the same signing input: the floor BenchmarkVerify is measured
// against.
func BenchmarkBareSignature(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			ts, _ := newTokens(b, alg, -1)
			tok := mustIssue(b, ts, testClaims(testStart))
			dot := strings.LastIndexByte(tok, '.')
			input := []byte(tok[:dot])
			sig, err := b64.DecodeString(tok[dot+1:])
			if err != nil {
				b.Fatal(err)
			}
			key, _ := ts.Keys().VerificationKey(ts.Keys().SignerKID())
			var verify func() bool
			switch alg {
			case EdDSA:
				pub := key.Public.(ed25519.PublicKey)
				verify = func() bool { return ed25519.Verify(pub, input, sig) }
			case ES256:
				pub := key.Public.(*ecdsa.PublicKey)
				r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
				verify = func() bool {
					h := sha256.Sum256(input)
					return ecdsa.Verify(pub, h[:], r, s)
				}
			case RS256:
				pub := key.Public.(*rsa.PublicKey)
				verify = func() bool {
					h := sha256.Sum256(input)
					return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) == nil
				}
			case HS256:
				secret := key.Public.([]byte)
				verify = func() bool {
					m := hmac.New(sha256.New, secret)
					m.Write(input)
					return hmac.Equal(m.Sum(nil), sig)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if !verify() {
					b.Fatal("bad signature")
				}
			}
		})
	}
}

// BenchmarkVerifyCached is a cache hit.
func BenchmarkVerifyCached(b *testing.B) {
	ts, _ := newTokens(b, EdDSA, 0)
	tok := mustIssue(b, ts, testClaims(testStart))
	if _, err := ts.Verify(tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ts.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedParallel is cache hits from 8 goroutines per
// GOMAXPROCS (16 on two cores) over 1024 distinct tokens.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	ts, _ := newTokens(b, EdDSA, 0)
	toks := make([]string, 1024)
	c := testClaims(testStart)
	for i := range toks {
		c.ID = fmt.Sprint("jti-", i)
		toks[i] = mustIssue(b, ts, c)
		if _, err := ts.Verify(toks[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := ts.Verify(toks[i%len(toks)]); err != nil {
				b.Error(err)
				return
			}
			i += 7
		}
	})
}

func BenchmarkIssue(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			ts, _ := newTokens(b, alg, -1)
			c := testClaims(testStart)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ts.Issue(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
