package softauthn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/fxamacker/cbor/v2"
)

// authData flag bits, WebAuthn L3 §6.1 table "flags".
const (
	flagUP = 1 << 0
	flagUV = 1 << 2
	flagBE = 1 << 3
	flagBS = 1 << 4
	flagAT = 1 << 6
)

// COSE identifiers, RFC 9053 §2.1 (ES256 = -7), §7.1 (kty EC2 = 2,
// crv P-256 = 1) and RFC 9052 §7.1 (kty = 1, alg = 3; EC2 crv = -1, x = -2,
// y = -3).
const (
	coseAlgES256  = -7
	coseKtyEC2    = 2
	coseCrvP256   = 1
	credTypePK    = "public-key"
	transportInt  = "internal"
	attachmentPlt = "platform"
)

// b64 is a BufferSource in the Level 3 JSON forms: base64url. Padding is
// tolerated on input because some servers send it.
type b64 []byte

func (b *b64) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	out, err := base64.RawURLEncoding.DecodeString(trimPad(s))
	if err != nil {
		return fmt.Errorf("softauthn: bad base64url %q: %w", s, err)
	}
	*b = out
	return nil
}

func trimPad(s string) string {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	return s
}

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

type descriptorJSON struct {
	Type string `json:"type"`
	ID   b64    `json:"id"`
}

// unwrapPublicKey accepts either the options themselves or the
// CredentialCreationOptions / CredentialRequestOptions around them.
func unwrapPublicKey(raw []byte) []byte {
	var wrap struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if json.Unmarshal(raw, &wrap) == nil && len(wrap.PublicKey) > 0 {
		return wrap.PublicKey
	}
	return raw
}

// rpIDFor returns the RP ID to use: the one given or, as the client does
// when it is absent (WebAuthn §5.1.3 step 8, §5.1.4.1 step 8), the origin's
// effective domain.
func rpIDFor(given, origin string) (string, error) {
	if origin == "" {
		return "", errors.New("softauthn: origin is required")
	}
	if given != "" {
		return given, nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("softauthn: origin %q has no host to derive the RP ID from", origin)
	}
	return u.Hostname(), nil
}

type creationOptions struct {
	rpID      string
	challenge []byte
	userID    []byte
	userName  string
	exclude   [][]byte
	credProps bool
}

func parseCreationOptions(raw []byte, origin string) (*creationOptions, error) {
	var in struct {
		RP struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID   b64    `json:"id"`
			Name string `json:"name"`
		} `json:"user"`
		Challenge b64 `json:"challenge"`
		Params    []struct {
			Type string `json:"type"`
			Alg  int    `json:"alg"`
		} `json:"pubKeyCredParams"`
		Exclude    []descriptorJSON `json:"excludeCredentials"`
		Extensions struct {
			CredProps bool `json:"credProps"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(unwrapPublicKey(raw), &in); err != nil {
		return nil, fmt.Errorf("softauthn: creation options: %w", err)
	}
	if len(in.Challenge) == 0 {
		return nil, errors.New("softauthn: creation options carry no challenge")
	}
	if len(in.User.ID) == 0 || len(in.User.ID) > 64 { // WebAuthn §5.4.3: 1 to 64 bytes
		return nil, fmt.Errorf("softauthn: user.id must be 1 to 64 bytes, got %d", len(in.User.ID))
	}
	// An empty list means ES256 and RS256 (WebAuthn §5.1.3 step 10).
	ok := len(in.Params) == 0
	for _, p := range in.Params {
		if p.Type == credTypePK && p.Alg == coseAlgES256 {
			ok = true
		}
	}
	if !ok {
		return nil, ErrUnsupportedAlgorithm
	}
	rpID, err := rpIDFor(in.RP.ID, origin)
	if err != nil {
		return nil, err
	}
	out := &creationOptions{
		rpID: rpID, challenge: in.Challenge, userID: in.User.ID,
		userName: in.User.Name, credProps: in.Extensions.CredProps,
	}
	for _, d := range in.Exclude {
		if d.Type == credTypePK {
			out.exclude = append(out.exclude, d.ID)
		}
	}
	return out, nil
}

type requestOptions struct {
	rpID      string
	challenge []byte
	allow     [][]byte
}

func parseRequestOptions(raw []byte, origin string) (*requestOptions, error) {
	var in struct {
		Challenge b64              `json:"challenge"`
		RPID      string           `json:"rpId"`
		Allow     []descriptorJSON `json:"allowCredentials"`
	}
	if err := json.Unmarshal(unwrapPublicKey(raw), &in); err != nil {
		return nil, fmt.Errorf("softauthn: request options: %w", err)
	}
	if len(in.Challenge) == 0 {
		return nil, errors.New("softauthn: request options carry no challenge")
	}
	rpID, err := rpIDFor(in.RPID, origin)
	if err != nil {
		return nil, err
	}
	out := &requestOptions{rpID: rpID, challenge: in.Challenge}
	for _, d := range in.Allow {
		if d.Type == credTypePK {
			out.allow = append(out.allow, d.ID)
		}
	}
	return out, nil
}

// ctap2 encodes CBOR in the CTAP2 canonical form (CTAP 2.1 §8), which
// authenticators use for authData's credential public key.
var ctap2 = func() cbor.EncMode {
	m, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// coseES256Key encodes an EC2 P-256 public key as a COSE_Key (RFC 9053
// §7.1.1): x and y are 32 bytes each, leading zeros kept.
func coseES256Key(pub *ecdsa.PublicKey) ([]byte, error) {
	ek, err := pub.ECDH()
	if err != nil {
		return nil, err
	}
	pt := ek.Bytes() // 0x04 || X || Y, SEC 1 §2.3.3
	return ctap2.Marshal(map[int]any{
		1:  coseKtyEC2,
		3:  coseAlgES256,
		-1: coseCrvP256,
		-2: pt[1:33],
		-3: pt[33:65],
	})
}

// spkiDER is the response's publicKey member (WebAuthn L3 §5.2.1.1,
// getPublicKey(): SubjectPublicKeyInfo DER).
func spkiDER(pub *ecdsa.PublicKey) ([]byte, error) {
	return x509.MarshalPKIXPublicKey(pub)
}

// authenticatorData lays out WebAuthn §6.1: rpIdHash (32) | flags (1) |
// signCount (4, big-endian) | attestedCredentialData (§6.5.1: aaguid (16) |
// credentialIdLength (2) | credentialId | credentialPublicKey) when credID is
// given. The AAGUID is all zeros, as with "none" attestation (§6.5.4).
func authenticatorData(rpID string, flags byte, count uint32, credID, coseKey []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	var b bytes.Buffer
	b.Write(h[:])
	b.WriteByte(flags)
	_ = binary.Write(&b, binary.BigEndian, count)
	if credID != nil {
		b.Write(make([]byte, 16))
		_ = binary.Write(&b, binary.BigEndian, uint16(len(credID)))
		b.Write(credID)
		b.Write(coseKey)
	}
	return b.Bytes()
}

// attestationObjectNone is the attestation object of §6.5 with the "none"
// statement format of §8.7: {"fmt": "none", "attStmt": {}, "authData": ...}.
func attestationObjectNone(authData []byte) ([]byte, error) {
	return ctap2.Marshal(map[string]any{
		"fmt":      "none",
		"attStmt":  map[string]any{},
		"authData": authData,
	})
}

// clientDataJSON serialises CollectedClientData as a browser does (WebAuthn
// L3 §5.8.1.1): members in the order type, challenge, origin, crossOrigin,
// each string through CCDToString, which escapes only '"', '\' and control
// characters, not '<', '>' or '&' as encoding/json would.
func clientDataJSON(typ string, challenge []byte, origin string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"type":`)
	b.WriteString(ccdString(typ))
	b.WriteString(`,"challenge":`)
	b.WriteString(ccdString(enc(challenge)))
	b.WriteString(`,"origin":`)
	b.WriteString(ccdString(origin))
	b.WriteString(`,"crossOrigin":false}`)
	return b.Bytes()
}

func ccdString(s string) string {
	var b bytes.Buffer
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// signAssertion signs authData || SHA-256(clientDataJSON) (WebAuthn §6.3.3
// step 11) with ES256, DER-encoded as §6.5.6 requires for ECDSA.
func signAssertion(key *ecdsa.PrivateKey, authData, clientData []byte) ([]byte, error) {
	cdh := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(bytes.Clone(authData), cdh[:]...))
	return ecdsa.SignASN1(rand.Reader, key, digest[:])
}

// registrationResponseJSON is RegistrationResponseJSON (WebAuthn L3 §5.1,
// toJSON()).
func registrationResponseJSON(id, clientData, authData, spki, attObj []byte, credProps bool) ([]byte, error) {
	ext := map[string]any{}
	if credProps {
		// §10.1.3: every credential here is client-side discoverable.
		ext["credProps"] = map[string]bool{"rk": true}
	}
	return json.Marshal(map[string]any{
		"id":    enc(id),
		"rawId": enc(id),
		"type":  credTypePK,
		"response": map[string]any{
			"clientDataJSON":     enc(clientData),
			"authenticatorData":  enc(authData),
			"transports":         []string{transportInt},
			"publicKey":          enc(spki),
			"publicKeyAlgorithm": coseAlgES256,
			"attestationObject":  enc(attObj),
		},
		"authenticatorAttachment": attachmentPlt,
		"clientExtensionResults":  ext,
	})
}

// authenticationResponseJSON is AuthenticationResponseJSON (WebAuthn L3
// §5.1, toJSON()).
func authenticationResponseJSON(id, clientData, authData, sig, userHandle []byte) ([]byte, error) {
	return json.Marshal(map[string]any{
		"id":    enc(id),
		"rawId": enc(id),
		"type":  credTypePK,
		"response": map[string]any{
			"clientDataJSON":    enc(clientData),
			"authenticatorData": enc(authData),
			"signature":         enc(sig),
			"userHandle":        enc(userHandle),
		},
		"authenticatorAttachment": attachmentPlt,
		"clientExtensionResults":  map[string]any{},
	})
}
