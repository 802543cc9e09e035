package gatehouse

import (
	"context"
	"time"
)

// Passkey is a WebAuthn credential of a user (CONTRACT §8): a key pair held
// by an authenticator, of which the server keeps the public half. A passkey
// is phishing-resistant: the browser binds every signature to the origin,
// and the server checks it (WebAuthn Level 3 §7.2).
type Passkey struct {
	ID           string // Gatehouse's id, for the API (list, rename, delete)
	UserID       string
	CredentialID []byte // the authenticator's credential id: unique across all users
	PublicKey    []byte // COSE_Key (RFC 9052 §7)
	// Attestation is the attestation format the authenticator used
	// ("none" for most passkeys).
	Attestation string
	AAGUID      []byte   // the authenticator model, 16 bytes (often zeros)
	Transports  []string // usb, nfc, ble, internal, hybrid
	// SignCount is the authenticator's signature counter as last seen. A
	// counter that goes backwards betrays a cloned authenticator (WebAuthn
	// §6.1.1); synced passkeys keep it at 0.
	SignCount      uint32
	BackupEligible bool // may be synced to other devices (the BE flag)
	BackedUp       bool // is synced now (the BS flag)
	Name           string
	CreatedAt      time.Time
	LastUsedAt     time.Time // zero until first used to sign in
}

// Ceremonies a WebAuthn challenge serves: each is good for one only.
const (
	CeremonyRegister = "register"
	CeremonyLogin    = "login"
)

// WebAuthnChallenge is the server's half of a ceremony in progress: the
// challenge it sent and what it expects back, stored until the browser
// answers. It is single-use and short-lived (CONTRACT §8: 5 minutes).
type WebAuthnChallenge struct {
	ID       string // the challenge_id handed to the client
	Ceremony string // CeremonyRegister or CeremonyLogin
	UserID   string // the registering user; empty for a discoverable login
	// Session is the WebAuthn library's record of the ceremony (its
	// challenge, the user verification required, the allowed credentials),
	// opaque to the store.
	Session   []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// PasskeyStore is the persistence of passkeys and WebAuthn challenges.
// Every method that writes is one transaction.
type PasskeyStore interface {
	// CreatePasskey stores a new passkey; ErrConflict when a passkey with
	// the same CredentialID exists, whoever's it is.
	CreatePasskey(ctx context.Context, p *Passkey) error
	// Passkeys lists the user's passkeys, oldest first.
	Passkeys(ctx context.Context, userID string) ([]Passkey, error)
	// PasskeyByCredentialID returns the passkey of a credential id, or
	// ErrNotFound.
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*Passkey, error)
	// PasskeyUsed records a sign-in with a passkey: its new SignCount and
	// BackedUp flag, and LastUsedAt = now. ErrNotFound if it is gone.
	PasskeyUsed(ctx context.Context, id string, signCount uint32, backedUp bool, now time.Time) error
	// RenamePasskey renames a passkey of the user; ErrNotFound when the
	// user has no passkey with that id.
	RenamePasskey(ctx context.Context, userID, id, name string) error
	// DeletePasskey deletes a passkey of the user; ErrNotFound when the
	// user has no passkey with that id.
	DeletePasskey(ctx context.Context, userID, id string) error

	// CreateWebAuthnChallenge stores a challenge.
	CreateWebAuthnChallenge(ctx context.Context, c *WebAuthnChallenge) error
	// ConsumeWebAuthnChallenge deletes a challenge and returns it if it was
	// live at now; ErrNotFound otherwise (unknown, used or expired). Of two
	// concurrent consumers, one gets it.
	ConsumeWebAuthnChallenge(ctx context.Context, id string, now time.Time) (*WebAuthnChallenge, error)
}
