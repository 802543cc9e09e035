package gatehouse

import (
	"context"
	"time"
)

// Authentication assurance levels, carried in the acr claim of every access
// token (NIST SP 800-63B §4): AAL1 after a password alone, AAL2 after a
// second factor (or a passkey with user verification).
const (
	AAL1 = "aal1"
	AAL2 = "aal2"
)

// Authentication method references, carried in the amr claim (RFC 8176 §2).
// A recovery code is a one-time password in the RFC's sense, so it is "otp"
// too; the log tells the two apart.
const (
	AMRPassword    = "pwd"
	AMROTP         = "otp"
	AMRHardwareKey = "hwk"
	AMRMultiFactor = "mfa"
)

// Second-factor methods named in an mfa_required challenge (CONTRACT §8).
const (
	MethodTOTP         = "totp"
	MethodRecoveryCode = "recovery_code"
	MethodPasskey      = "passkey"
)

// TOTPFactor is a user's TOTP enrolment (RFC 6238). The shared secret is
// stored sealed under --key-secret, bound to the user id, so that a
// database dump yields no secret (OWASP ASVS 5.0 V6.5, NIST SP 800-63B
// §5.1.4.2: verifiers store OTP secrets protected).
type TOTPFactor struct {
	UserID       string
	SealedSecret []byte
	// LastStep is the last time step whose code was accepted: a code is
	// accepted only for a later step, so no code works twice (RFC 6238 §5.2).
	LastStep    int64
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero while the enrolment waits for its first code
}

// Confirmed reports whether the factor is in force.
func (f *TOTPFactor) Confirmed() bool { return !f.ConfirmedAt.IsZero() }

// MFAChallenge is the pending second step of a login: the mfa_token handed
// out with 401 mfa_required. Only its SHA-256 is stored. It is single-use,
// short-lived, bound to the user and to the client address, and dies after
// a few wrong codes (CONTRACT §8).
type MFAChallenge struct {
	Hash      []byte // SHA-256 of the mfa_token
	UserID    string
	Address   string // AddressKey of the client that logged in
	Failures  int
	CreatedAt time.Time
	ExpiresAt time.Time
}

// MFAStore is the persistence of second factors. Every method that writes
// is one transaction.
type MFAStore interface {
	// TOTP returns the user's TOTP factor, confirmed or pending, or
	// ErrNotFound.
	TOTP(ctx context.Context, userID string) (*TOTPFactor, error)
	// PutPendingTOTP stores an unconfirmed factor, replacing a pending one
	// of the same user; ErrConflict when the user has a confirmed factor.
	PutPendingTOTP(ctx context.Context, f *TOTPFactor) error
	// ConfirmTOTP puts the pending factor of the user in force at now with
	// LastStep = step, replaces the user's recovery codes with codeHashes,
	// and sets the acr and amr of the live session sessionID (when not
	// empty), in one transaction. ErrNotFound when there is no pending
	// factor, ErrConflict when the factor is already confirmed.
	ConfirmTOTP(ctx context.Context, userID string, step int64, codeHashes [][]byte, sessionID, acr string, amr []string, now time.Time) error
	// UseTOTPStep records step as the user's last used step if, and only
	// if, it is later than the stored one and the factor is confirmed: a
	// compare-and-swap, so a code raced by two requests is accepted once.
	// It reports whether it recorded.
	UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error)
	// DeleteTOTP removes the user's TOTP factor and recovery codes;
	// ErrNotFound when there was no factor.
	DeleteTOTP(ctx context.Context, userID string) error

	// ReplaceRecoveryCodes deletes the user's recovery codes and stores
	// hashes as new, unused ones.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, now time.Time) error
	// UseRecoveryCode marks an unused code of the user used at now. It
	// reports false, with no error, for a code unknown or already used.
	UseRecoveryCode(ctx context.Context, userID string, hash []byte, now time.Time) (bool, error)
	// RecoveryCodesLeft counts the user's unused recovery codes.
	RecoveryCodesLeft(ctx context.Context, userID string) (int, error)

	// CreateMFAChallenge stores a login challenge.
	CreateMFAChallenge(ctx context.Context, c *MFAChallenge) error
	// MFAChallenge returns the challenge of a hash, or ErrNotFound when it
	// is unknown, used, or expired at now.
	MFAChallenge(ctx context.Context, hash []byte, now time.Time) (*MFAChallenge, error)
	// FailMFAChallenge counts a wrong code against a challenge and deletes
	// it when the count reaches max; it returns the count (0 and no error
	// when the challenge is gone).
	FailMFAChallenge(ctx context.Context, hash []byte, max int) (int, error)
	// ConsumeMFAChallenge deletes a challenge that is live at now, and
	// reports whether it did: of two concurrent uses, one wins.
	ConsumeMFAChallenge(ctx context.Context, hash []byte, now time.Time) (bool, error)

	// RaiseSession sets the acr and amr of a session that is not revoked
	// (step-up); ErrNotFound when there is no such session.
	RaiseSession(ctx context.Context, sessionID, acr string, amr []string) error
	// ResetMFA removes every second factor of the user (TOTP, recovery
	// codes, passkeys, pending MFA challenges) and, in the same transaction, revokes
	// every live session of the user with reason (appended to the feed).
	// It returns the ids of the sessions it revoked.
	ResetMFA(ctx context.Context, userID, reason string, now time.Time) ([]string, error)
}

// MFAStatus says which second factors a user has (GET /api/auth/mfa).
type MFAStatus struct {
	TOTP              bool
	RecoveryCodesLeft int
	Passkeys          int
}

// Enabled reports whether the user has any second factor in force: then a
// password alone never reaches the account.
func (m MFAStatus) Enabled() bool { return m.TOTP || m.Passkeys > 0 }

// Methods lists what can answer the user's login challenge.
func (m MFAStatus) Methods() []string {
	var out []string
	if m.TOTP {
		out = append(out, MethodTOTP)
	}
	if m.RecoveryCodesLeft > 0 {
		out = append(out, MethodRecoveryCode)
	}
	if m.Passkeys > 0 {
		out = append(out, MethodPasskey)
	}
	return out
}
