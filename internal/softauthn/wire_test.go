package softauthn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// The response is checked by hand against WebAuthn §6.1 / §6.5 and RFC 9053,
// independently of go-webauthn's parser.
func TestRegistrationResponseLayout(t *testing.T) {
	a := New()
	a.BackupEligible = true
	opts := []byte(`{"rp":{"id":"example.com","name":"Ex"},"user":{"id":"dXNlcg","name":"u","displayName":"U"},
		"challenge":"AAECAwQFBgcICQoLDA0ODw","pubKeyCredParams":[{"type":"public-key","alg":-8},{"type":"public-key","alg":-7}],
		"extensions":{"credProps":true}}`)
	raw, err := a.Register(opts, "https://example.com")
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		ID       string `json:"id"`
		RawID    string `json:"rawId"`
		Type     string `json:"type"`
		Response struct {
			ClientDataJSON     string   `json:"clientDataJSON"`
			AttestationObject  string   `json:"attestationObject"`
			AuthenticatorData  string   `json:"authenticatorData"`
			Transports         []string `json:"transports"`
			PublicKeyAlgorithm int      `json:"publicKeyAlgorithm"`
		} `json:"response"`
		Attachment string                     `json:"authenticatorAttachment"`
		Ext        map[string]json.RawMessage `json:"clientExtensionResults"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatal(err)
	}
	id := dec(t, resp.ID)
	if resp.RawID != resp.ID || resp.Type != "public-key" || resp.Attachment != "platform" ||
		len(resp.Response.Transports) != 1 || resp.Response.Transports[0] != "internal" || resp.Response.PublicKeyAlgorithm != -7 {
		t.Fatalf("response members: %s", raw)
	}
	if string(resp.Ext["credProps"]) != `{"rk":true}` {
		t.Fatalf("credProps output %s", resp.Ext["credProps"])
	}
	wantCD := `{"type":"webauthn.create","challenge":"AAECAwQFBgcICQoLDA0ODw","origin":"https://example.com","crossOrigin":false}`
	if got := string(dec(t, resp.Response.ClientDataJSON)); got != wantCD {
		t.Fatalf("clientDataJSON\n got %s\nwant %s", got, wantCD)
	}

	var att struct {
		Fmt      string         `cbor:"fmt"`
		AttStmt  map[string]any `cbor:"attStmt"`
		AuthData []byte         `cbor:"authData"`
	}
	if err := cbor.Unmarshal(dec(t, resp.Response.AttestationObject), &att); err != nil {
		t.Fatal(err)
	}
	if att.Fmt != "none" || len(att.AttStmt) != 0 || !bytes.Equal(att.AuthData, dec(t, resp.Response.AuthenticatorData)) {
		t.Fatalf("attestation object fmt %q attStmt %v", att.Fmt, att.AttStmt)
	}

	ad := att.AuthData
	rpHash := sha256.Sum256([]byte("example.com"))
	if !bytes.Equal(ad[:32], rpHash[:]) {
		t.Fatal("rpIdHash is not SHA-256 of the RP ID")
	}
	if ad[32] != flagUP|flagUV|flagBE|flagAT {
		t.Fatalf("flags %08b", ad[32])
	}
	if binary.BigEndian.Uint32(ad[33:37]) != 0 || !bytes.Equal(ad[37:53], make([]byte, 16)) {
		t.Fatal("sign count or AAGUID not zero")
	}
	n := int(binary.BigEndian.Uint16(ad[53:55]))
	if !bytes.Equal(ad[55:55+n], id) {
		t.Fatal("credentialId in authData differs from the response id")
	}
	var key map[int]any
	rest, err := cbor.UnmarshalFirst(ad[55+n:], &key)
	if err != nil || len(rest) != 0 {
		t.Fatalf("COSE key: %v, %d trailing bytes", err, len(rest))
	}
	x, y := key[-2].([]byte), key[-3].([]byte)
	if key[1] != uint64(2) || key[3] != int64(-7) || key[-1] != uint64(1) || len(x) != 32 || len(y) != 32 {
		t.Fatalf("COSE key %v", key)
	}
	pub := a.Credentials()[0].PublicKey
	if pub.X.Cmp(new(big.Int).SetBytes(x)) != 0 || pub.Y.Cmp(new(big.Int).SetBytes(y)) != 0 {
		t.Fatal("COSE key is not the credential's key")
	}
	// CTAP2 canonical order of the labels: 1, 3, -1, -2, -3.
	if !bytes.HasPrefix(ad[55+n:], []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20}) {
		t.Fatalf("COSE key not in canonical order: % x", ad[55+n:55+n+10])
	}
}

func TestAssertionSignatureAndLayout(t *testing.T) {
	a := New()
	a.UserVerified = false
	reg := []byte(`{"rp":{"id":"example.com"},"user":{"id":"dXNlcg"},"challenge":"AAEC"}`)
	if _, err := a.Register(reg, "https://example.com"); err != nil {
		t.Fatal(err)
	}
	cred := a.Credentials()[0]
	// No rpId: the client derives it from the origin.
	raw, err := a.Login([]byte(`{"challenge":"_-8"}`), "https://example.com:8443")
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Response struct {
			ClientDataJSON    string `json:"clientDataJSON"`
			AuthenticatorData string `json:"authenticatorData"`
			Signature         string `json:"signature"`
			UserHandle        string `json:"userHandle"`
		} `json:"response"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatal(err)
	}
	ad, cd, sig := dec(t, resp.Response.AuthenticatorData), dec(t, resp.Response.ClientDataJSON), dec(t, resp.Response.Signature)
	if string(dec(t, resp.Response.UserHandle)) != "user" {
		t.Fatalf("userHandle %q", resp.Response.UserHandle)
	}
	rpHash := sha256.Sum256([]byte("example.com"))
	if len(ad) != 37 || !bytes.Equal(ad[:32], rpHash[:]) || ad[32] != flagUP || binary.BigEndian.Uint32(ad[33:]) != 1 {
		t.Fatalf("authData % x", ad)
	}
	if want := `{"type":"webauthn.get","challenge":"_-8","origin":"https://example.com:8443","crossOrigin":false}`; string(cd) != want {
		t.Fatalf("clientDataJSON %s", cd)
	}
	cdh := sha256.Sum256(cd)
	digest := sha256.Sum256(append(bytes.Clone(ad), cdh[:]...))
	if !ecdsa.VerifyASN1(cred.PublicKey, digest[:], sig) {
		t.Fatal("signature does not verify over authData || SHA-256(clientDataJSON)")
	}
	cd[len(cd)-2] = 'X' // any change to the client data breaks it
	cdh = sha256.Sum256(cd)
	digest = sha256.Sum256(append(bytes.Clone(ad), cdh[:]...))
	if ecdsa.VerifyASN1(cred.PublicKey, digest[:], sig) {
		t.Fatal("signature verifies over altered client data")
	}
}

func TestCCDString(t *testing.T) {
	for in, want := range map[string]string{
		`https://a.example`: `"https://a.example"`,
		`a"b\c`:             `"a\"b\\c"`,
		"x\ny\x1f<&>é":      `"x\u000ay\u001f<&>é"`,
	} {
		if got := ccdString(in); got != want {
			t.Errorf("ccdString(%q) = %s, want %s", in, got, want)
		}
	}
}

func dec(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("%q is not unpadded base64url: %v", s, err)
	}
	return b
}
