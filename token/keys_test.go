package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

func TestDeriveKey(t *testing.T) {
	seal, refresh := DeriveKey(testSecret, "seal"), DeriveKey(testSecret, "refresh")
	if len(seal) != 32 || len(refresh) != 32 {
		t.Fatalf("lengths %d, %d", len(seal), len(refresh))
	}
	if bytes.Equal(seal, refresh) {
		t.Fatal("two purposes share a key")
	}
	if !bytes.Equal(seal, DeriveKey(testSecret, "seal")) {
		t.Fatal("not deterministic")
	}
	if bytes.Equal(seal, DeriveKey(append([]byte("x"), testSecret[1:]...), "seal")) {
		t.Fatal("the secret does not matter")
	}
	// DeriveKey is HKDF-SHA256 (RFC 5869 §2) with no salt and the info
	// "gatehouse/v1/<purpose>": computed here by hand from HMAC. Refresh
	// tokens and sealed keys in every database depend on it, so a change
	// must be deliberate (and needs a migration).
	secret := []byte("gatehouse test vector secret 32b")
	extract := hmac.New(sha256.New, make([]byte, sha256.Size)) // salt absent = HashLen zeros
	extract.Write(secret)
	expand := hmac.New(sha256.New, extract.Sum(nil))
	expand.Write([]byte("gatehouse/v1/refresh\x01"))
	if got, want := DeriveKey(secret, "refresh"), expand.Sum(nil); !bytes.Equal(got, want) {
		t.Fatalf("DeriveKey = %x, want %x", got, want)
	}
}

func TestSealer(t *testing.T) {
	s := mustSealer(t)
	plain := []byte("a PKCS#8 private key")
	sealed := s.Seal(plain, []byte("kid-1"))
	if bytes.Contains(sealed, plain) {
		t.Fatal("the plaintext shows in the sealed value")
	}
	if again := s.Seal(plain, []byte("kid-1")); bytes.Equal(again, sealed) {
		t.Fatal("two seals are equal: the nonce is not fresh")
	}
	got, err := s.Open(sealed, []byte("kid-1"))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %q, %v", got, err)
	}

	other, err := NewSealer(bytes.Repeat([]byte("w"), 40))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open(sealed, []byte("kid-1")); !errors.Is(err, ErrWrongKeySecret) {
		t.Fatalf("wrong secret: %v, want ErrWrongKeySecret", err)
	}
	// The additional data binds the sealed key to its kid: moved under
	// another kid it does not open, and that is not a wrong secret.
	if _, err := s.Open(sealed, []byte("kid-2")); err == nil || errors.Is(err, ErrWrongKeySecret) {
		t.Fatalf("other kid: %v", err)
	}
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		if _, err := s.Open(bad, []byte("kid-1")); err == nil {
			t.Fatalf("byte %d flipped: opened", i)
		}
	}
	if _, err := s.Open(sealed[:20], []byte("kid-1")); err == nil {
		t.Fatal("truncated: opened")
	}
	if _, err := NewSealer(make([]byte, 31)); err == nil {
		t.Fatal("a 31-byte secret was accepted")
	}
}

func TestGenerateKey(t *testing.T) {
	s := mustSealer(t)
	fx := mustFixtures(t)
	for _, alg := range []string{EdDSA, ES256, RS256} {
		t.Run(alg, func(t *testing.T) {
			sk := fx[alg].stored
			if sk.Alg != alg || len(sk.PublicKey) == 0 {
				t.Fatalf("%+v", sk)
			}
			tp, err := Thumbprint(fx[alg].priv.Public())
			if err != nil || tp != sk.KID {
				t.Fatalf("kid %s, thumbprint %s (%v)", sk.KID, tp, err)
			}
			if _, err := s.Open(sk.SealedPrivate, []byte(sk.KID)); err != nil {
				t.Fatalf("sealed private key does not open under its kid: %v", err)
			}
			if _, err := s.Open(sk.SealedPrivate, []byte("other")); err == nil {
				t.Fatal("sealed private key opens under another kid")
			}
		})
	}
	if pub, ok := fx[RS256].priv.Public().(*rsa.PublicKey); !ok || pub.N.BitLen() != 3072 {
		t.Fatal("RS256 key is not RSA 3072")
	}
	if pub, ok := fx[ES256].priv.Public().(*ecdsa.PublicKey); !ok || pub.Curve.Params().Name != "P-256" {
		t.Fatal("ES256 key is not P-256")
	}
	for _, alg := range []string{HS256, "none", "ES384"} {
		if _, err := GenerateKey(alg, s, testStart); err == nil {
			t.Fatalf("GenerateKey(%s) succeeded", alg)
		}
	}
}

// TestThumbprint checks the RFC 7638 §3.1 and RFC 8037 §A.3 examples.
func TestThumbprint(t *testing.T) {
	n, _ := b64.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	x, _ := b64.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	for _, tc := range []struct {
		name string
		key  any
		want string
	}{
		{"RFC 7638 RSA", &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{"RFC 8037 Ed25519", ed25519.PublicKey(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := Thumbprint(tc.key); err != nil || got != tc.want {
				t.Fatalf("got %s (%v), want %s", got, err, tc.want)
			}
		})
	}
}

func TestNewKeySetFiltersRetiredKeys(t *testing.T) {
	fx := mustFixtures(t)
	s := mustSealer(t)
	life := 20 * time.Minute
	stored := func(alg string, created, retired time.Time) gatehouse.SigningKey {
		k := fx[alg].stored
		k.CreatedAt, k.RetiredAt = created, retired
		return k
	}
	tests := []struct {
		name       string
		keys       []gatehouse.SigningKey
		wantSigner string
		wantKIDs   []string // besides the signer
		wantOut    []string
	}{
		{"one key", []gatehouse.SigningKey{stored(EdDSA, testStart, time.Time{})}, EdDSA, nil, nil},
		{"retired recently stays", []gatehouse.SigningKey{
			stored(ES256, testStart.Add(-time.Hour), testStart.Add(-time.Minute)),
			stored(EdDSA, testStart.Add(-time.Minute), time.Time{}),
		}, EdDSA, []string{ES256}, nil},
		{"retired longer ago than a token lives goes", []gatehouse.SigningKey{
			stored(ES256, testStart.Add(-time.Hour), testStart.Add(-life)),
			stored(EdDSA, testStart.Add(-life), time.Time{}),
		}, EdDSA, nil, []string{ES256}},
		{"newest unretired signs", []gatehouse.SigningKey{
			stored(EdDSA, testStart.Add(-2*time.Hour), time.Time{}),
			stored(RS256, testStart.Add(-time.Hour), time.Time{}),
			stored(ES256, testStart, testStart), // newest, but retired
		}, RS256, []string{EdDSA, ES256}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := NewKeySet(tc.keys, s, nil, testStart, life)
			if err != nil {
				t.Fatal(err)
			}
			if ks.SignerAlg() != tc.wantSigner || ks.SignerKID() != fx[tc.wantSigner].stored.KID {
				t.Fatalf("signer %s", ks.SignerAlg())
			}
			if ks.Len() != 1+len(tc.wantKIDs) {
				t.Fatalf("%d keys, want %d", ks.Len(), 1+len(tc.wantKIDs))
			}
			for _, alg := range append(tc.wantKIDs, tc.wantSigner) {
				k, ok := ks.VerificationKey(fx[alg].stored.KID)
				if !ok || k.Alg != alg {
					t.Fatalf("%s key missing", alg)
				}
			}
			for _, alg := range tc.wantOut {
				if _, ok := ks.VerificationKey(fx[alg].stored.KID); ok {
					t.Fatalf("%s key kept", alg)
				}
				if strings.Contains(string(ks.JWKS()), fx[alg].stored.KID) {
					t.Fatalf("%s key still published", alg)
				}
			}
		})
	}
}

func TestNewKeySetRefuses(t *testing.T) {
	fx := mustFixtures(t)
	s := mustSealer(t)
	ed, es := fx[EdDSA].stored, fx[ES256].stored
	wrongSealer, _ := NewSealer(bytes.Repeat([]byte("w"), 32))
	swapped := ed
	swapped.SealedPrivate = es.SealedPrivate // another key's sealed half
	mismatched := ed                         // kid and public key of ed, private half of es
	mismatched.SealedPrivate = s.Seal(mustPKCS8(t, es, s), []byte(ed.KID))
	badKID := ed
	badKID.KID = "chosen-kid"
	badKID.SealedPrivate = s.Seal(mustPKCS8(t, ed, s), []byte(badKID.KID))
	wrongAlg := ed
	wrongAlg.Alg = ES256
	hsStored := ed
	hsStored.Alg = HS256
	retired := ed
	retired.RetiredAt = testStart

	tests := []struct {
		name   string
		keys   []gatehouse.SigningKey
		sealer *Sealer
		hmac   []byte
		is     error
		msg    string
	}{
		{"wrong key secret", []gatehouse.SigningKey{ed}, wrongSealer, nil, ErrWrongKeySecret, "another key secret"},
		{"sealed half of another kid", []gatehouse.SigningKey{swapped}, s, nil, errSealedCorrupt, "altered"},
		{"halves differ", []gatehouse.SigningKey{mismatched}, s, nil, nil, "halves differ"},
		{"kid is not the thumbprint", []gatehouse.SigningKey{badKID}, s, nil, nil, "thumbprint"},
		{"alg does not match the key", []gatehouse.SigningKey{wrongAlg}, s, nil, nil, "ES256 needs a P-256"},
		{"stored HS256", []gatehouse.SigningKey{hsStored}, s, nil, nil, "unsupported alg"},
		{"duplicate kid", []gatehouse.SigningKey{ed, ed}, s, nil, nil, "twice"},
		{"no key", nil, s, nil, nil, "no signing key"},
		{"only retired keys", []gatehouse.SigningKey{retired}, s, nil, nil, "no signing key"},
		{"no sealer", []gatehouse.SigningKey{ed}, nil, nil, nil, "need a sealer"},
		{"short hmac secret", nil, s, make([]byte, 31), nil, "at least 32 bytes"},
		{"empty hmac secret", nil, s, []byte{}, nil, "at least 32 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewKeySet(tc.keys, tc.sealer, tc.hmac, testStart, time.Hour)
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("%v, want %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("%v, want %q", err, tc.msg)
			}
			if tc.is == nil && errors.Is(err, ErrWrongKeySecret) {
				t.Fatalf("%v blames the key secret", err)
			}
		})
	}
}

func mustPKCS8(tb testing.TB, sk gatehouse.SigningKey, s *Sealer) []byte {
	tb.Helper()
	b, err := s.Open(sk.SealedPrivate, []byte(sk.KID))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestHMACKeySet(t *testing.T) {
	ks := ringOf(t, HS256)
	if strings.Contains(ks.SignerKID(), string(testHMAC)) || strings.Contains(ks.SignerKID(), b64.EncodeToString(testHMAC)) {
		t.Fatal("the kid reveals the secret")
	}
	jwks := string(ks.JWKS())
	if strings.Contains(jwks, `"oct"`) || strings.Contains(jwks, ks.SignerKID()) || strings.Contains(jwks, b64.EncodeToString(testHMAC)) {
		t.Fatalf("the JWKS publishes the HMAC key: %s", jwks)
	}
	if ks.Len() != 4 { // the HMAC key and the three stored keys
		t.Fatalf("%d keys", ks.Len())
	}
	if other, _ := NewKeySet(nil, nil, bytes.Repeat([]byte("z"), 32), testStart, time.Hour); other.SignerKID() == ks.SignerKID() {
		t.Fatal("two secrets share a kid")
	}
}
