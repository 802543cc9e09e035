package gatehouse

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// Accounts by email (CONTRACT §7): verification, password reset, change
// of email. Every link carries a token of 256 random bits in its fragment
// (never sent to a server or in a Referer); only its SHA-256 is stored;
// it serves one purpose for one address, once, and a newer token of the
// same purpose kills it (OWASP Forgot Password cheat sheet). The mail is
// queued in the transaction that issues the token, so an answered request
// always gets its mail (the mailer package delivers it).

// forgotFloor is the least time a forgot-password request takes. The
// request does the same work for a known and an unknown address (it only
// queues the request; the sender resolves it), so the floor is a second
// line of defence against timing, not the first (OWASP Forgot Password
// cheat sheet: "consistent" responses; ASVS 5.0 6.3.8).
const forgotFloor = 100 * time.Millisecond

const emailTokenBytes = 32

func (s *Service) mailStore() (MailStore, bool) {
	return s.store, s.cfg.Mail != nil
}

func (s *Service) mailEnabled() bool {
	_, ok := s.mailStore()
	return ok
}

var errMailOff = errors.New("gatehouse: accounts by email need a MailStore and a MailComposer")

func hashEmailToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// parseEmailToken refuses, without a database read, what no token of
// ours can be.
func parseEmailToken(token string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != emailTokenBytes {
		return nil, ErrEmailTokenInvalid
	}
	return hashEmailToken(token), nil
}

var linkPaths = map[string]string{
	PurposeVerifyEmail:   "/verify-email",
	PurposeResetPassword: "/reset-password",
	PurposeChangeEmail:   "/confirm-email",
}

func (s *Service) ttl(purpose string) time.Duration {
	if purpose == PurposeResetPassword {
		return s.cfg.ResetTTL
	}
	return s.cfg.VerifyTTL
}

// issueEmailToken issues a token of purpose for user, bound to address,
// and queues its mail (plus extra mails) in one transaction. With newUser
// set, the user is created in that transaction too.
func (s *Service) issueEmailToken(ctx context.Context, newUser *User, purpose string, user *User, address string, extra ...*Mail) error {
	ms, ok := s.mailStore()
	if !ok {
		return errMailOff
	}
	token := base64.RawURLEncoding.EncodeToString(RandomBytes(emailTokenBytes))
	now := s.now().UTC().Truncate(time.Microsecond)
	ttl := s.ttl(purpose)
	base := strings.TrimSuffix(s.cfg.AppURL, "/")
	if base == "" {
		base = strings.TrimSuffix(s.cfg.Issuer, "/")
	}
	m, err := s.cfg.Mail.Compose(purpose, address, MailData{
		Link: base + linkPaths[purpose] + "#token=" + token, Email: address, ExpiresIn: ttl,
	})
	if err != nil {
		return err
	}
	mails := append([]*Mail{m}, extra...)
	for _, m := range mails {
		m.CreatedAt, m.NextAttemptAt = now, now
	}
	t := &EmailToken{Hash: hashEmailToken(token), Purpose: purpose, UserID: user.ID, Email: address, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := ms.IssueEmailToken(ctx, newUser, t, mails...); err != nil {
		return err
	}
	if s.cfg.OnMailQueued != nil {
		s.cfg.OnMailQueued()
	}
	return nil
}

// underMailLimit counts a mail of purpose to address and reports whether
// it may be sent (Policy.MailLimit), with when the window ends.
func (s *Service) underMailLimit(ctx context.Context, purpose, address string) (bool, time.Time, error) {
	l := s.cfg.MailLimit
	if l.N <= 0 {
		return true, time.Time{}, nil
	}
	n, resetAt, err := s.store.AddAttempt(ctx, limitKey("mail", purpose, address), s.now(), l.Window)
	return err == nil && n <= l.N, resetAt, err
}

// SendVerification mails a new verification link to the user of c.
// ErrAlreadyVerified when there is nothing to verify; *RateLimitError
// past the mail limit.
func (s *Service) SendVerification(ctx context.Context, c *AccessClaims) error {
	if !s.mailEnabled() {
		return errMailOff
	}
	u, err := s.store.UserByID(ctx, c.Subject)
	if err != nil {
		return err
	}
	if u.EmailVerified {
		return ErrAlreadyVerified
	}
	ok, resetAt, err := s.underMailLimit(ctx, PurposeVerifyEmail, u.Email)
	if err != nil {
		return err
	}
	if !ok {
		return &RateLimitError{RetryAfter: retryAfter(resetAt, s.now())}
	}
	return s.issueEmailToken(ctx, nil, PurposeVerifyEmail, u, u.Email)
}

// VerifyEmail uses a verification token and returns the verified user.
func (s *Service) VerifyEmail(ctx context.Context, token string) (*User, error) {
	return s.redeemUserToken(ctx, EventEmailVerified, token, MailStore.VerifyEmail)
}

// redeemUserToken uses a link token with a store method that changes the
// user, and drops the user's cached copy.
func (s *Service) redeemUserToken(ctx context.Context, event, token string,
	use func(MailStore, context.Context, []byte, time.Time) (*User, error)) (*User, error) {
	ms, ok := s.mailStore()
	if !ok {
		return nil, errMailOff
	}
	h, err := parseEmailToken(token)
	if err != nil {
		return nil, err
	}
	// The store names the user of the token in the event (EventStore).
	ev := s.newEvent(ctx, event, "", "")
	u, err := use(ms, WithEvents(ctx, ev), h, s.now().UTC())
	if err != nil {
		return nil, err
	}
	ev.UserID = u.ID
	s.logEvents(ctx, []Event{ev})
	s.guard.users.invalidate(u.ID)
	return u, nil
}

// ForgotPassword mails a reset link when email has an account. It
// answers the same, in the same time, when it has none, and past the
// mail limit sends nothing but answers the same. Only an address that is
// not one at all is refused (*ValidationError).
func (s *Service) ForgotPassword(ctx context.Context, email string) error {
	if !s.mailEnabled() {
		return errMailOff
	}
	canonical, err := CanonicalEmail(email)
	if err != nil {
		return Invalid("email", err.Error())
	}
	start := time.Now()
	err = s.forgotPassword(ctx, canonical)
	if wait := forgotFloor - time.Since(start); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	return err
}

func (s *Service) forgotPassword(ctx context.Context, canonical string) error {
	ok, _, err := s.underMailLimit(ctx, PurposeResetPassword, canonical)
	if err != nil || !ok {
		return err
	}
	// The same write whether or not the address has an account: whether a
	// mail goes out is decided in the background ([Service.ResolveMail]).
	// The request is durable before the 202, like any mail.
	now := s.now().UTC().Truncate(time.Microsecond)
	req := &Mail{ID: NewID(), Purpose: MailPurposeResetRequest, To: canonical, CreatedAt: now, NextAttemptAt: now}
	if err := s.store.IssueEmailToken(ctx, nil, nil, req); err != nil {
		return err
	}
	if s.cfg.OnMailQueued != nil {
		s.cfg.OnMailQueued()
	}
	return nil
}

// ResolveMail is called by the outbox sender before it sends an entry. It
// reports whether the entry is a mail to send; a forgot-password request
// is resolved instead: when the address has an account, a reset token is
// issued and its mail queued; when it has none, nothing is sent.
func (s *Service) ResolveMail(ctx context.Context, m *Mail) (send bool, err error) {
	if m.Purpose != MailPurposeResetRequest {
		return true, nil
	}
	u, err := s.store.UserByEmail(ctx, m.To)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if u.Disabled {
		// No way back into a disabled account by email (CONTRACT §9).
		return false, nil
	}
	ctx, done := s.record(ctx, s.newEvent(ctx, EventPasswordResetAsked, u.ID, ""))
	err = s.issueEmailToken(ctx, nil, PurposeResetPassword, u, u.Email)
	done(err)
	return false, err
}

// ResetPassword uses a reset token: the password is replaced, every
// session of the user ends, and the account's login counters are
// cleared. It never skips a second factor: the next login still asks for
// it.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string) error {
	ms, ok := s.mailStore()
	if !ok {
		return errMailOff
	}
	h, err := parseEmailToken(token)
	if err != nil {
		return err
	}
	if msg := s.cfg.Passwords.Check(newPassword); msg != "" {
		return Invalid("new_password", msg)
	}
	hash, err := s.cfg.Passwords.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	ev := s.newEvent(ctx, EventPasswordReset, "", "")
	u, ids, err := ms.ResetPassword(WithEvents(ctx, ev), h, hash, s.now().UTC())
	if err != nil {
		return err
	}
	ev.UserID = u.ID
	s.logEvents(ctx, []Event{ev})
	s.revokedSessions(ReasonPasswordReset, ids)
	s.guard.users.invalidate(u.ID)
	return s.clearLoginLimits(ctx, u.Email)
}

// ChangeEmail asks to move the account of c to newEmail: after checking
// the current password (counted like a login), a confirmation link goes
// to the new address and a notice to the old one. The change happens when
// the link is followed ([Service.ConfirmEmailChange]).
func (s *Service) ChangeEmail(ctx context.Context, c *AccessClaims, newEmail, currentPassword string, client ClientInfo) error {
	if !s.mailEnabled() {
		return errMailOff
	}
	if err := s.requireAAL2(ctx, c); err != nil {
		return err
	}
	var verr *ValidationError
	canonical, err := CanonicalEmail(newEmail)
	if err != nil {
		verr = verr.Add("new_email", err.Error())
	}
	if currentPassword == "" {
		verr = verr.Add("current_password", "is required")
	}
	if err := verr.Err(); err != nil {
		return err
	}
	u, err := s.store.UserByID(ctx, c.Subject)
	if err != nil {
		return err
	}
	if canonical == u.Email {
		return Invalid("new_email", "is already the address of this account")
	}
	if err := s.checkCurrentPassword(ctx, u, currentPassword, client); err != nil {
		return err
	}
	switch _, err := s.store.UserByEmail(ctx, canonical); {
	case err == nil:
		return ErrEmailTaken
	case !errors.Is(err, ErrNotFound):
		return err
	}
	ok, _, err := s.underMailLimit(ctx, PurposeChangeEmail, canonical)
	if err != nil || !ok {
		return err
	}
	notice, err := s.cfg.Mail.Compose(MailPurposeEmailChanged, u.Email, MailData{Email: u.Email, NewEmail: canonical})
	if err != nil {
		return err
	}
	return s.issueEmailToken(ctx, nil, PurposeChangeEmail, u, canonical, notice)
}

// ConfirmEmailChange uses an email-change token and returns the user with
// the new address (verified: the link reached it).
func (s *Service) ConfirmEmailChange(ctx context.Context, token string) (*User, error) {
	return s.redeemUserToken(ctx, EventEmailChanged, token, MailStore.ConfirmEmailChange)
}

// normalizeStoredEmails rewrites emails stored before normalisation to
// NFC and IDNA into their canonical form. Two stored forms that now
// collide are both kept (and logged): login picks the exact match.
func (s *Service) normalizeStoredEmails(ctx context.Context) error {
	ms := s.store
	users, err := ms.UsersWithNonASCIIEmail(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		canonical, err := CanonicalEmail(u.Email)
		if err != nil || canonical == u.Email {
			continue
		}
		err = ms.SetUserEmail(ctx, u.ID, canonical, s.now().UTC())
		switch {
		case errors.Is(err, ErrEmailTaken):
			s.log.WarnContext(ctx, "two accounts' emails are one address once normalised; both kept, login picks the exact spelling",
				"user_id", u.ID)
		case err != nil:
			return err
		}
	}
	return nil
}
