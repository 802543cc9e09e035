package gatehouse

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Passkeys (CONTRACT §8): adding, listing, renaming and removing them, and
// signing in with one, alone or as the second step of a password login.
// Every ceremony requires user verification, so a passkey sign-in is
// phishing-resistant multi-factor authentication: aal2, amr hwk and mfa
// (NIST SP 800-63B §5.1.8; RFC 8176 §2).

const (
	webAuthnChallengeTTL = 5 * time.Minute // CONTRACT §8
	maxPasskeysPerUser   = 20
)

// errPasskeysOff answers the passkey routes of a service built without a
// relying party.
var errPasskeysOff = fmt.Errorf("%w: passkeys are not set up on this server", ErrNotFound)

// passkeyAMR is what a passkey proves: possession of a key held by an
// authenticator (hwk) and, through user verification, a second factor.
var passkeyAMR = []string{AMRHardwareKey, AMRMultiFactor}

func (s *Service) relyingParty() (RelyingParty, error) {
	if s.cfg.Passkeys == nil {
		return nil, errPasskeysOff
	}
	return s.cfg.Passkeys, nil
}

// PasskeyRegistrationOptions begins adding a passkey to the account of c.
// Adding a factor is sensitive: a user who already has one needs aal2.
func (s *Service) PasskeyRegistrationOptions(ctx context.Context, c *AccessClaims) (challengeID string, options []byte, err error) {
	rp, err := s.relyingParty()
	if err != nil {
		return "", nil, err
	}
	if err := s.requireAAL2(ctx, c); err != nil {
		return "", nil, err
	}
	user, err := s.store.UserByID(ctx, c.Subject)
	if err != nil {
		return "", nil, err
	}
	existing, err := s.store.Passkeys(ctx, user.ID)
	if err != nil {
		return "", nil, err
	}
	if len(existing) >= maxPasskeysPerUser {
		return "", nil, Invalid("passkey", fmt.Sprintf("at most %d passkeys per account: remove one first", maxPasskeysPerUser))
	}
	options, session, err := rp.BeginRegistration(user, existing)
	if err != nil {
		return "", nil, err
	}
	id, err := s.storeChallenge(ctx, CeremonyRegister, user.ID, session)
	return id, options, err
}

func (s *Service) storeChallenge(ctx context.Context, ceremony, userID string, session []byte) (string, error) {
	now := s.now().UTC()
	ch := &WebAuthnChallenge{
		ID: NewID(), Ceremony: ceremony, UserID: userID, Session: session,
		CreatedAt: now, ExpiresAt: now.Add(webAuthnChallengeTTL),
	}
	return ch.ID, s.store.CreateWebAuthnChallenge(ctx, ch)
}

// takeChallenge consumes a challenge of the ceremony (single use, CONTRACT
// §8). A challenge of another ceremony or user is consumed all the same:
// whoever sent it gets nothing from it, and it cannot be tried twice.
func (s *Service) takeChallenge(ctx context.Context, id, ceremony, userID string) (*WebAuthnChallenge, error) {
	if !ValidID(id) {
		return nil, ErrPasskeyInvalid
	}
	ch, err := s.store.ConsumeWebAuthnChallenge(ctx, id, s.now().UTC())
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: the challenge is unknown, used or expired", ErrPasskeyInvalid)
	}
	if err != nil {
		return nil, err
	}
	if ch.Ceremony != ceremony || ch.UserID != userID {
		return nil, fmt.Errorf("%w: the challenge belongs to another ceremony", ErrPasskeyInvalid)
	}
	return ch, nil
}

// RegisterPasskey finishes adding a passkey. Returns ErrPasskeyInvalid
// (400) when the credential does not verify or is already registered.
func (s *Service) RegisterPasskey(ctx context.Context, c *AccessClaims, challengeID string, credential []byte, name string) (*Passkey, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	name, msg := cleanName(name)
	if msg != "" {
		return nil, Invalid("name", msg)
	}
	ch, err := s.takeChallenge(ctx, challengeID, CeremonyRegister, c.Subject)
	if err != nil {
		return nil, registerInvalid(err)
	}
	user, err := s.store.UserByID(ctx, c.Subject)
	if err != nil {
		return nil, err
	}
	existing, err := s.store.Passkeys(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	p, err := rp.FinishRegistration(user, existing, ch.Session, credential)
	if err != nil {
		return nil, registerInvalid(err)
	}
	if name == "" {
		name = fmt.Sprintf("Passkey %d", len(existing)+1)
	}
	p.ID, p.UserID, p.Name, p.CreatedAt = NewID(), user.ID, name, s.now().UTC().Truncate(time.Microsecond)
	ctx, done := s.record(ctx, s.newEvent(ctx, EventPasskeyAdded, user.ID, c.SessionID, "passkey_id", p.ID))
	err = s.store.CreatePasskey(ctx, p)
	done(err)
	if err != nil {
		if errors.Is(err, ErrConflict) {
			// Credential ids are unique across users: one authenticator
			// key never signs in to two accounts.
			return nil, fmt.Errorf("%w: this passkey is already registered", errPasskeyRegisterInvalid)
		}
		return nil, err
	}
	s.log.InfoContext(ctx, "passkey added", "user_id", user.ID, "passkey_id", p.ID, "synced", p.BackupEligible)
	return p, nil
}

func registerInvalid(err error) error {
	if errors.Is(err, ErrPasskeyInvalid) {
		return fmt.Errorf("%w (%v)", errPasskeyRegisterInvalid, err)
	}
	return err
}

// Passkeys lists the passkeys of the user of c.
func (s *Service) Passkeys(ctx context.Context, c *AccessClaims) ([]Passkey, error) {
	return s.store.Passkeys(ctx, c.Subject)
}

// RenamePasskey renames one of the user's passkeys.
func (s *Service) RenamePasskey(ctx context.Context, c *AccessClaims, id, name string) (*Passkey, error) {
	name, msg := cleanName(name)
	if msg == "" && name == "" {
		msg = "is required"
	}
	if msg != "" {
		return nil, Invalid("name", msg)
	}
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	if err := s.store.RenamePasskey(ctx, c.Subject, id, name); err != nil {
		return nil, err
	}
	ps, err := s.store.Passkeys(ctx, c.Subject)
	if err != nil {
		return nil, err
	}
	for i := range ps {
		if ps[i].ID == id {
			return &ps[i], nil
		}
	}
	return nil, ErrNotFound
}

// DeletePasskey removes one of the user's passkeys. It needs aal2: a
// stolen aal1 session may not remove a factor. The account cannot be
// locked by it: every account keeps its password, so removing the last
// passkey leaves the password (and TOTP, if any) as the way in.
func (s *Service) DeletePasskey(ctx context.Context, c *AccessClaims, id string) error {
	if err := s.requireAAL2(ctx, c); err != nil {
		return err
	}
	if !ValidID(id) {
		return ErrNotFound
	}
	ctx, done := s.record(ctx, s.newEvent(ctx, EventPasskeyRemoved, c.Subject, c.SessionID, "passkey_id", id))
	err := s.store.DeletePasskey(ctx, c.Subject, id)
	done(err)
	if err != nil {
		return err
	}
	s.log.WarnContext(ctx, "passkey removed", "user_id", c.Subject, "passkey_id", id, "session_id", c.SessionID)
	return nil
}

// PasskeyLoginOptions begins a passkey sign-in (discoverable: the browser
// offers the passkeys it holds for this site).
func (s *Service) PasskeyLoginOptions(ctx context.Context, client ClientInfo) (challengeID string, options []byte, err error) {
	rp, err := s.relyingParty()
	if err != nil {
		return "", nil, err
	}
	// Each call stores a challenge: bounded per client address, so that no
	// client can grow the table without limit.
	if l := s.cfg.LoginLimit; l.N > 0 {
		n, resetAt, err := s.store.AddAttempt(ctx, limitKey("passkey-options", AddressKey(client.IP)), s.now(), l.Window)
		if err != nil {
			return "", nil, err
		}
		if n > 10*l.N {
			return "", nil, &RateLimitError{RetryAfter: retryAfter(resetAt, s.now())}
		}
	}
	options, session, err := rp.BeginLogin()
	if err != nil {
		return "", nil, err
	}
	id, err := s.storeChallenge(ctx, CeremonyLogin, "", session)
	return id, options, err
}

// LoginWithPasskey signs in with a passkey alone: an aal2 session.
// Returns ErrPasskeyInvalid, ErrEmailNotVerified.
func (s *Service) LoginWithPasskey(ctx context.Context, challengeID string, credential []byte, client ClientInfo) (*Grant, error) {
	user, err := s.verifyPasskey(ctx, challengeID, credential, "")
	if err != nil {
		return nil, err
	}
	if s.cfg.RequireVerifiedEmail && !user.EmailVerified {
		return nil, ErrEmailNotVerified
	}
	grant, err := s.startSession(ctx, user, client, AAL2, passkeyAMR)
	if err != nil {
		return nil, err
	}
	grant.User = user
	return grant, nil
}

// verifyPasskey checks a login assertion and records the passkey's use.
// With onlyUser set, the passkey must be that user's (a second step or a
// step-up); otherwise it is whoever's the user handle names.
func (s *Service) verifyPasskey(ctx context.Context, challengeID string, credential []byte, onlyUser string) (*User, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	ch, err := s.takeChallenge(ctx, challengeID, CeremonyLogin, "")
	if err != nil {
		return nil, err
	}
	var user *User
	lookup := func(userHandle []byte) (*User, []Passkey, error) {
		id := string(userHandle)
		if !ValidID(id) || (onlyUser != "" && id != onlyUser) {
			return nil, nil, errors.New("not a user of this server, or not the user signing in")
		}
		u, err := s.store.UserByID(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		ps, err := s.store.Passkeys(ctx, id)
		user = u
		return u, ps, err
	}
	used, err := rp.FinishLogin(ch.Session, credential, lookup)
	if err != nil {
		if errors.Is(err, ErrPasskeyInvalid) {
			s.log.InfoContext(ctx, "passkey sign-in refused", "reason", err.Error())
		}
		return nil, err
	}
	if err := s.store.PasskeyUsed(ctx, used.ID, used.SignCount, used.BackedUp, s.now().UTC()); err != nil {
		switch {
		case errors.Is(err, ErrNotFound):
			return nil, ErrPasskeyInvalid // removed meanwhile
		case errors.Is(err, ErrConflict):
			s.log.WarnContext(ctx, "passkey refused: its signature counter did not grow (a cloned authenticator?)", "user_id", used.UserID, "passkey_id", used.ID)
			return nil, fmt.Errorf("%w: the signature counter did not grow", ErrPasskeyInvalid)
		}
		return nil, err
	}
	return user, nil
}
