package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

const (
	testIssuer   = "https://auth.example.com"
	testAudience = "gatehouse-api"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef-key-secret")
	testHMAC   = []byte("an HS256 secret of more than thirty-two bytes")
	// testStart is the clock's start; tokens are issued at it.
	testStart = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

// clock is an adjustable Config.Now.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func mustSealer(tb testing.TB) *Sealer {
	tb.Helper()
	s, err := NewSealer(testSecret)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// fixture is a generated key with its private half, for crafting tokens.
type fixture struct {
	stored gatehouse.SigningKey
	priv   crypto.Signer
}

var (
	fixturesOnce sync.Once
	fixtures     map[string]fixture
	fixturesErr  error
)

// mustFixtures returns one generated key per asymmetric alg, made once per
// test binary (RSA 3072 generation is slow), created an hour apart with the
// EdDSA key newest.
func mustFixtures(tb testing.TB) map[string]fixture {
	tb.Helper()
	fixturesOnce.Do(func() {
		s, err := NewSealer(testSecret)
		if err != nil {
			fixturesErr = err
			return
		}
		fixtures = map[string]fixture{}
		for i, alg := range []string{RS256, ES256, EdDSA} {
			sk, err := GenerateKey(alg, s, testStart.Add(time.Duration(i-3)*time.Hour))
			if err != nil {
				fixturesErr = err
				return
			}
			fixtures[alg] = fixture{stored: *sk, priv: mustOpenPrivate(sk, s)}
		}
	})
	if fixturesErr != nil {
		tb.Fatal(fixturesErr)
	}
	return fixtures
}

func mustOpenPrivate(sk *gatehouse.SigningKey, s *Sealer) crypto.Signer {
	pkcs8, err := s.Open(sk.SealedPrivate, []byte(sk.KID))
	if err != nil {
		panic(err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		panic(err)
	}
	return priv.(crypto.Signer)
}

// ringOf returns a key set whose signer is the fixture of alg; the other
// asymmetric fixtures are in the ring as keys retired a minute ago.
func ringOf(tb testing.TB, alg string) *KeySet {
	tb.Helper()
	fx := mustFixtures(tb)
	var stored []gatehouse.SigningKey
	var hmacSecret []byte
	for a, f := range fx {
		k := f.stored
		if a != alg {
			k.RetiredAt = testStart.Add(-time.Minute)
		} else {
			k.CreatedAt = testStart.Add(-time.Minute) // newest
		}
		stored = append(stored, k)
	}
	if alg == HS256 {
		hmacSecret = testHMAC
	}
	ks, err := NewKeySet(stored, mustSealer(tb), hmacSecret, testStart, 20*time.Minute)
	if err != nil {
		tb.Fatal(err)
	}
	if ks.SignerAlg() != alg {
		tb.Fatalf("signer %s, want %s", ks.SignerAlg(), alg)
	}
	return ks
}

// newTokens returns Tokens signing with alg, on a clock at testStart.
func newTokens(tb testing.TB, alg string, cacheSize int) (*Tokens, *clock) {
	tb.Helper()
	clk := newClock(testStart)
	t, err := New(Config{Issuer: testIssuer, Audience: testAudience, CacheSize: cacheSize, Now: clk.now}, ringOf(tb, alg))
	if err != nil {
		tb.Fatal(err)
	}
	return t, clk
}

func testClaims(now time.Time) *gatehouse.AccessClaims {
	return &gatehouse.AccessClaims{
		Issuer:    testIssuer,
		Subject:   "0192a3b4-c5d6-7e8f-9012-3456789abcde",
		Audience:  []string{testAudience},
		ExpiresAt: now.Add(15 * time.Minute),
		IssuedAt:  now,
		NotBefore: now,
		ID:        "0192a3b4-c5d6-7e8f-9012-000000000001",
		SessionID: "0192a3b4-c5d6-7e8f-9012-000000000002",
	}
}

func mustIssue(tb testing.TB, t *Tokens, c *gatehouse.AccessClaims) string {
	tb.Helper()
	tok, err := t.Issue(c)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// signRaw builds a compact JWS over exactly the given header and payload
// bytes, signing with the standard library (not with the code under test),
// so that a crafted token is wrong only in the property a test is about.
func signRaw(tb testing.TB, alg string, key any, header, payload string) string {
	tb.Helper()
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	return input + "." + b64.EncodeToString(rawSignature(tb, alg, key, input))
}

func rawSignature(tb testing.TB, alg string, key any, input string) []byte {
	tb.Helper()
	digest := sha256.Sum256([]byte(input))
	switch alg {
	case EdDSA:
		return ed25519.Sign(key.(ed25519.PrivateKey), []byte(input))
	case ES256:
		r, s, err := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), digest[:])
		if err != nil {
			tb.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	case RS256:
		sig, err := rsa.SignPKCS1v15(nil, key.(*rsa.PrivateKey), crypto.SHA256, digest[:])
		if err != nil {
			tb.Fatal(err)
		}
		return sig
	case HS256:
		m := hmac.New(sha256.New, key.([]byte))
		m.Write([]byte(input))
		return m.Sum(nil)
	}
	tb.Fatalf("signRaw: alg %q", alg)
	return nil
}

// fill replaces the placeholders of a crafted header or payload.
func fill(s string, kid string, now time.Time) string {
	return strings.NewReplacer(
		"$KID", kid,
		"$ISS", testIssuer,
		"$AUD", testAudience,
		"$NOW", fmt.Sprint(now.Unix()),
		"$EXP", fmt.Sprint(now.Add(15*time.Minute).Unix()),
	).Replace(s)
}

// Well-formed header and payload templates.
const (
	goodHeader  = `{"alg":"EdDSA","typ":"at+jwt","kid":"$KID"}`
	goodPayload = `{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`
)

// wantRefused checks that err wraps sentinel and gives reason, and that
// the message quotes nothing from the token.
func wantRefused(tb testing.TB, err error, sentinel error, reason string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("accepted, want %v (%s)", sentinel, reason)
	}
	if !errors.Is(err, sentinel) {
		tb.Fatalf("error %q does not wrap %v", err, sentinel)
	}
	if !strings.Contains(err.Error(), reason) {
		tb.Fatalf("error %q, want reason %q", err, reason)
	}
	if strings.ContainsAny(err.Error(), `"{}.=`) || len(err.Error()) > 100 {
		tb.Fatalf("error %q may quote token content", err)
	}
}
