package jwtlibs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	gjwt "github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	xjwt "github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/gatehouse/gatehouse/token"
)

const (
	issuer   = "https://auth.example.com"
	audience = "gatehouse-api"
	kid      = "key-1"
	leeway   = 5 * time.Second
)

var (
	now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	b64 = base64.RawURLEncoding
)

// setup is one key of one algorithm, with the token it signs.
type setup struct {
	alg   string
	priv  crypto.Signer
	pub   crypto.PublicKey
	token string
}

func newSetup(tb testing.TB, alg string) *setup {
	s := &setup{alg: alg}
	switch alg {
	case token.EdDSA:
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		s.priv = priv
	case token.ES256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		s.priv = priv
	}
	s.pub = s.priv.Public()
	s.token = s.sign(tb, `{"alg":"`+alg+`","typ":"at+jwt","kid":"`+kid+`"}`, claims(""))
	return s
}

// claims returns the claims of a valid token, with extra members added.
func claims(extra string) string {
	c := `"iss":"` + issuer + `","sub":"0192a3b4-c5d6-7e8f-9012-3456789abcde","aud":"` + audience +
		`","exp":` + unix(now.Add(15*time.Minute)) + `,"iat":` + unix(now) + `,"nbf":` + unix(now) +
		`,"jti":"0192a3b4-c5d6-7e8f-9012-000000000001","sid":"0192a3b4-c5d6-7e8f-9012-000000000002"`
	if extra != "" {
		c += "," + extra
	}
	return "{" + c + "}"
}

func unix(t time.Time) string { return big.NewInt(t.Unix()).String() }

// sign makes a compact JWS over exactly header and payload with the
// standard library, so that crafted tokens differ only where intended.
func (s *setup) sign(tb testing.TB, header, payload string) string {
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	var sig []byte
	switch priv := s.priv.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(priv, []byte(input))
	case *ecdsa.PrivateKey:
		h := sha256.Sum256([]byte(input))
		r, ss, err := ecdsa.Sign(rand.Reader, priv, h[:])
		if err != nil {
			tb.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
	}
	return input + "." + b64.EncodeToString(sig)
}

// verifier checks one token; nil means accepted.
type verifier func(tok string) error

// bare is the signature check alone (the floor).
func (s *setup) bare() verifier {
	return func(tok string) error {
		dot := strings.LastIndexByte(tok, '.')
		sig, err := b64.DecodeString(tok[dot+1:])
		if err != nil {
			return err
		}
		input := []byte(tok[:dot])
		switch pub := s.pub.(type) {
		case ed25519.PublicKey:
			if !ed25519.Verify(pub, input, sig) {
				return errors.New("bad signature")
			}
		case *ecdsa.PublicKey:
			if len(sig) != 64 {
				return errors.New("bad signature")
			}
			h := sha256.Sum256(input)
			if !ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
				return errors.New("bad signature")
			}
		}
		return nil
	}
}

// typOK is RFC 9068 §4's typ rule.
func typOK(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

var errStrict = errors.New("refused by the strict wrapper")

// golangJWT is golang-jwt v5 configured as SECURITY.md §10 recommends:
// method allowlist, iss, aud, exp required, iat checked, leeway, strict
// base64; the keyfunc adds the header allowlist, typ and the kid lookup;
// after parsing, the claims golang-jwt does not require are checked.
func (s *setup) golangJWT() verifier {
	type claimsWithSID struct {
		gjwt.RegisteredClaims
		SID string `json:"sid"`
	}
	p := gjwt.NewParser(gjwt.WithValidMethods([]string{s.alg}), gjwt.WithIssuer(issuer), gjwt.WithAudience(audience),
		gjwt.WithExpirationRequired(), gjwt.WithIssuedAt(), gjwt.WithLeeway(leeway), gjwt.WithStrictDecoding(),
		gjwt.WithTimeFunc(func() time.Time { return now }))
	keyfunc := func(t *gjwt.Token) (any, error) {
		k, _ := t.Header["kid"].(string)
		typ, _ := t.Header["typ"].(string)
		if len(t.Header) != 3 || k != kid || !typOK(typ) {
			return nil, errStrict
		}
		return s.pub, nil
	}
	return func(tok string) error {
		var c claimsWithSID
		if _, err := p.ParseWithClaims(tok, &c, keyfunc); err != nil {
			return err
		}
		if c.Subject == "" || c.ID == "" || c.SID == "" || c.IssuedAt == nil || c.NotBefore == nil {
			return errStrict
		}
		return nil
	}
}

// goJOSE is go-jose v4: ParseSigned with the algorithm allowlist, Claims
// with the key, the header checked by hand, and ValidateWithLeeway; exp,
// iat, nbf, sub, jti and sid are required by hand (go-jose treats them as
// optional).
func (s *setup) goJOSE() verifier {
	alg := []jose.SignatureAlgorithm{jose.SignatureAlgorithm(s.alg)}
	return func(tok string) error {
		t, err := josejwt.ParseSigned(tok, alg)
		if err != nil {
			return err
		}
		var c josejwt.Claims
		var x struct {
			SID string `json:"sid"`
		}
		if err := t.Claims(s.pub, &c, &x); err != nil {
			return err
		}
		// The hand checks run after the library's, so that the matrix
		// shows what the library refuses by itself.
		h := t.Headers[0]
		typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
		if h.KeyID != kid || !typOK(typ) || len(h.ExtraHeaders) != 1 || h.JSONWebKey != nil {
			return errStrict
		}
		if err := c.ValidateWithLeeway(josejwt.Expected{Issuer: issuer, AnyAudience: []string{audience}, Time: now}, leeway); err != nil {
			return err
		}
		if c.Expiry == nil || c.IssuedAt == nil || c.NotBefore == nil || c.Subject == "" || c.ID == "" || x.SID == "" {
			return errStrict
		}
		return nil
	}
}

// jwx is lestrrat-go/jwx v3: jws.Verify with a key set whose key carries
// its alg and requires a kid (so the message is parsed once) and with
// crit validation on (RFC 7515 §4.1.11; off by default), the header
// checked by hand, then jwt.Parse of the verified payload with validation,
// required claims and strict string claims.
func (s *setup) jwx(tb testing.TB) verifier {
	key, err := jwk.Import(s.pub)
	if err != nil {
		tb.Fatal(err)
	}
	alg, ok := jwa.LookupSignatureAlgorithm(s.alg)
	if !ok {
		tb.Fatalf("jwx: no alg %s", s.alg)
	}
	if err := key.Set(jwk.KeyIDKey, kid); err != nil {
		tb.Fatal(err)
	}
	if err := key.Set(jwk.AlgorithmKey, alg); err != nil {
		tb.Fatal(err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(key); err != nil {
		tb.Fatal(err)
	}
	clock := xjwt.ClockFunc(func() time.Time { return now })
	return func(tok string) error {
		msg := jws.NewMessage()
		payload, err := jws.Verify([]byte(tok), jws.WithKeySet(set, jws.WithRequireKid(true)), jws.WithMessage(msg), jws.WithCompact(),
			jws.WithCritValidation(true))
		if err != nil {
			return err
		}
		h := msg.Signatures()[0].ProtectedHeaders()
		typ, _ := h.Type()
		if len(h.Keys()) != 3 || !typOK(typ) {
			return errStrict
		}
		_, err = xjwt.Parse(payload, xjwt.WithVerify(false), xjwt.WithValidate(true), xjwt.WithIssuer(issuer),
			xjwt.WithAudience(audience), xjwt.WithAcceptableSkew(leeway), xjwt.WithClock(clock),
			xjwt.WithRequiredClaim("exp"), xjwt.WithRequiredClaim("iat"), xjwt.WithRequiredClaim("nbf"),
			xjwt.WithRequiredClaim("sub"), xjwt.WithRequiredClaim("jti"), xjwt.WithRequiredClaim("sid"),
			xjwt.WithStrictStringClaims(true))
		return err
	}
}

// gatehouse is this repository's token.Verifier, cache off or on.
func (s *setup) gatehouse(tb testing.TB, cacheSize int) verifier {
	k, err := token.NewKey(kid, s.alg, s.pub)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := token.NewVerifier(token.Config{Issuer: issuer, Audience: audience, CacheSize: cacheSize, Now: func() time.Time { return now }}, token.KeyMap{kid: k})
	if err != nil {
		tb.Fatal(err)
	}
	return func(tok string) error {
		_, err := v.Verify(tok)
		return err
	}
}

// libraries lists the verifiers compared, in table order.
func libraries(tb testing.TB, s *setup) []struct {
	name   string
	verify verifier
} {
	return []struct {
		name   string
		verify verifier
	}{
		{"golang-jwt/jwt v5", s.golangJWT()},
		{"go-jose/go-jose v4", s.goJOSE()},
		{"lestrrat-go/jwx v3", s.jwx(tb)},
		{"gatehouse token", s.gatehouse(tb, -1)},
	}
}

// hmacWithPublicKey signs an HS256 token keyed with the raw public key.
func hmacWithPublicKey(s *setup) string {
	input := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"at+jwt","kid":"`+kid+`"}`)) + "." + b64.EncodeToString([]byte(claims("")))
	m := hmac.New(sha256.New, []byte(s.pub.(ed25519.PublicKey)))
	m.Write([]byte(input))
	return input + "." + b64.EncodeToString(m.Sum(nil))
}
