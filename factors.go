package gatehouse

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Second factors (CONTRACT §8): TOTP (RFC 6238) with recovery codes, the
// login challenge, and step-up. The rule they serve: while a user has a
// factor, a password alone reaches nothing — not a session, not a token of
// the password grant, not a sensitive change from an old aal1 session.

// Sealer seals secrets at rest, bound to additional data (implemented by
// the token package's Sealer under --key-secret).
type Sealer interface {
	Seal(plaintext, additionalData []byte) []byte
	Open(sealed, additionalData []byte) ([]byte, error)
}

// OTP makes and checks TOTP codes (implemented by the totp package).
type OTP interface {
	// NewSecret returns a new random shared secret (base32) and its
	// otpauth:// URI for the account at issuer.
	NewSecret(issuer, account string) (secret, uri string, err error)
	// Match returns the time step, within one step of now either way
	// (RFC 6238 §5.2's allowance for clock drift), whose code is code.
	Match(secret, code string, now time.Time) (step int64, ok bool)
}

// MFARequiredError answers a right password of a user who has a second
// factor: the challenge to complete at /api/auth/mfa/verify.
// errors.Is(err, ErrMFARequired) reports true.
type MFARequiredError struct {
	Token   string   // the mfa_token
	Methods []string // MethodTOTP, MethodRecoveryCode, MethodPasskey
}

func (e *MFARequiredError) Error() string { return ErrMFARequired.Error() }
func (e *MFARequiredError) Unwrap() error { return ErrMFARequired }

// MFAAnswer is the answer to a challenge or a step-up: exactly one of a
// TOTP code, a recovery code, and a passkey assertion (the challenge_id
// of POST /api/auth/passkeys/login/options and the credential).
type MFAAnswer struct {
	Code         string
	RecoveryCode string
	ChallengeID  string
	Credential   []byte // AuthenticationResponseJSON
}

const (
	mfaChallengeTTL      = 5 * time.Minute // CONTRACT §8
	mfaChallengeFailures = 5               // wrong codes that kill a challenge
	recoveryCodeCount    = 10
	// recoveryCodeChars is 16 characters of a 32-letter alphabet: 80
	// bits, far above NIST SP 800-63B §5.1.2.1's floor for look-up
	// secrets, so that their SHA-256 resists offline search.
	recoveryCodeChars = 16
	recoveryAlphabet  = "abcdefghijkmnpqrstuvwxyz23456789" // no l, o, 0, 1
)

// mfaStatus says which factors the user has in force.
func (s *Service) mfaStatus(ctx context.Context, userID string) (MFAStatus, error) {
	var st MFAStatus
	passkeys, err := s.store.Passkeys(ctx, userID)
	if err != nil {
		return st, err
	}
	st.Passkeys = len(passkeys)
	f, err := s.store.TOTP(ctx, userID)
	switch {
	case errors.Is(err, ErrNotFound):
		return st, nil
	case err != nil:
		return st, err
	}
	if st.TOTP = f.Confirmed(); st.TOTP {
		if st.RecoveryCodesLeft, err = s.store.RecoveryCodesLeft(ctx, userID); err != nil {
			return st, err
		}
	}
	return st, nil
}

// MFAStatus returns the second factors of the user of c.
func (s *Service) MFAStatus(ctx context.Context, c *AccessClaims) (MFAStatus, error) {
	return s.mfaStatus(ctx, c.Subject)
}

// requireAAL2 refuses an aal1 session of a user who has a second factor
// (RFC 9470): sensitive changes need the factor, not just the password.
func (s *Service) requireAAL2(ctx context.Context, c *AccessClaims) error {
	if c.AAL2() {
		return nil
	}
	st, err := s.mfaStatus(ctx, c.Subject)
	if err != nil {
		return err
	}
	if st.Enabled() {
		return ErrInsufficientAuth
	}
	return nil
}

// EnrollTOTP starts a TOTP enrolment after checking the current password,
// and returns the secret and its otpauth:// URI. The factor is not in force
// until ConfirmTOTP. Returns ErrInvalidCredentials, ErrAlreadyEnrolled,
// ErrInsufficientAuth (a passkey user on an aal1 session).
func (s *Service) EnrollTOTP(ctx context.Context, c *AccessClaims, currentPassword string, client ClientInfo) (secret, uri string, err error) {
	if currentPassword == "" {
		return "", "", Invalid("current_password", "is required")
	}
	if err := s.requireAAL2(ctx, c); err != nil {
		return "", "", err
	}
	user, err := s.store.UserByID(ctx, c.Subject)
	if err != nil {
		return "", "", err
	}
	if f, err := s.store.TOTP(ctx, user.ID); err == nil && f.Confirmed() {
		return "", "", ErrAlreadyEnrolled
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return "", "", err
	}
	if err := s.checkCurrentPassword(ctx, user, currentPassword, client); err != nil {
		return "", "", err
	}
	secret, uri, err = s.cfg.TOTP.NewSecret(s.otpIssuer(), user.Email)
	if err != nil {
		return "", "", err
	}
	f := &TOTPFactor{
		UserID:       user.ID,
		SealedSecret: s.cfg.Secrets.Seal([]byte(secret), totpAD(user.ID)),
		CreatedAt:    s.now().UTC(),
	}
	if err := s.store.PutPendingTOTP(ctx, f); err != nil {
		if errors.Is(err, ErrConflict) {
			return "", "", ErrAlreadyEnrolled
		}
		return "", "", err
	}
	return secret, uri, nil
}

// otpIssuer is the issuer label an authenticator app shows: the host of
// the issuer URL.
func (s *Service) otpIssuer() string {
	if u, err := url.Parse(s.cfg.Issuer); err == nil && u.Host != "" {
		return u.Host
	}
	return "Gatehouse"
}

// totpAD binds a sealed TOTP secret to its user: a secret copied onto
// another user's row does not open.
func totpAD(userID string) []byte { return []byte("totp|" + userID) }

// ConfirmTOTP puts a pending TOTP enrolment in force with its first code,
// and returns the recovery codes (shown once) and a new access token of the
// same session, which is aal2 from then on. Returns ErrMFACodeInvalid (400),
// ErrMFANotEnrolled when no enrolment is pending, ErrAlreadyEnrolled.
func (s *Service) ConfirmTOTP(ctx context.Context, c *AccessClaims, code string) (codes []string, access *Grant, err error) {
	f, err := s.store.TOTP(ctx, c.Subject)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, ErrMFANotEnrolled
	}
	if err != nil {
		return nil, nil, err
	}
	if f.Confirmed() {
		return nil, nil, ErrAlreadyEnrolled
	}
	secret, err := s.cfg.Secrets.Open(f.SealedSecret, totpAD(f.UserID))
	if err != nil {
		return nil, nil, fmt.Errorf("open TOTP secret: %w", err)
	}
	step, ok := s.cfg.TOTP.Match(string(secret), normalizeOTP(code), s.now())
	if !ok {
		return nil, nil, errTOTPConfirmCodeInvalid
	}
	codes, hashes := newRecoveryCodes(f.UserID)
	amr := raiseAMR(c.AMR, AMROTP)
	ctx, done := s.record(ctx, s.newEvent(ctx, EventMFAEnrolled, f.UserID, c.SessionID, "factor", "totp"))
	err = s.store.ConfirmTOTP(ctx, f.UserID, step, hashes, c.SessionID, AAL2, amr, s.now().UTC())
	done(err)
	if errors.Is(err, ErrConflict) {
		return nil, nil, ErrAlreadyEnrolled
	}
	if err != nil {
		return nil, nil, err
	}
	s.log.InfoContext(ctx, "mfa: authenticator app turned on", "user_id", f.UserID, "session_id", c.SessionID)
	access, err = s.sessionAccessToken(ctx, c)
	return codes, access, err
}

// sessionAccessToken mints a new access token for the session of c, as
// stored now (after a change of its acr).
func (s *Service) sessionAccessToken(ctx context.Context, c *AccessClaims) (*Grant, error) {
	sess, err := s.store.Session(ctx, c.SessionID)
	if err != nil {
		return nil, err
	}
	if sess.Revoked() {
		return nil, ErrSessionRevoked
	}
	tok, err := s.accessToken(sess, s.now().UTC())
	if err != nil {
		return nil, err
	}
	return &Grant{AccessToken: tok, ExpiresIn: int(s.cfg.AccessTTL / time.Second), Session: sess}, nil
}

// DisableTOTP removes the user's TOTP factor and recovery codes; it needs
// aal2. ErrMFANotEnrolled when there is none.
func (s *Service) DisableTOTP(ctx context.Context, c *AccessClaims) error {
	if err := s.requireAAL2(ctx, c); err != nil {
		return err
	}
	ctx, done := s.record(ctx, s.newEvent(ctx, EventMFARemoved, c.Subject, c.SessionID, "factor", "totp"))
	err := s.store.DeleteTOTP(ctx, c.Subject)
	done(err)
	if errors.Is(err, ErrNotFound) {
		return ErrMFANotEnrolled
	}
	if err == nil {
		s.log.WarnContext(ctx, "mfa: authenticator app turned off", "user_id", c.Subject, "session_id", c.SessionID)
	}
	return err
}

// RegenerateRecoveryCodes replaces the user's recovery codes (the old ones
// die) and returns the new ones; it needs aal2 and a factor in force.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, c *AccessClaims) ([]string, error) {
	if err := s.requireAAL2(ctx, c); err != nil {
		return nil, err
	}
	st, err := s.mfaStatus(ctx, c.Subject)
	if err != nil {
		return nil, err
	}
	if !st.TOTP {
		return nil, ErrMFANotEnrolled
	}
	codes, hashes := newRecoveryCodes(c.Subject)
	ctx, done := s.record(ctx, s.newEvent(ctx, EventRecoveryCodesRenewed, c.Subject, c.SessionID))
	err = s.store.ReplaceRecoveryCodes(ctx, c.Subject, hashes, s.now().UTC())
	done(err)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "mfa: recovery codes regenerated", "user_id", c.Subject)
	return codes, nil
}

// challenge stores a login challenge for a user whose password was right
// and returns it as a *MFARequiredError.
func (s *Service) challenge(ctx context.Context, user *User, client ClientInfo, st MFAStatus) error {
	token := "gate_mfa_" + base64.RawURLEncoding.EncodeToString(RandomBytes(32))
	now := s.now().UTC()
	ch := &MFAChallenge{
		Hash: mfaTokenHash(token), UserID: user.ID, Address: AddressKey(client.IP),
		CreatedAt: now, ExpiresAt: now.Add(mfaChallengeTTL),
	}
	if err := s.store.CreateMFAChallenge(ctx, ch); err != nil {
		return err
	}
	return &MFARequiredError{Token: token, Methods: st.Methods()}
}

func mfaTokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// VerifyMFA completes a login challenge with a second factor and starts an
// aal2 session. Returns ErrMFATokenInvalid, ErrMFACodeInvalid,
// *RateLimitError (wrong codes count like wrong passwords), *ValidationError.
func (s *Service) VerifyMFA(ctx context.Context, mfaToken string, answer MFAAnswer, client ClientInfo) (*Grant, error) {
	if err := answer.check(); err != nil {
		return nil, err
	}
	hash := mfaTokenHash(mfaToken)
	ch, err := s.store.MFAChallenge(ctx, hash, s.now().UTC())
	if errors.Is(err, ErrNotFound) {
		return nil, ErrMFATokenInvalid
	}
	if err != nil {
		return nil, err
	}
	// Bound to the client that logged in: a leaked mfa_token is no use
	// from elsewhere.
	if ch.Address != AddressKey(client.IP) {
		return nil, ErrMFATokenInvalid
	}
	user, err := s.store.UserByID(ctx, ch.UserID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrMFATokenInvalid
	}
	if err != nil {
		return nil, err
	}
	method, err := s.checkAnswer(ctx, user, answer, client)
	if errors.Is(err, ErrMFACodeInvalid) || errors.Is(err, ErrPasskeyInvalid) {
		if _, ferr := s.store.FailMFAChallenge(ctx, hash, mfaChallengeFailures); ferr != nil {
			return nil, ferr
		}
	}
	if err != nil {
		return nil, err
	}
	// Single use: of two right answers racing, one session.
	used, err := s.store.ConsumeMFAChallenge(ctx, hash, s.now().UTC())
	if err != nil {
		return nil, err
	}
	if !used {
		return nil, ErrMFATokenInvalid
	}
	grant, err := s.startSession(ctx, user, client, AAL2, raiseAMR([]string{AMRPassword}, method))
	if err != nil {
		return nil, err
	}
	grant.User = user
	return grant, nil
}

// StepUp raises the session of c to aal2 with a second factor and returns
// a new access token for it (RFC 9470). Errors as VerifyMFA;
// ErrMFANotEnrolled when the user has no factor.
func (s *Service) StepUp(ctx context.Context, c *AccessClaims, answer MFAAnswer, client ClientInfo) (*Grant, error) {
	if err := answer.check(); err != nil {
		return nil, err
	}
	user, err := s.store.UserByID(ctx, c.Subject)
	if err != nil {
		return nil, err
	}
	method, err := s.checkAnswer(ctx, user, answer, client)
	if err != nil {
		return nil, err
	}
	if err := s.store.RaiseSession(ctx, c.SessionID, AAL2, raiseAMR(c.AMR, method)); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrSessionRevoked
		}
		return nil, err
	}
	return s.sessionAccessToken(ctx, c)
}

func (a MFAAnswer) check() error {
	n := 0
	for _, given := range []bool{a.Code != "", a.RecoveryCode != "", a.ChallengeID != "" || len(a.Credential) > 0} {
		if given {
			n++
		}
	}
	if n != 1 {
		return Invalid("code", "send one of code, recovery_code, or challenge_id with credential")
	}
	if (a.ChallengeID == "") != (len(a.Credential) == 0) {
		return Invalid("credential", "a passkey answer needs both challenge_id and credential")
	}
	return nil
}

// checkAnswer checks a TOTP code or a recovery code of the user and
// returns the amr value it proves. Every answer is counted on the user's
// login counters first, so that a second factor cannot be guessed faster
// than a password (NIST SP 800-63B §5.2.2), whatever the number of
// challenges; a right answer clears them.
func (s *Service) checkAnswer(ctx context.Context, user *User, answer MFAAnswer, client ClientInfo) (string, error) {
	gate, err := s.reserveLogin(ctx, user.Email, client.IP)
	if err != nil {
		return "", err
	}
	if answer.ChallengeID != "" {
		if _, err := s.verifyPasskey(ctx, answer.ChallengeID, answer.Credential, user.ID); err != nil {
			if errors.Is(err, ErrPasskeyInvalid) {
				s.appendEvents(ctx, s.newEvent(ctx, EventMFAFailed, user.ID, "", "method", "passkey"))
				return "", errors.Join(err, gate.failed(ctx, s.store, s.now()))
			}
			return "", err
		}
		return AMRHardwareKey, gate.succeeded(ctx, s.store)
	}
	ok, err := s.answerMatches(ctx, user, answer)
	if err != nil {
		return "", err
	}
	if !ok {
		method := "totp"
		if answer.RecoveryCode != "" {
			method = "recovery_code"
		}
		s.appendEvents(ctx, s.newEvent(ctx, EventMFAFailed, user.ID, "", "method", method))
		return "", errors.Join(ErrMFACodeInvalid, gate.failed(ctx, s.store, s.now()))
	}
	return AMROTP, gate.succeeded(ctx, s.store)
}

func (s *Service) answerMatches(ctx context.Context, user *User, answer MFAAnswer) (bool, error) {
	if answer.RecoveryCode != "" {
		ctx, done := s.record(ctx, s.newEvent(ctx, EventRecoveryCodeUsed, user.ID, ""))
		used, err := s.store.UseRecoveryCode(ctx, user.ID, recoveryCodeHash(user.ID, answer.RecoveryCode), s.now().UTC())
		if err != nil || !used {
			return false, err
		}
		done(nil)
		left, _ := s.store.RecoveryCodesLeft(ctx, user.ID)
		// An event worth an operator's eye: a user who lost their phone,
		// or an attacker who found the codes.
		s.log.WarnContext(ctx, "mfa: recovery code used", "user_id", user.ID, "recovery_codes_left", left)
		return true, nil
	}
	f, err := s.store.TOTP(ctx, user.ID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !f.Confirmed() {
		return false, nil
	}
	secret, err := s.cfg.Secrets.Open(f.SealedSecret, totpAD(user.ID))
	if err != nil {
		return false, fmt.Errorf("open TOTP secret: %w", err)
	}
	step, ok := s.cfg.TOTP.Match(string(secret), normalizeOTP(answer.Code), s.now())
	if !ok || step <= f.LastStep {
		return false, nil
	}
	// Each code once (RFC 6238 §5.2): the step advances by compare-and-swap,
	// so of two requests racing with one code, one wins.
	return s.store.UseTOTPStep(ctx, user.ID, step)
}

// raiseAMR returns amr with method and "mfa" added (RFC 8176 §2: mfa
// means more than one factor was used).
func raiseAMR(amr []string, method string) []string {
	out := slices.Clone(amr)
	if len(out) == 0 {
		out = []string{AMRPassword}
	}
	for _, v := range []string{method, AMRMultiFactor} {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func normalizeOTP(code string) string {
	return strings.Join(strings.Fields(code), "")
}

// newRecoveryCodes returns fresh recovery codes, formatted for reading
// (xxxx-xxxx-xxxx-xxxx), and the hashes to store.
func newRecoveryCodes(userID string) (codes []string, hashes [][]byte) {
	for range recoveryCodeCount {
		var b strings.Builder
		for i, r := range rand.Text()[:recoveryCodeChars] {
			if i > 0 && i%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[strings.IndexRune(base32Alphabet, r)])
		}
		codes = append(codes, b.String())
		hashes = append(hashes, recoveryCodeHash(userID, b.String()))
	}
	return codes, hashes
}

// base32Alphabet is what crypto/rand.Text draws from (RFC 4648 base32),
// mapped one to one onto recoveryAlphabet.
const base32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// recoveryCodeHash is what is stored of a recovery code: the SHA-256 of
// the user id and the code as typed, without case, spaces or dashes.
func recoveryCodeHash(userID, code string) []byte {
	norm := strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
	h := sha256.Sum256([]byte(userID + "|" + norm))
	return h[:]
}

// ResetMFAByEmail removes every second factor of a user and ends their
// sessions (the CLI's "mfa reset", for a lost phone). It returns how many
// sessions it ended.
func (s *Service) ResetMFAByEmail(ctx context.Context, email string) (int, error) {
	u, err := s.userOfOperator(ctx, email)
	if err != nil {
		return 0, err
	}
	return s.Operator().ResetFactors(ctx, u.ID)
}
