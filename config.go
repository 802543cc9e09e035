package gatehouse

import (
	"fmt"
	"log/slog"
	"time"
)

// Limit is an attempt limit: N attempts per Window. N == 0 turns it off.
type Limit struct {
	N      int
	Window time.Duration
}

// Policy is what an operator tunes about sessions and attempts. Its
// defaults ([DefaultPolicy]) are Gatehouse's documented defaults; a zero
// field means zero (ReuseGrace 0: no grace), never "the default".
type Policy struct {
	AccessTTL  time.Duration // lifetime of an access token
	RefreshTTL time.Duration // idle lifetime of a refresh token; each rotation restarts it
	SessionTTL time.Duration // absolute lifetime of a session from login
	// ReuseGrace is how long a rotated refresh token may be presented again
	// and get the session's current one (tabs racing to refresh). 0: none;
	// after it, reuse is theft and ends the session (RFC 9700 §4.14.2). It
	// covers the last RetirementsKept generations of a session.
	ReuseGrace time.Duration

	LoginLimit Limit // failed logins per (account, client address)
	// AccountLimit caps the failed logins of one account from any address
	// (NIST SP 800-63B §5.2.2: at most 100 consecutive failures); past 10
	// failures each attempt also waits a growing delay (see limits.go).
	AccountLimit  Limit
	RegisterLimit Limit // registrations per client address

	VerifyTTL time.Duration // lifetime of a verification or email-change link
	ResetTTL  time.Duration // lifetime of a password-reset link
	// MailLimit bounds the mails of one purpose to one address; past it,
	// requests answer as usual but send nothing.
	MailLimit Limit
	// RequireVerifiedEmail refuses login (403 email_not_verified) until
	// the user followed the verification link.
	RequireVerifiedEmail bool
	// Signup lets anyone register; false leaves account creation to
	// administrators ([Service.CreateUser]) and Register answers
	// ErrSignupDisabled.
	Signup bool
	// AuditRetention is how long audit events are kept (CONTRACT §9);
	// 0 keeps them for ever.
	AuditRetention time.Duration
}

// DefaultPolicy returns the defaults: short-lived access tokens (RFC 9700
// §2.2.2 and RFC 8725 advise short lifetimes for bearer tokens), a week of
// idle refresh, a month at most, 10 s of grace, and login limits in the
// range OWASP ASVS 5.0 6.3.1 asks for.
func DefaultPolicy() Policy {
	return Policy{
		AccessTTL:     15 * time.Minute,
		RefreshTTL:    168 * time.Hour,
		SessionTTL:    720 * time.Hour,
		ReuseGrace:    10 * time.Second,
		LoginLimit:    Limit{N: 10, Window: 15 * time.Minute},
		AccountLimit:  Limit{N: 100, Window: 24 * time.Hour},
		RegisterLimit: Limit{N: 20, Window: time.Hour},
		// OWASP Forgot Password cheat sheet: short-lived reset links.
		VerifyTTL: 24 * time.Hour,
		ResetTTL:  time.Hour,
		MailLimit: Limit{N: 5, Window: time.Hour},
		Signup:    true,
		// 90 days: long enough to answer "what happened last month".
		AuditRetention: 2160 * time.Hour,
	}
}

// ConfigError names the configuration field that is wrong. Callers map
// Field to their own spelling (the CLI to its flag names).
type ConfigError struct {
	Field string // Go field name, e.g. "AccessTTL"
	Err   error
}

func (e *ConfigError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErr(field, format string, args ...any) error {
	return &ConfigError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate reports the first field that is out of range.
func (p Policy) Validate() error {
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"AccessTTL", p.AccessTTL}, {"RefreshTTL", p.RefreshTTL}, {"SessionTTL", p.SessionTTL}, {"VerifyTTL", p.VerifyTTL}, {"ResetTTL", p.ResetTTL}} {
		if d.v <= 0 {
			return configErr(d.field, "must be positive, not %s", d.v)
		}
	}
	if p.ReuseGrace < 0 {
		return configErr("ReuseGrace", "must not be negative (0 turns the grace off)")
	}
	if p.AuditRetention < 0 {
		return configErr("AuditRetention", "must not be negative (0 keeps events for ever)")
	}
	if p.AccessTTL > p.SessionTTL {
		return configErr("AccessTTL", "must not be longer than SessionTTL (%s)", p.SessionTTL)
	}
	for _, l := range []struct {
		field string
		v     Limit
	}{{"LoginLimit", p.LoginLimit}, {"AccountLimit", p.AccountLimit}, {"RegisterLimit", p.RegisterLimit}, {"MailLimit", p.MailLimit}} {
		if l.v.N < 0 {
			return configErr(l.field, "the count must not be negative")
		}
		if l.v.N > 0 && l.v.Window <= 0 {
			return configErr(l.field, "the window must be positive")
		}
	}
	return nil
}

// Config configures a [Service]. Start from [DefaultConfig].
type Config struct {
	Store         Store
	Tokens        AccessTokens
	Passwords     Passwords
	RefreshTokens *RefreshTokenCodec

	Issuer   string
	Audience string

	// Secrets seals second-factor secrets at rest (the token package's
	// Sealer under --key-secret). TOTP makes and checks TOTP codes (the
	// totp package). Both are required.
	Secrets Sealer
	TOTP    OTP
	// Passkeys is the WebAuthn relying party (the passkey package); nil
	// turns passkeys off (their routes answer 404).
	Passkeys RelyingParty

	// Mail renders the mails of accounts by email; with a Store that is
	// also a MailStore it turns those flows on. AppURL is the base of the
	// links in mails (the issuer when empty). OnMailQueued is called after
	// a mail was queued, to wake the sender.
	Mail         MailComposer
	AppURL       string
	OnMailQueued func()

	Policy

	// SessionCacheSize bounds the session states kept in memory.
	SessionCacheSize int
	// RevocationPoll is how often the revocation feed is read.
	RevocationPoll time.Duration

	Now    func() time.Time // nil: time.Now
	Logger *slog.Logger     // nil: discard

	// OnRevoke, when set, is called after sessions end, with the reason
	// (one of the Reason* constants) and how many ended; for metrics.
	OnRevoke func(reason string, sessions int)
}

// DefaultConfig returns a Config with the default policy and cache; the
// caller sets the dependencies.
func DefaultConfig() Config {
	return Config{
		Policy:           DefaultPolicy(),
		SessionCacheSize: 100_000,
		RevocationPoll:   250 * time.Millisecond,
	}
}

// Validate reports a missing dependency or the first field out of range.
func (c Config) Validate() error {
	switch {
	case c.Store == nil:
		return configErr("Store", "is required")
	case c.Tokens == nil:
		return configErr("Tokens", "is required")
	case c.Passwords == nil:
		return configErr("Passwords", "is required")
	case c.RefreshTokens == nil:
		return configErr("RefreshTokens", "is required")
	case c.Secrets == nil:
		return configErr("Secrets", "is required")
	case c.TOTP == nil:
		return configErr("TOTP", "is required")
	}
	if err := c.Policy.Validate(); err != nil {
		return err
	}
	if c.SessionCacheSize <= 0 {
		return configErr("SessionCacheSize", "must be positive")
	}
	if c.RevocationPoll <= 0 {
		return configErr("RevocationPoll", "must be positive")
	}
	return nil
}
