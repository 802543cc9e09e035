// Package passkey is Gatehouse's WebAuthn relying party (CONTRACT §8), on
// github.com/go-webauthn/webauthn. It implements
// [gatehouse.RelyingParty]: registration and discoverable login
// ceremonies as JSON, with user verification required, so that every
// passkey sign-in is two factors at once (the device and the PIN or
// biometric that unlocks it: NIST SP 800-63B §5.1.8, multi-factor
// cryptographic authenticator).
package passkey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse/gatehouse"
)

// Config names the relying party.
type Config struct {
	// RPID is the domain passkeys are bound to (WebAuthn §5.1.2): the host
	// of the site or a registrable suffix of it, never with a port.
	RPID string
	// Origins are the exact origins ceremonies may come from
	// (scheme://host[:port]).
	Origins []string
	// DisplayName is shown by authenticators; default "Gatehouse".
	DisplayName string
}

// RelyingParty implements gatehouse.RelyingParty.
type RelyingParty struct {
	w *webauthn.WebAuthn
}

// New checks cfg and returns a relying party.
func New(cfg Config) (*RelyingParty, error) {
	if cfg.RPID == "" || strings.ContainsAny(cfg.RPID, ":/") {
		return nil, fmt.Errorf("passkey: RP ID %q: a host name without scheme or port", cfg.RPID)
	}
	if len(cfg.Origins) == 0 {
		return nil, errors.New("passkey: at least one origin is required")
	}
	for _, o := range cfg.Origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" {
			return nil, fmt.Errorf("passkey: origin %q: want scheme://host[:port]", o)
		}
		// WebAuthn §5.1.3: an origin's host must be the RP ID or a
		// subdomain of it, or the browser refuses the ceremony.
		if h := u.Hostname(); h != cfg.RPID && !strings.HasSuffix(h, "."+cfg.RPID) {
			return nil, fmt.Errorf("passkey: origin %q is not on RP ID %q", o, cfg.RPID)
		}
	}
	name := cfg.DisplayName
	if name == "" {
		name = "Gatehouse"
	}
	w, err := webauthn.New(&webauthn.Config{
		RPID: cfg.RPID, RPDisplayName: name, RPOrigins: cfg.Origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementRequired,
			UserVerification: protocol.VerificationRequired,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &RelyingParty{w: w}, nil
}

// user adapts a Gatehouse user to webauthn.User. The user handle is the
// user id: random, and no personal data (WebAuthn §14.6.1).
type user struct {
	u     *gatehouse.User
	creds []webauthn.Credential
}

func (u user) WebAuthnID() []byte                         { return []byte(u.u.ID) }
func (u user) WebAuthnName() string                       { return u.u.Email }
func (u user) WebAuthnCredentials() []webauthn.Credential { return u.creds }
func (u user) WebAuthnDisplayName() string {
	if u.u.Name != "" {
		return u.u.Name
	}
	return u.u.Email
}

func adapt(u *gatehouse.User, ps []gatehouse.Passkey) user {
	out := user{u: u}
	for _, p := range ps {
		var transports []protocol.AuthenticatorTransport
		for _, t := range p.Transports {
			transports = append(transports, protocol.AuthenticatorTransport(t))
		}
		out.creds = append(out.creds, webauthn.Credential{
			ID: p.CredentialID, PublicKey: p.PublicKey, AttestationFormat: p.Attestation, Transport: transports,
			Flags:         webauthn.CredentialFlags{UserPresent: true, UserVerified: true, BackupEligible: p.BackupEligible, BackupState: p.BackedUp},
			Authenticator: webauthn.Authenticator{AAGUID: p.AAGUID, SignCount: p.SignCount},
		})
	}
	return out
}

func invalid(err error) error {
	return fmt.Errorf("%w: %v", gatehouse.ErrPasskeyInvalid, err)
}

// BeginRegistration implements gatehouse.RelyingParty.
func (rp *RelyingParty) BeginRegistration(u *gatehouse.User, existing []gatehouse.Passkey) ([]byte, []byte, error) {
	wu := adapt(u, existing)
	creation, session, err := rp.w.BeginRegistration(wu,
		webauthn.WithExclusions(webauthn.Credentials(wu.creds).CredentialDescriptors()),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()))
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: begin registration: %w", err)
	}
	return marshalPair(creation.Response, session)
}

// FinishRegistration implements gatehouse.RelyingParty.
func (rp *RelyingParty) FinishRegistration(u *gatehouse.User, existing []gatehouse.Passkey, session, credential []byte) (*gatehouse.Passkey, error) {
	var sd webauthn.SessionData
	if err := json.Unmarshal(session, &sd); err != nil {
		return nil, fmt.Errorf("passkey: stored session: %w", err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(credential)
	if err != nil {
		return nil, invalid(err)
	}
	c, err := rp.w.CreateCredential(adapt(u, existing), sd, parsed)
	if err != nil {
		return nil, invalid(err)
	}
	p := &gatehouse.Passkey{
		UserID: u.ID, CredentialID: c.ID, PublicKey: c.PublicKey, Attestation: c.AttestationFormat,
		AAGUID: c.Authenticator.AAGUID, SignCount: c.Authenticator.SignCount,
		BackupEligible: c.Flags.BackupEligible, BackedUp: c.Flags.BackupState,
	}
	for _, t := range c.Transport {
		p.Transports = append(p.Transports, string(t))
	}
	return p, nil
}

// BeginLogin implements gatehouse.RelyingParty.
func (rp *RelyingParty) BeginLogin() ([]byte, []byte, error) {
	assertion, session, err := rp.w.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: begin login: %w", err)
	}
	return marshalPair(assertion.Response, session)
}

// FinishLogin implements gatehouse.RelyingParty.
func (rp *RelyingParty) FinishLogin(session, credential []byte, lookup func(userHandle []byte) (*gatehouse.User, []gatehouse.Passkey, error)) (*gatehouse.Passkey, error) {
	var sd webauthn.SessionData
	if err := json.Unmarshal(session, &sd); err != nil {
		return nil, fmt.Errorf("passkey: stored session: %w", err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credential)
	if err != nil {
		return nil, invalid(err)
	}
	var owned []gatehouse.Passkey
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		u, ps, err := lookup(userHandle)
		if err != nil {
			return nil, err
		}
		owned = ps
		return adapt(u, ps), nil
	}
	_, c, err := rp.w.ValidatePasskeyLogin(handler, sd, parsed)
	if err != nil {
		return nil, invalid(err)
	}
	// A counter that did not grow, from an authenticator that counts,
	// means two authenticators share the key: a clone (WebAuthn §6.1.1).
	// The library only flags it; Gatehouse refuses.
	if c.Authenticator.CloneWarning {
		return nil, fmt.Errorf("%w: the signature counter went backwards (a cloned authenticator?)", gatehouse.ErrPasskeyInvalid)
	}
	for i := range owned {
		if bytes.Equal(owned[i].CredentialID, c.ID) {
			p := owned[i]
			p.SignCount, p.BackedUp = c.Authenticator.SignCount, c.Flags.BackupState
			return &p, nil
		}
	}
	return nil, invalid(errors.New("the credential is not the user's"))
}

func marshalPair(options any, session *webauthn.SessionData) ([]byte, []byte, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return nil, nil, err
	}
	s, err := json.Marshal(session)
	return o, s, err
}
