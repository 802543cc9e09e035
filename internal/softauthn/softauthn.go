// Package softauthn is a software WebAuthn authenticator, together with the
// client (browser) half of the ceremonies, for tests. It signs real
// attestations and assertions with ES256 keys the test holds, so a Relying
// Party built on github.com/go-webauthn/webauthn can be exercised end to end
// without a browser or a hardware key.
//
// It is written from the specifications:
//   - W3C WebAuthn Level 3 §5.8.1 (client data JSON), §6.1 (authenticator
//     data), §6.5 (attestation object, here always fmt "none"), and the
//     Level 3 JSON forms of the options and of PublicKeyCredential.toJSON();
//   - RFC 9053 §7.1.1 and CTAP2 canonical CBOR for the COSE_Key (EC2, P-256,
//     alg -7 ES256), and ASN.1 DER ECDSA signatures as WebAuthn §6.5.6 asks.
//
// An Authenticator behaves like a platform passkey provider: every credential
// is discoverable (resident), transports are ["internal"] and the attachment
// is "platform". Its exported fields change what it claims, so tests can play
// a broken or malicious authenticator; it never refuses a ceremony because a
// flag the Relying Party asked for is missing, since catching that is the
// server's job.
//
// What go-webauthn v0.18.2 does with the attacks, as found in its source and
// checked by this package's tests:
//   - wrong origin in clientDataJSON: error ("Error validating origin");
//   - authData carrying another RP ID's hash: error ("RP Hash mismatch");
//   - a response presented against another ceremony's SessionData: error
//     ("Error validating challenge"). go-webauthn keeps no record of used
//     challenges: the same response validated twice against the same
//     SessionData is accepted both times (the second time with CloneWarning
//     set, if the stored counter was updated in between), so the Relying
//     Party must consume SessionData exactly once;
//   - UV flag missing when the session asked userVerification "required":
//     error ("User verification required but flag not set by authenticator"),
//     at registration and at login. Only "required" is enforced: with the
//     default Config (empty userVerification) or "preferred", UV=0 passes;
//   - UP flag missing: error ("User presence required but flag not set");
//   - BE flag different from the one stored at registration: error
//     ("Backup Eligible flag inconsistency");
//   - a sign counter that does not increase (a cloned authenticator): NO
//     error. The returned Credential has Authenticator.CloneWarning = true and
//     Authenticator.SignCount left at the stored value; the Relying Party must
//     look at CloneWarning itself. Counters that are 0 both stored and
//     received (synced passkeys) raise no warning.
package softauthn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Errors a ceremony can end with. They mirror the DOMExceptions a browser
// would raise (WebAuthn §6.3.2, §6.3.3) so tests can tell them apart.
var (
	// ErrExcluded: an excludeCredentials entry names a credential this
	// authenticator holds for the RP (InvalidStateError in a browser).
	ErrExcluded = errors.New("softauthn: authenticator already holds an excluded credential")
	// ErrNoCredential: no held credential matches the request
	// (NotAllowedError in a browser).
	ErrNoCredential = errors.New("softauthn: no matching credential")
	// ErrUnsupportedAlgorithm: pubKeyCredParams does not offer ES256
	// (NotSupportedError in a browser).
	ErrUnsupportedAlgorithm = errors.New("softauthn: pubKeyCredParams does not offer ES256 (-7)")
)

// Authenticator holds credentials and creates and uses them. Set its exported
// fields before a ceremony; they are read when the ceremony runs. Methods are
// safe for concurrent use, but changing the fields during a ceremony is not.
type Authenticator struct {
	// UserVerified sets the UV flag (authData bit 2). New sets it to true,
	// as a platform authenticator with a biometric would.
	UserVerified bool
	// NoUserPresence clears the UP flag (bit 0), which is otherwise set.
	NoUserPresence bool
	// BackupEligible and BackedUp set the BE (bit 3) and BS (bit 4) flags.
	BackupEligible bool
	BackedUp       bool
	// RPIDOverride, when not empty, is hashed into authData in place of the
	// RP ID of the options, to play a credential scoped to another RP.
	// Credentials are still chosen by the options' RP ID.
	RPIDOverride string
	// FixedCounter stops the sign counters from being incremented at each
	// assertion, as synced passkeys do (they report 0).
	FixedCounter bool

	mu    sync.Mutex
	creds []*credential
}

// credential is one public key credential source (WebAuthn §4, "public key
// credential source"), always client-side discoverable.
type credential struct {
	id         []byte
	key        *ecdsa.PrivateKey
	rpID       string
	userHandle []byte
	userName   string
	signCount  uint32
}

// Credential describes a credential the authenticator holds.
type Credential struct {
	ID         []byte
	RPID       string
	UserHandle []byte
	UserName   string
	SignCount  uint32
	PublicKey  *ecdsa.PublicKey
}

// New returns an empty authenticator that reports user verification.
func New() *Authenticator {
	return &Authenticator{UserVerified: true}
}

// Credentials lists the credentials held, in the order they were created.
func (a *Authenticator) Credentials() []Credential {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Credential, 0, len(a.creds))
	for _, c := range a.creds {
		out = append(out, Credential{
			ID:         slices.Clone(c.id),
			RPID:       c.rpID,
			UserHandle: slices.Clone(c.userHandle),
			UserName:   c.userName,
			SignCount:  c.signCount,
			PublicKey:  &c.key.PublicKey,
		})
	}
	return out
}

// SetSignCount sets the sign counter of the credential with the given ID;
// the next assertion reports n+1 (or n with FixedCounter). Setting it below
// what the server last saw simulates a clone that fell behind.
func (a *Authenticator) SetSignCount(credentialID []byte, n uint32) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.find(credentialID)
	if c == nil {
		return ErrNoCredential
	}
	c.signCount = n
	return nil
}

// Clone returns an independent copy with the same keys, counters and
// settings: a cloned device, whose counters then move on their own.
func (a *Authenticator) Clone() *Authenticator {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := &Authenticator{
		UserVerified:   a.UserVerified,
		NoUserPresence: a.NoUserPresence,
		BackupEligible: a.BackupEligible,
		BackedUp:       a.BackedUp,
		RPIDOverride:   a.RPIDOverride,
		FixedCounter:   a.FixedCounter,
	}
	for _, c := range a.creds {
		cp := *c
		cp.id = slices.Clone(c.id)
		cp.userHandle = slices.Clone(c.userHandle)
		b.creds = append(b.creds, &cp) // the private key is immutable, sharing it is a true clone
	}
	return b
}

// find returns the held credential with that ID, or nil. a.mu must be held.
func (a *Authenticator) find(id []byte) *credential {
	for _, c := range a.creds {
		if bytes.Equal(c.id, id) {
			return c
		}
	}
	return nil
}

// flags builds the authData flags byte from the settings (WebAuthn §6.1).
func (a *Authenticator) flags(attested bool) byte {
	var f byte
	if !a.NoUserPresence {
		f |= flagUP
	}
	if a.UserVerified {
		f |= flagUV
	}
	if a.BackupEligible {
		f |= flagBE
	}
	if a.BackedUp {
		f |= flagBS
	}
	if attested {
		f |= flagAT
	}
	return f
}

// authRPID is the RP ID whose hash goes into authData.
func (a *Authenticator) authRPID(rpID string) string {
	if a.RPIDOverride != "" {
		return a.RPIDOverride
	}
	return rpID
}

// Register runs navigator.credentials.create() against this authenticator.
// creationOptionsJSON is PublicKeyCredentialCreationOptionsJSON (Level 3),
// i.e. what go-webauthn's protocol.CredentialCreation.Response marshals to;
// the whole CredentialCreation ({"publicKey": ...}) is accepted too. origin
// is what clientDataJSON claims (e.g. "http://localhost:8080"). The result is
// the RegistrationResponseJSON that PublicKeyCredential.toJSON() gives.
//
// As WebAuthn §6.3.2 asks, a new credential replaces one held for the same RP
// ID and user handle, and ErrExcluded is returned if excludeCredentials names
// a credential held for that RP ID.
func (a *Authenticator) Register(creationOptionsJSON []byte, origin string) ([]byte, error) {
	opts, err := parseCreationOptions(creationOptionsJSON, origin)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	coseKey, err := coseES256Key(&key.PublicKey)
	if err != nil {
		return nil, err
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ex := range opts.exclude {
		if c := a.find(ex); c != nil && c.rpID == opts.rpID {
			return nil, ErrExcluded
		}
	}
	c := &credential{id: id, key: key, rpID: opts.rpID, userHandle: opts.userID, userName: opts.userName}
	a.creds = slices.DeleteFunc(a.creds, func(old *credential) bool {
		return old.rpID == c.rpID && bytes.Equal(old.userHandle, c.userHandle)
	})
	a.creds = append(a.creds, c)

	authData := authenticatorData(a.authRPID(opts.rpID), a.flags(true), c.signCount, id, coseKey)
	attObj, err := attestationObjectNone(authData)
	if err != nil {
		return nil, err
	}
	clientData := clientDataJSON("webauthn.create", opts.challenge, origin)
	spki, err := spkiDER(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return registrationResponseJSON(id, clientData, authData, spki, attObj, opts.credProps)
}

// Login runs navigator.credentials.get() against this authenticator.
// requestOptionsJSON is PublicKeyCredentialRequestOptionsJSON (Level 3), what
// go-webauthn's protocol.CredentialAssertion.Response marshals to (the whole
// {"publicKey": ...} is accepted too). It uses the first held credential
// listed in allowCredentials, or, when that list is empty (discoverable
// login), the first credential created for the RP ID. The result is the
// AuthenticationResponseJSON that PublicKeyCredential.toJSON() gives.
func (a *Authenticator) Login(requestOptionsJSON []byte, origin string) ([]byte, error) {
	return a.login(nil, requestOptionsJSON, origin)
}

// LoginWith is Login with the credential chosen by the test. It ignores
// allowCredentials and the credential's RP ID, as a misbehaving client could.
func (a *Authenticator) LoginWith(credentialID, requestOptionsJSON []byte, origin string) ([]byte, error) {
	if len(credentialID) == 0 {
		return nil, ErrNoCredential
	}
	return a.login(credentialID, requestOptionsJSON, origin)
}

func (a *Authenticator) login(chosen, requestOptionsJSON []byte, origin string) ([]byte, error) {
	opts, err := parseRequestOptions(requestOptionsJSON, origin)
	if err != nil {
		return nil, err
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.pick(chosen, opts)
	if c == nil {
		return nil, ErrNoCredential
	}
	if !a.FixedCounter {
		c.signCount++
	}
	authData := authenticatorData(a.authRPID(opts.rpID), a.flags(false), c.signCount, nil, nil)
	clientData := clientDataJSON("webauthn.get", opts.challenge, origin)
	sig, err := signAssertion(c.key, authData, clientData)
	if err != nil {
		return nil, err
	}
	return authenticationResponseJSON(c.id, clientData, authData, sig, c.userHandle)
}

// pick selects the credential for an assertion (WebAuthn §6.3.3 step 3 and
// §5.1.4.2). a.mu must be held.
func (a *Authenticator) pick(chosen []byte, opts *requestOptions) *credential {
	if chosen != nil {
		return a.find(chosen)
	}
	if len(opts.allow) > 0 {
		for _, id := range opts.allow {
			if c := a.find(id); c != nil && c.rpID == opts.rpID {
				return c
			}
		}
		return nil
	}
	for _, c := range a.creds {
		if c.rpID == opts.rpID {
			return c
		}
	}
	return nil
}

// String helps test failure messages.
func (c Credential) String() string {
	return fmt.Sprintf("credential %x for %s (user %x, count %d)", c.ID, c.RPID, c.UserHandle, c.SignCount)
}
