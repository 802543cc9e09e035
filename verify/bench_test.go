package verify_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/ghtest"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/token"
	"github.com/gatehouse/gatehouse/verify"
)

var benchAlgs = []string{token.EdDSA, token.ES256, token.RS256}

// benchSetup starts a Gatehouse signing with alg and returns a verifier
// over its JWKS (cache on or off) and one of its access tokens.
func benchSetup(b *testing.B, alg string, cacheSize int) (*verify.Verifier, string, *ghtest.Gatehouse) {
	b.Helper()
	g := ghtest.Start(b, func(c *server.Config) { c.SigningAlg = alg })
	email := ghtest.Email(b)
	g.Register(b, email)
	tok := g.Login(b, email).AccessToken
	v, err := verify.New(context.Background(), verify.Config{Issuer: g.URL, Audience: "gatehouse", CacheSize: cacheSize})
	if err != nil {
		b.Fatal(err)
	}
	return v, tok, g
}

// BenchmarkVerifyCached is a repeat verification: a cache hit.
func BenchmarkVerifyCached(b *testing.B) {
	v, tok, _ := benchSetup(b, token.EdDSA, 0)
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMiddlewareCached is the whole middleware on a cache hit:
// header parsing, verification, claims into the context.
func BenchmarkMiddlewareCached(b *testing.B) {
	v, tok, _ := benchSetup(b, token.EdDSA, 0)
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	req := httptest.NewRequest("GET", "/api/hello", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 {
		b.Fatal(w.Code)
	}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// BenchmarkVerifyFirst is a first verification (cache off): format,
// header, key, signature, claims. Compare with BenchmarkBareSignature.
func BenchmarkVerifyFirst(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			v, tok, _ := benchSetup(b, alg, -1)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBareSignature is only the standard library's signature check
// of the same token with the key from the same JWKS: the floor.
func BenchmarkBareSignature(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			_, tok, g := benchSetup(b, alg, -1)
			status, _, jwks := ghtest.Do(b, "GET", g.URL+"/.well-known/jwks.json", "", nil)
			if status != 200 {
				b.Fatal(status)
			}
			keys, err := token.ParseJWKS(jwks)
			if err != nil || len(keys) != 1 {
				b.Fatal(err, len(keys))
			}
			dot := strings.LastIndexByte(tok, '.')
			input := []byte(tok[:dot])
			sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
			if err != nil {
				b.Fatal(err)
			}
			var check func() bool
			switch pub := keys[0].Public.(type) {
			case ed25519.PublicKey:
				check = func() bool { return ed25519.Verify(pub, input, sig) }
			case *ecdsa.PublicKey:
				r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
				check = func() bool {
					h := sha256.Sum256(input)
					return ecdsa.Verify(pub, h[:], r, s)
				}
			case *rsa.PublicKey:
				check = func() bool {
					h := sha256.Sum256(input)
					return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) == nil
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if !check() {
					b.Fatal("bad signature")
				}
			}
		})
	}
}
