package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// env holds the keys attack tokens are made with.
type env struct {
	tb                  testing.TB
	now                 time.Time
	ed                  ed25519.PrivateKey
	es                  *ecdsa.PrivateKey
	rs                  *rsa.PrivateKey
	kidEd, kidES, kidRS string
	edPublic            ed25519.PublicKey
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	fx := mustFixtures(tb)
	return &env{
		tb: tb, now: testStart,
		ed: fx[EdDSA].priv.(ed25519.PrivateKey), es: fx[ES256].priv.(*ecdsa.PrivateKey), rs: fx[RS256].priv.(*rsa.PrivateKey),
		kidEd: fx[EdDSA].stored.KID, kidES: fx[ES256].stored.KID, kidRS: fx[RS256].stored.KID,
		edPublic: fx[EdDSA].priv.Public().(ed25519.PublicKey),
	}
}

// edTok signs header and payload (placeholders filled, $KID = the EdDSA
// kid) with the real EdDSA key.
func (e *env) edTok(header, payload string) string {
	return e.tok(EdDSA, e.ed, e.kidEd, header, payload)
}

func (e *env) tok(alg string, key any, kid, header, payload string) string {
	return signRaw(e.tb, alg, key, fill(header, kid, e.now), fill(payload, kid, e.now))
}

// good is a valid EdDSA token with the given jti.
func (e *env) good(jti string) string {
	return e.edTok(goodHeader, strings.Replace(goodPayload, `"j1"`, `"`+jti+`"`, 1))
}

// withClaims is goodPayload with the claim list replaced.
func withClaims(members string) string { return "{" + members + "}" }

// resign re-signs a token whose encoded header and payload were changed,
// so that only the encoding property is wrong.
func (e *env) resign(headerSeg, payloadSeg string) string {
	input := headerSeg + "." + payloadSeg
	return input + "." + b64.EncodeToString(ed25519.Sign(e.ed, []byte(input)))
}

// nonCanonical sets unused low bits in the last character of a segment,
// which a lenient decoder maps to the same bytes.
func nonCanonical(tb testing.TB, seg string) string {
	tb.Helper()
	if len(seg)%4 == 0 {
		tb.Fatal("segment has no trailing bits")
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	v := strings.IndexByte(alphabet, seg[len(seg)-1])
	out := seg[:len(seg)-1] + string(alphabet[v|1])
	if dec, err := base64.RawURLEncoding.DecodeString(out); err != nil || b64.EncodeToString(dec) != seg {
		tb.Fatalf("nonCanonical: %q does not decode to the same bytes", out)
	}
	return out
}

// padTo adds JSON white space before the closing brace until the encoding
// of s has trailing bits.
func padTo(s string) string {
	for len(s)%3 == 0 {
		s = s[:len(s)-1] + " }"
	}
	return s
}

func segments(tok string) (h, p, s string) {
	parts := strings.Split(tok, ".")
	return parts[0], parts[1], parts[2]
}

type attack struct {
	name     string
	token    func(e *env) string
	sentinel error // nil: must be accepted
	reason   string
}

func attacks() []attack {
	inv, exp := gatehouse.ErrTokenInvalid, gatehouse.ErrTokenExpired
	hdr := func(h string) func(e *env) string { return func(e *env) string { return e.edTok(h, goodPayload) } }
	pay := func(p string) func(e *env) string { return func(e *env) string { return e.edTok(goodHeader, p) } }
	std := `"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"`
	at := func(offset time.Duration) func(e *env) string { // exp at now+offset, iat and nbf 15 min before
		return func(e *env) string {
			p := fmt.Sprintf(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":%d,"iat":%d,"nbf":%d,"jti":"j1","sid":"s1"}`,
				e.now.Add(offset).Unix(), e.now.Add(offset-15*time.Minute).Unix(), e.now.Add(offset-15*time.Minute).Unix())
			return e.edTok(goodHeader, p)
		}
	}
	cases := []attack{
		{"valid", func(e *env) string { return e.good("j1") }, nil, ""},

		// Format (RFC 8725bis §3.14, RFC 7515 §2, RFC 7519 §1).
		{"empty", func(*env) string { return "" }, inv, "fewer than 3 segments"},
		{"2 segments", func(e *env) string { h, p, _ := segments(e.good("j1")); return h + "." + p }, inv, "fewer than 3 segments"},
		{"4 segments", func(e *env) string { return e.good("j1") + ".AAAA" }, inv, "more than 3 segments"},
		{"5 segments (JWE)", func(e *env) string { return e.good("j1") + ".AAAA.AAAA" }, inv, "more than 3 segments"},
		{"empty signature", func(e *env) string { h, p, _ := segments(e.good("j1")); return h + "." + p + "." }, inv, "empty segment"},
		{"empty header", func(e *env) string { _, p, s := segments(e.good("j1")); return "." + p + "." + s }, inv, "empty segment"},
		{"JSON serialization", func(e *env) string {
			h, p, s := segments(e.good("j1"))
			return `{"payload":"` + p + `","signatures":[{"protected":"` + h + `","signature":"` + s + `"}]}`
		}, inv, "character outside base64url"},
		{"leading space", func(e *env) string { return " " + e.good("j1") }, inv, "character outside base64url"},
		{"trailing newline", func(e *env) string { return e.good("j1") + "\n" }, inv, "character outside base64url"},
		{"Bearer prefix", func(e *env) string { return "Bearer " + e.good("j1") }, inv, "character outside base64url"},
		{"9 KiB token", pay(withClaims(std + `,"pad":"` + strings.Repeat("x", 9<<10) + `"`)), inv, "longer than 8 KiB"},
		{"1 MiB token", pay(withClaims(std + `,"pad":"` + strings.Repeat("x", 1<<20) + `"`)), inv, "longer than 8 KiB"},
		{"padding in header", func(e *env) string { h, p, _ := segments(e.good("j1")); return e.resign(h+"=", p) }, inv, "character outside base64url"},
		{"padding in payload", func(e *env) string { h, p, _ := segments(e.good("j1")); return e.resign(h, p+"==") }, inv, "character outside base64url"},
		{"padding in signature", func(e *env) string { return e.good("j1") + "==" }, inv, "character outside base64url"},
		{"standard alphabet in signature", func(e *env) string {
			for i := 0; ; i++ { // find a signature whose standard encoding differs
				h, p, s := segments(e.good(fmt.Sprint("j", i)))
				if strings.ContainsAny(s, "-_") {
					sig, _ := b64.DecodeString(s)
					return h + "." + p + "." + base64.RawStdEncoding.EncodeToString(sig)
				}
			}
		}, inv, "character outside base64url"},
		{"non-canonical signature", func(e *env) string {
			h, p, s := segments(e.good("j1"))
			return h + "." + p + "." + nonCanonical(e.tb, s)
		}, inv, "signature not canonical"},
		{"non-canonical header", func(e *env) string {
			h := b64.EncodeToString([]byte(padTo(fill(goodHeader, e.kidEd, e.now))))
			_, p, _ := segments(e.good("j1"))
			return e.resign(nonCanonical(e.tb, h), p)
		}, inv, "header not canonical"},
		{"non-canonical payload", func(e *env) string {
			h, _, _ := segments(e.good("j1"))
			p := b64.EncodeToString([]byte(padTo(fill(goodPayload, e.kidEd, e.now))))
			return e.resign(h, nonCanonical(e.tb, p))
		}, inv, "payload not canonical"},
		{"refresh token", func(*env) string {
			codec, _ := gatehouse.NewRefreshTokenCodec(DeriveKey(testSecret, "refresh"))
			rt, err := codec.Encode(&gatehouse.Session{ID: gatehouse.NewID(), Secret: make([]byte, 32)}, 1)
			if err != nil {
				panic(err)
			}
			return rt
		}, inv, "fewer than 3 segments"},

		// Algorithm and key selection (RFC 8725 §3.1, §3.2, §3.10; RFC 9068 §4).
		{"alg none, no signature", func(e *env) string {
			h, p, _ := segments(e.edTok(`{"alg":"none","typ":"at+jwt","kid":"$KID"}`, goodPayload))
			return h + "." + p + "."
		}, inv, "empty segment"},
		{"alg none", hdr(`{"alg":"none","typ":"at+jwt","kid":"$KID"}`), inv, "alg is not the key's alg"},
		{"alg None", hdr(`{"alg":"None","typ":"at+jwt","kid":"$KID"}`), inv, "alg is not the key's alg"},
		{"alg NONE", hdr(`{"alg":"NONE","typ":"at+jwt","kid":"$KID"}`), inv, "alg is not the key's alg"},
		{"alg nOnE", hdr(`{"alg":"nOnE","typ":"at+jwt","kid":"$KID"}`), inv, "alg is not the key's alg"},
		{"alg in lower case", hdr(`{"alg":"eddsa","typ":"at+jwt","kid":"$KID"}`), inv, "alg is not the key's alg"},
		{"alg with a space", hdr(`{"alg":"EdDSA ","typ":"at+jwt","kid":"$KID"}`), inv, "alg is not the key's alg"},
		{"HS256 keyed with the raw public key", func(e *env) string {
			return e.tok(HS256, []byte(e.edPublic), e.kidEd, `{"alg":"HS256","typ":"at+jwt","kid":"$KID"}`, goodPayload)
		}, inv, "alg is not the key's alg"},
		{"HS256 keyed with the PKIX public key", func(e *env) string {
			der, _ := x509.MarshalPKIXPublicKey(e.edPublic)
			return e.tok(HS256, der, e.kidEd, `{"alg":"HS256","typ":"at+jwt","kid":"$KID"}`, goodPayload)
		}, inv, "alg is not the key's alg"},
		{"HS256 keyed with the PEM public key", func(e *env) string {
			der, _ := x509.MarshalPKIXPublicKey(e.edPublic)
			pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			return e.tok(HS256, pemKey, e.kidEd, `{"alg":"HS256","typ":"at+jwt","kid":"$KID"}`, goodPayload)
		}, inv, "alg is not the key's alg"},
		{"HS256 with an empty key", func(e *env) string {
			return e.tok(HS256, []byte{}, e.kidEd, `{"alg":"HS256","typ":"at+jwt","kid":"$KID"}`, goodPayload)
		}, inv, "alg is not the key's alg"},
		{"EdDSA kid with ES256 alg", func(e *env) string {
			return e.tok(ES256, e.es, e.kidEd, `{"alg":"ES256","typ":"at+jwt","kid":"$KID"}`, goodPayload)
		}, inv, "alg is not the key's alg"},
		{"ES256 kid with EdDSA alg", func(e *env) string {
			return e.tok(EdDSA, e.ed, e.kidES, `{"alg":"EdDSA","typ":"at+jwt","kid":"$KID"}`, goodPayload)
		}, inv, "alg is not the key's alg"},
		{"RS256 kid with ES256 alg", func(e *env) string {
			return e.tok(ES256, e.es, e.kidRS, `{"alg":"ES256","typ":"at+jwt","kid":"$KID"}`, goodPayload)
		}, inv, "alg is not the key's alg"},
		{"unknown kid", func(e *env) string { return e.tok(EdDSA, e.ed, "no-such-kid", goodHeader, goodPayload) }, inv, "unknown kid"},
		{"kid path traversal", func(e *env) string { return e.tok(EdDSA, e.ed, "../../etc/passwd", goodHeader, goodPayload) }, inv, "unknown kid"},
		{"kid a number", hdr(`{"alg":"EdDSA","typ":"at+jwt","kid":123}`), inv, "header member not a string"},
		{"kid null", hdr(`{"alg":"EdDSA","typ":"at+jwt","kid":null}`), inv, "header member not a string"},
		{"kid missing", hdr(`{"alg":"EdDSA","typ":"at+jwt"}`), inv, "header lacks alg, typ or kid"},
		{"alg missing", hdr(`{"typ":"at+jwt","kid":"$KID"}`), inv, "header lacks alg, typ or kid"},
		{"alg an array", hdr(`{"alg":["EdDSA"],"typ":"at+jwt","kid":"$KID"}`), inv, "header member not a string"},

		// Signatures.
		{"psychic ES256 signature", func(e *env) string {
			h, p, _ := segments(e.tok(ES256, e.es, e.kidES, `{"alg":"ES256","typ":"at+jwt","kid":"$KID"}`, goodPayload))
			return h + "." + p + "." + b64.EncodeToString(make([]byte, 64))
		}, inv, "bad signature"},
		{"zero EdDSA signature", func(e *env) string {
			h, p, _ := segments(e.good("j1"))
			return h + "." + p + "." + b64.EncodeToString(make([]byte, 64))
		}, inv, "bad signature"},
		{"signature of another key", func(e *env) string {
			_, other, _ := ed25519.GenerateKey(rand.Reader)
			return e.tok(EdDSA, other, e.kidEd, goodHeader, goodPayload)
		}, inv, "bad signature"},
		{"ES256 signature of another key", func(e *env) string {
			other, _ := ecdsa.GenerateKey(e.es.Curve, rand.Reader)
			return e.tok(ES256, other, e.kidES, `{"alg":"ES256","typ":"at+jwt","kid":"$KID"}`, goodPayload)
		}, inv, "bad signature"},
		{"signature of another token", func(e *env) string {
			h, p, _ := segments(e.good("j1"))
			_, _, s := segments(e.good("j2"))
			return h + "." + p + "." + s
		}, inv, "bad signature"},
		{"truncated signature", func(e *env) string { t := e.good("j1"); return t[:len(t)-6] }, inv, "bad signature"},
		{"truncated RS256 signature", func(e *env) string {
			t := e.tok(RS256, e.rs, e.kidRS, `{"alg":"RS256","typ":"at+jwt","kid":"$KID"}`, goodPayload)
			return t[:len(t)-4]
		}, inv, "bad signature"},
		{"tampered payload", func(e *env) string {
			h, _, s := segments(e.good("j1"))
			return h + "." + b64.EncodeToString([]byte(fill(strings.Replace(goodPayload, `"u1"`, `"u2"`, 1), e.kidEd, e.now))) + "." + s
		}, inv, "bad signature"},
		{"tampered header", func(e *env) string {
			_, p, s := segments(e.good("j1"))
			return b64.EncodeToString([]byte(fill(`{"alg":"EdDSA","typ":"AT+JWT","kid":"$KID"}`, e.kidEd, e.now))) + "." + p + "." + s
		}, inv, "bad signature"},

		// Header members (RFC 9068 §2.1, RFC 7515 §4.1.11, SECURITY.md §2.4).
		{"typ JWT", hdr(`{"alg":"EdDSA","typ":"JWT","kid":"$KID"}`), inv, "typ is not at+jwt"},
		{"typ missing", hdr(`{"alg":"EdDSA","kid":"$KID"}`), inv, "header lacks alg, typ or kid"},
		{"typ with a trailing space", hdr(`{"alg":"EdDSA","typ":"at+jwt ","kid":"$KID"}`), inv, "typ is not at+jwt"},
		{"typ application/jwt", hdr(`{"alg":"EdDSA","typ":"application/jwt","kid":"$KID"}`), inv, "typ is not at+jwt"},
		{"typ with parameters", hdr(`{"alg":"EdDSA","typ":"at+jwt;q=1","kid":"$KID"}`), inv, "typ is not at+jwt"},
		{"typ application/", hdr(`{"alg":"EdDSA","typ":"application/","kid":"$KID"}`), inv, "typ is not at+jwt"},
		{"typ true", hdr(`{"alg":"EdDSA","typ":true,"kid":"$KID"}`), inv, "header member not a string"},
		{"typ AT+JWT", hdr(`{"alg":"EdDSA","typ":"AT+JWT","kid":"$KID"}`), nil, ""},
		{"typ application/at+jwt", hdr(`{"alg":"EdDSA","typ":"application/at+jwt","kid":"$KID"}`), nil, ""},
		{"typ Application/At+JWT", hdr(`{"alg":"EdDSA","typ":"Application/At+JWT","kid":"$KID"}`), nil, ""},
		{"header members in another order", hdr(`{"kid":"$KID","typ":"at+jwt","alg":"EdDSA"}`), nil, ""},
		{"crit", hdr(`{"alg":"EdDSA","typ":"at+jwt","kid":"$KID","crit":["exp"],"exp":1}`), inv, "unexpected header member"},
		{"duplicate alg", hdr(`{"alg":"none","alg":"EdDSA","typ":"at+jwt","kid":"$KID"}`), inv, "duplicate header member"},
		{"duplicate kid", hdr(`{"alg":"EdDSA","typ":"at+jwt","kid":"x","kid":"$KID"}`), inv, "duplicate header member"},
		{"duplicate typ escaped", hdr(`{"alg":"EdDSA","typ":"JWT","t\u0079p":"at+jwt","kid":"$KID"}`), inv, "duplicate header member"},
		{"header member in upper case", hdr(`{"ALG":"none","alg":"EdDSA","typ":"at+jwt","kid":"$KID"}`), inv, "unexpected header member"},
		{"header an array", hdr(`["EdDSA","at+jwt","$KID"]`), inv, "header not a JSON object"},
		{"header with trailing data", hdr(`{"alg":"EdDSA","typ":"at+jwt","kid":"$KID"}{}`), inv, "header not strict JSON"},
		{"header with a trailing comma", hdr(`{"alg":"EdDSA","typ":"at+jwt","kid":"$KID",}`), inv, "header not strict JSON"},
		{"header not UTF-8", hdr("{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"$KID\xff\"}"), inv, "header not UTF-8"},

		// Claim types and presence (CONTRACT §3, RFC 7519 §4.1).
		{"exp as a string", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":"$EXP","iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "exp, iat or nbf is not a number"},
		{"iat as a string", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":"$NOW","nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "exp, iat or nbf is not a number"},
		{"nbf null", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":null,"jti":"j1","sid":"s1"}`), inv, "exp, iat or nbf is not a number"},
		{"exp true", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":true,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "exp, iat or nbf is not a number"},
		{"exp with a leading zero", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":0$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "claims not strict JSON"},
		{"exp 1e300", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":1e300,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "exp, iat or nbf out of range"},
		{"exp 1e400", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":1e400,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "claims not strict JSON"},
		{"exp -1", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":-1,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "exp, iat or nbf out of range"},
		{"exp a float", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP.5,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), nil, ""},
		{"sub a number", pay(`{"iss":"$ISS","sub":42,"aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "a string claim is not a string"},
		{"sid an array", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":["s1"]}`), inv, "a string claim is not a string"},
		{"iss null", pay(`{"iss":null,"sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "a string claim is not a string"},
		{"jti an object", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":{},"sid":"s1"}`), inv, "a string claim is not a string"},
		{"sub empty", pay(`{"iss":"$ISS","sub":"","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "a string claim is empty"},
		{"client token", pay(`{"iss":"$ISS","sub":"svc1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","client_id":"svc1","scope":"introspect revocations"}`), nil, ""},
		{"sid and client_id together", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1","client_id":"svc1"}`), inv, "sid and client_id together"},
		{"client_id a number", pay(`{"iss":"$ISS","sub":"svc1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","client_id":7}`), inv, "a string claim is not a string"},
		{"client_id empty", pay(`{"iss":"$ISS","sub":"svc1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","client_id":""}`), inv, "a string claim is empty"},
		{"scope without client_id or sid", pay(`{"iss":"$ISS","sub":"svc1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","scope":"introspect"}`), inv, "a required claim is missing"},
		{"Client_ID in capitals", pay(`{"iss":"$ISS","sub":"svc1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","client_id":"svc1","Client_ID":"x"}`), inv, "claim name differs from a registered one only in case"},
		{"acr a number", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1","acr":2}`), inv, "a string claim is not a string"},
		{"acr empty", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1","acr":""}`), inv, "a string claim is empty"},
		{"acr twice", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1","acr":"aal1","acr":"aal2"}`), inv, "duplicate claim"},
		{"ACR in capitals", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1","ACR":"aal2"}`), inv, "claim name differs from a registered one only in case"},
		{"amr a string", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1","amr":"pwd"}`), inv, "amr is not an array of strings"},
		{"amr holding a number", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1","amr":["pwd",1]}`), inv, "amr is not an array of strings"},
		{"amr of 17 values", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1","amr":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]}`), inv, "amr has too many values"},
		{"acr and amr", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1","acr":"aal2","amr":["pwd","otp","mfa"]}`), nil, ""},
		{"aud a number", pay(`{"iss":"$ISS","sub":"u1","aud":7,"exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "aud is not a string or an array of strings"},
		{"aud an array holding a number", pay(`{"iss":"$ISS","sub":"u1","aud":["$AUD",7],"exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "aud is not a string or an array of strings"},
		{"aud an object", pay(`{"iss":"$ISS","sub":"u1","aud":{"$AUD":1},"exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "aud is not a string or an array of strings"},
		{"aud an empty array", pay(`{"iss":"$ISS","sub":"u1","aud":[],"exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "wrong aud"},
		{"aud an array with ours", pay(`{"iss":"$ISS","sub":"u1","aud":["other","$AUD"],"exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), nil, ""},
		{"SUB beside sub", pay(withClaims(std + `,"SUB":"admin"`)), inv, "only in case"},
		{"SUB instead of sub", pay(`{"iss":"$ISS","SUB":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "only in case"},
		{"Exp beside exp", pay(withClaims(std + `,"Exp":99999999999`)), inv, "only in case"},
		{"duplicate sub", pay(withClaims(std + `,"sub":"admin"`)), inv, "duplicate claim"},
		{"duplicate sub escaped", pay(withClaims(std + `,"s\u0075b":"admin"`)), inv, "duplicate claim"},
		{"duplicate unknown claim", pay(withClaims(std + `,"scope":"a","scope":"b"`)), inv, "duplicate claim"},
		{"sub not UTF-8", pay("{\"iss\":\"$ISS\",\"sub\":\"u1\xc0\xaf\",\"aud\":\"$AUD\",\"exp\":$EXP,\"iat\":$NOW,\"nbf\":$NOW,\"jti\":\"j1\",\"sid\":\"s1\"}"), inv, "claims not UTF-8"},
		{"sub a lone surrogate", pay(`{"iss":"$ISS","sub":"u1\ud800","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "claims not strict JSON"},
		{"sub with a surrogate pair", pay(`{"iss":"$ISS","sub":"u1\ud83d\ude00","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), nil, ""},
		{"claims an array", pay(`["$ISS"]`), inv, "claims not a JSON object"},
		{"claims with a byte order mark", pay("\ufeff" + withClaims(std)), inv, "claims not a JSON object"},
		{"claims with trailing data", pay(withClaims(std) + `{}`), inv, "claims not strict JSON"},
		{"claims with a raw control character", pay(withClaims(std + ",\"note\":\"a\tb\"")), inv, "claims not strict JSON"},
		{"deeply nested unknown claim", pay(withClaims(std + `,"x":` + strings.Repeat("[", 64) + strings.Repeat("]", 64))), inv, "claims not strict JSON"},
		{"unknown claims are ignored", pay(withClaims(std + `,"scope":"read","x":{"a":[1,-2.5e3,true,false,null,"\n"]}`)), nil, ""},

		// Claim values (RFC 9068 §4, CONTRACT §3: leeway 5 s).
		{"wrong iss", pay(`{"iss":"https://evil.example","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "wrong iss"},
		{"iss with a trailing slash", pay(`{"iss":"$ISS/","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "wrong iss"},
		{"iss in upper case", pay(strings.Replace(goodPayload, `"$ISS"`, `"HTTPS://AUTH.EXAMPLE.COM"`, 1)), inv, "wrong iss"},
		{"wrong aud", pay(`{"iss":"$ISS","sub":"u1","aud":"other-api","exp":$EXP,"iat":$NOW,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "wrong aud"},
		{"expired 1 h ago", at(-time.Hour), exp, "exp passed"},
		{"expired beyond the leeway", at(-6 * time.Second), exp, "exp passed"},
		{"expired exactly at the leeway", at(-5 * time.Second), exp, "exp passed"},
		{"expired within the leeway", at(-4 * time.Second), nil, ""},
		{"nbf beyond the leeway", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":` + fmt.Sprint(testStart.Add(6*time.Second).Unix()) + `,"jti":"j1","sid":"s1"}`), inv, "nbf in the future"},
		{"nbf within the leeway", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":$NOW,"nbf":` + fmt.Sprint(testStart.Add(4*time.Second).Unix()) + `,"jti":"j1","sid":"s1"}`), nil, ""},
		{"iat beyond the leeway", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":` + fmt.Sprint(testStart.Add(6*time.Second).Unix()) + `,"nbf":$NOW,"jti":"j1","sid":"s1"}`), inv, "iat in the future"},
		{"iat within the leeway", pay(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":$EXP,"iat":` + fmt.Sprint(testStart.Add(4*time.Second).Unix()) + `,"nbf":$NOW,"jti":"j1","sid":"s1"}`), nil, ""},
		// "Expired" only for an otherwise valid token.
		{"expired and a bad signature", func(e *env) string {
			t := at(-time.Hour)(e)
			h, p, _ := segments(t)
			_, _, s := segments(e.good("j1"))
			return h + "." + p + "." + s
		}, inv, "bad signature"},
		{"expired and wrong iss", pay(fmt.Sprintf(`{"iss":"x","sub":"u1","aud":"$AUD","exp":%d,"iat":%d,"nbf":%d,"jti":"j1","sid":"s1"}`,
			testStart.Add(-time.Hour).Unix(), testStart.Add(-2*time.Hour).Unix(), testStart.Add(-2*time.Hour).Unix())), inv, "wrong iss"},
		{"expired and no sid", pay(fmt.Sprintf(`{"iss":"$ISS","sub":"u1","aud":"$AUD","exp":%d,"iat":%d,"nbf":%d,"jti":"j1"}`,
			testStart.Add(-time.Hour).Unix(), testStart.Add(-2*time.Hour).Unix(), testStart.Add(-2*time.Hour).Unix())), inv, "a required claim is missing"},
		{"expired and typ JWT", func(e *env) string {
			h := b64.EncodeToString([]byte(fill(`{"alg":"EdDSA","typ":"JWT","kid":"$KID"}`, e.kidEd, e.now)))
			_, p, _ := segments(at(-time.Hour)(e))
			return e.resign(h, p)
		}, inv, "typ is not at+jwt"},
	}
	// Every required claim, missing in turn.
	for _, name := range claimNames[:8] { // acr and amr are optional
		var kept []string
		for _, m := range strings.Split(std, ",") {
			if !strings.HasPrefix(m, `"`+name+`"`) {
				kept = append(kept, m)
			}
		}
		cases = append(cases, attack{"missing " + name, pay(withClaims(strings.Join(kept, ","))), inv, "a required claim is missing"})
	}
	// Every header member the server never emits (SECURITY.md §2.4).
	for _, m := range []string{`"jku":"https://evil.example/jwks"`, `"jwk":{"kty":"OKP","crv":"Ed25519","x":"AAAA"}`,
		`"x5u":"https://evil.example/cert"`, `"x5c":["MIIB"]`, `"x5t":"AAAA"`, `"cty":"JWT"`, `"zip":"DEF"`,
		`"b64":false`, `"enc":"A256GCM"`, `"p2c":1`, `"epk":{}`, `"iss":"$ISS"`} {
		name := strings.Trim(strings.SplitN(m, ":", 2)[0], `"`)
		cases = append(cases, attack{"header " + name, hdr(`{"alg":"EdDSA","typ":"at+jwt","kid":"$KID",` + m + `}`), inv, "unexpected header member"})
	}
	return cases
}

// TestAttacks runs every attack token through Verify with the cache on
// and off. Each is signed with the real key over exactly the crafted
// bytes, so the property under test is the only thing wrong.
func TestAttacks(t *testing.T) {
	e := newEnv(t)
	cases := attacks()
	tokens := make([]string, len(cases))
	for i, tc := range cases {
		tokens[i] = tc.token(e)
	}
	for _, cache := range []int{-1, 0} {
		tokens1, _ := newTokens(t, EdDSA, cache)
		t.Run(fmt.Sprintf("cache=%d", cache), func(t *testing.T) {
			for i, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					for round := range 2 { // the second round may be a cache hit
						c, err := tokens1.Verify(tokens[i])
						if tc.sentinel == nil {
							if err != nil {
								t.Fatalf("round %d: refused: %v", round, err)
							}
							if c.Subject == "" || (c.SessionID == "") == (c.ClientID == "") {
								t.Fatalf("claims %+v", c)
							}
							continue
						}
						wantRefused(t, err, tc.sentinel, tc.reason)
						if errors.Is(err, gatehouse.ErrTokenInvalid) == errors.Is(err, gatehouse.ErrTokenExpired) {
							t.Fatalf("error %v must be exactly one of invalid and expired", err)
						}
					}
				})
			}
		})
	}
}

// TestECDSAMalleability pins a property golang-jwt and the standard
// library share (SECURITY.md §10): (r, n-s) is a second valid signature of
// an ES256 token. It verifies to the same claims, so revocation keyed on
// sid and jti, never on the token string, still holds.
func TestECDSAMalleability(t *testing.T) {
	e := newEnv(t)
	ts, _ := newTokens(t, ES256, -1)
	tok := mustIssue(t, ts, testClaims(testStart))
	h, p, s := segments(tok)
	sig, _ := b64.DecodeString(s)
	n := e.es.Curve.Params().N
	sv := new(big.Int).SetBytes(sig[32:])
	sv.Sub(n, sv).FillBytes(sig[32:])
	other := h + "." + p + "." + b64.EncodeToString(sig)
	c1, err1 := ts.Verify(tok)
	c2, err2 := ts.Verify(other)
	if err1 != nil || err2 != nil {
		t.Fatalf("verify: %v, %v", err1, err2)
	}
	if c1.SessionID != c2.SessionID || c1.ID != c2.ID {
		t.Fatal("the malleated token carries other claims")
	}
}
