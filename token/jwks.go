package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// maxJWKSSize bounds the JWKS documents ParseJWKS reads.
const maxJWKSSize = 1 << 20

// jwk is one published key (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	KID string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// marshalJWKS publishes the asymmetric keys; HS256 keys are secrets and
// never leave the server (RFC 9068 §5: keep the JWKS minimal).
func marshalJWKS(keys []*Key) ([]byte, error) {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range keys {
		j := jwk{KID: k.KID, Alg: k.Alg, Use: "sig"}
		switch pub := k.Public.(type) {
		case ed25519.PublicKey:
			j.Kty, j.Crv, j.X = "OKP", "Ed25519", b64.EncodeToString(pub)
		case *ecdsa.PublicKey:
			x, y, err := ecPoint(pub)
			if err != nil {
				return nil, err
			}
			j.Kty, j.Crv, j.X, j.Y = "EC", "P-256", x, y
		case *rsa.PublicKey:
			j.Kty, j.N, j.E = "RSA", b64.EncodeToString(pub.N.Bytes()), rsaExponent(pub.E)
		default:
			continue
		}
		set.Keys = append(set.Keys, j)
	}
	out, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("token: jwks: %w", err)
	}
	return out, nil
}

// privateMembers are JWK members that carry secret key material (RFC 7518
// §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
var privateMembers = map[string]bool{"d": true, "p": true, "q": true, "dp": true, "dq": true, "qi": true, "oth": true, "k": true}

// ParseJWKS reads an RFC 7517 JWK Set strictly, for a verifier that gets
// its keys from a remote JWKS. It refuses the whole document when it is
// not strict JSON (duplicate members, invalid UTF-8), when a key carries
// private members (a server that publishes them is compromised or
// misconfigured), when two usable keys share a kid, or when a key's
// members contradict its alg. It skips keys it cannot or must not use: of
// an unknown kty or alg, without alg or kid (each key must be bound to one
// alg, RFC 8725 §3.1), or whose use is not "sig" or whose key_ops lack
// "verify". Members such as x5c and x5u are ignored, never followed
// (RFC 8725 §3.10).
func ParseJWKS(data []byte) ([]*Key, error) {
	if len(data) > maxJWKSSize {
		return nil, errors.New("token: jwks: document too large")
	}
	r, err := newJSONReader(data)
	if err != nil {
		return nil, errors.New("token: jwks: not UTF-8")
	}
	if err := r.beginObject(); err != nil {
		return nil, errors.New("token: jwks: not a JSON object")
	}
	var keys []*Key
	seen := map[string]bool{}
	sawKeys := false
	for n := 0; ; n++ {
		name, ok, err := r.member(n)
		if err != nil {
			return nil, errors.New("token: jwks: malformed JSON")
		}
		if !ok {
			break
		}
		if seen[string(name)] {
			return nil, errors.New("token: jwks: duplicate member")
		}
		seen[string(name)] = true
		if string(name) != "keys" {
			if err := r.skip(); err != nil {
				return nil, errors.New("token: jwks: malformed JSON")
			}
			continue
		}
		sawKeys = true
		if keys, err = readJWKArray(&r); err != nil {
			return nil, err
		}
	}
	if err := r.end(); err != nil {
		return nil, errors.New("token: jwks: data after the document")
	}
	if !sawKeys {
		return nil, errors.New(`token: jwks: no "keys" member`)
	}
	return keys, nil
}

func readJWKArray(r *jsonReader) ([]*Key, error) {
	if err := r.beginArray(); err != nil {
		return nil, errors.New(`token: jwks: "keys" is not an array`)
	}
	var keys []*Key
	kids := map[string]bool{}
	for n := 0; ; n++ {
		ok, err := r.element(n)
		if err != nil {
			return nil, errors.New("token: jwks: malformed JSON")
		}
		if !ok {
			return keys, nil
		}
		key, err := readJWK(r)
		if err != nil {
			return nil, err
		}
		if key == nil {
			continue
		}
		if kids[key.KID] {
			return nil, fmt.Errorf("token: jwks: kid %q appears twice", key.KID)
		}
		kids[key.KID] = true
		keys = append(keys, key)
	}
}

// readJWK reads one key; nil without error means "skip it".
func readJWK(r *jsonReader) (*Key, error) {
	if err := r.beginObject(); err != nil {
		return nil, errors.New("token: jwks: a key is not a JSON object")
	}
	m := map[string]string{}
	seen := map[string]bool{}
	canVerify := true
	for n := 0; ; n++ {
		name, ok, err := r.member(n)
		if err != nil {
			return nil, errors.New("token: jwks: malformed JSON")
		}
		if !ok {
			break
		}
		key := string(name)
		if seen[key] {
			return nil, errors.New("token: jwks: duplicate member in a key")
		}
		seen[key] = true
		switch {
		case privateMembers[key]:
			return nil, fmt.Errorf("token: jwks: a key carries the private member %q", key)
		case key == "key_ops":
			ops, err := readStrings(r)
			if err != nil {
				return nil, errors.New(`token: jwks: "key_ops" is not an array of strings`)
			}
			canVerify = false
			for _, op := range ops {
				canVerify = canVerify || op == "verify"
			}
		case key == "kty" || key == "crv" || key == "x" || key == "y" || key == "n" || key == "e" || key == "kid" || key == "alg" || key == "use":
			v, err := r.str()
			if err != nil {
				return nil, fmt.Errorf("token: jwks: %q is not a string", key)
			}
			m[key] = string(v)
		default:
			if err := r.skip(); err != nil {
				return nil, errors.New("token: jwks: malformed JSON")
			}
		}
	}
	if !canVerify || (m["use"] != "" && m["use"] != "sig") || m["kid"] == "" {
		return nil, nil
	}
	return jwkKey(m)
}

// jwkKey builds the key of one JWK's members; nil, nil for an alg or kty
// this package does not verify.
func jwkKey(m map[string]string) (*Key, error) {
	kid, alg := m["kid"], m["alg"]
	wrong := func(what string) error {
		return fmt.Errorf("token: jwks: key %q: %s", kid, what)
	}
	switch alg {
	case EdDSA:
		if m["kty"] != "OKP" || m["crv"] != "Ed25519" {
			return nil, wrong("EdDSA needs kty OKP and crv Ed25519")
		}
		x, err := decodeMember(m["x"])
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, wrong("bad x")
		}
		return NewKey(kid, alg, ed25519.PublicKey(x))
	case ES256:
		if m["kty"] != "EC" || m["crv"] != "P-256" {
			return nil, wrong("ES256 needs kty EC and crv P-256")
		}
		x, errX := decodeMember(m["x"])
		y, errY := decodeMember(m["y"])
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, wrong("bad x or y")
		}
		// ParseUncompressedPublicKey refuses points off the curve
		// (RFC 8725 §3.4: validate cryptographic inputs).
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, wrong("point not on P-256")
		}
		return NewKey(kid, alg, pub)
	case RS256:
		if m["kty"] != "RSA" {
			return nil, wrong("RS256 needs kty RSA")
		}
		n, errN := decodeMember(m["n"])
		e, errE := decodeMember(m["e"])
		// Minimal big-endian encodings only (RFC 7518 §6.3.1.1).
		if errN != nil || errE != nil || len(n) == 0 || n[0] == 0 || len(e) == 0 || e[0] == 0 || len(e) > 4 {
			return nil, wrong("bad n or e")
		}
		exp := new(big.Int).SetBytes(e)
		if !exp.IsInt64() || exp.Int64() > 1<<31-1 {
			return nil, wrong("bad e")
		}
		return NewKey(kid, alg, &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp.Int64())})
	}
	return nil, nil // no alg, or one we do not verify: skip
}

// decodeMember decodes a base64url JWK member strictly: the decoder
// alone would skip line breaks, so the alphabet is checked first.
func decodeMember(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if !isB64URL[s[i]] {
			return nil, errors.New("not base64url")
		}
	}
	return b64.DecodeString(s)
}

// readStrings reads an array of strings.
func readStrings(r *jsonReader) ([]string, error) {
	if err := r.beginArray(); err != nil {
		return nil, err
	}
	var out []string
	for n := 0; ; n++ {
		ok, err := r.element(n)
		if err != nil || !ok {
			return out, err
		}
		s, err := r.str()
		if err != nil {
			return nil, err
		}
		out = append(out, string(s))
	}
}
