package gatehouse

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"
)

// Register creates an account. It counts against the register limit of the
// client address and returns a *ValidationError, ErrEmailTaken,
// *RateLimitError, ErrServerBusy, or ErrSignupDisabled when sign-up is off.
func (s *Service) Register(ctx context.Context, email, password, name string, client ClientInfo) (*User, error) {
	if !s.cfg.Signup {
		return nil, ErrSignupDisabled
	}
	if l := s.cfg.RegisterLimit; l.N > 0 {
		count, resetAt, err := s.store.AddAttempt(ctx, limitKey("register", AddressKey(client.IP)), s.now(), l.Window)
		if err != nil {
			return nil, err
		}
		if count > l.N {
			return nil, &RateLimitError{RetryAfter: retryAfter(resetAt, s.now())}
		}
	}
	u, err := s.newUser(ctx, email, password, name)
	if err != nil {
		return nil, err
	}
	ctx, done := s.record(ctx, s.newEvent(ctx, EventUserRegistered, u.ID, ""))
	if s.mailEnabled() {
		// The user and the verification mail in one transaction: a 201
		// means the mail will go out (CONTRACT §7).
		err = s.issueEmailToken(ctx, u, PurposeVerifyEmail, u, u.Email)
	} else {
		err = s.store.CreateUser(ctx, u)
	}
	done(err)
	return u, err
}

// CreateUser creates an account without counting attempts (the CLI's
// "user create"). Errors as [Service.Register].
func (s *Service) CreateUser(ctx context.Context, email, password, name string) (*User, error) {
	return s.Operator().CreateUser(ctx, email, password, name, RoleUser)
}

// CreateUser creates an account with a role, without counting attempts.
// Errors as [Service.Register], and a *ValidationError for an unknown role.
func (a *Admin) CreateUser(ctx context.Context, email, password, name, role string) (*User, error) {
	if role != RoleUser && role != RoleAdmin {
		return nil, Invalid("role", `must be "user" or "admin"`)
	}
	u, err := a.s.newUser(ctx, email, password, name)
	if err != nil {
		return nil, err
	}
	u.Role = role
	ctx = a.ctx(ctx)
	ctx, done := a.s.record(ctx, a.s.newEvent(ctx, EventUserRegistered, u.ID, "", "by", "operator", "role", role))
	err = a.s.store.CreateUser(ctx, u)
	done(err)
	return u, err
}

// newUser checks the fields of a new account and hashes its password.
func (s *Service) newUser(ctx context.Context, email, password, name string) (*User, error) {
	var verr *ValidationError
	canonical, err := CanonicalEmail(email)
	if err != nil {
		verr = verr.Add("email", err.Error())
	}
	if msg := s.cfg.Passwords.Check(password); msg != "" {
		verr = verr.Add("password", msg)
	} else if resemblesAccount(password, canonical, name) {
		verr = verr.Add("password", msgResemblesAccount)
	}
	name, nameErr := cleanName(name)
	if nameErr != "" {
		verr = verr.Add("name", nameErr)
	}
	if err := verr.Err(); err != nil {
		return nil, err
	}
	hash, err := s.cfg.Passwords.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	return &User{ID: NewID(), Email: canonical, Name: name, PasswordHash: hash, CreatedAt: s.now().UTC().Truncate(time.Microsecond)}, nil // µs: what both stores keep
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// Login checks a password and starts a session. It returns
// ErrInvalidCredentials alike for an unknown email and a wrong password
// (same answer, and the same hashing cost), *RateLimitError once the
// (account, client address) pair is over the login limit, even with the
// right password, and ErrServerBusy when the hashing pool is full.
func (s *Service) Login(ctx context.Context, email, password string, client ClientInfo) (*Grant, error) {
	var verr *ValidationError
	if strings.TrimSpace(email) == "" {
		verr = verr.Add("email", "is required")
	}
	if password == "" {
		verr = verr.Add("password", "is required")
	}
	if err := verr.Err(); err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(email)) > MaxEmailBytes {
		// Refused before anything is counted or stored: no client input
		// may grow the attempts table beyond a fixed size per request.
		return nil, Invalid("email", "is not a valid email address")
	}
	canonical, emailErr := CanonicalEmail(email)
	if emailErr != nil {
		canonical = strings.ToLower(strings.TrimSpace(email)) // still counted, still hashed
	}
	gate, err := s.reserveLogin(ctx, canonical, client.IP)
	var limited *RateLimitError
	if errors.As(err, &limited) && limited.first {
		// Once per window, not per refused attempt: a flood must not
		// become a flood of audit rows.
		s.appendEvents(ctx, s.newEvent(ctx, EventLoginRateLimited, "", "", "email", canonical))
	}
	if err != nil {
		return nil, err
	}
	user, err := s.verifyPassword(ctx, email, canonical, emailErr == nil, password)
	if errors.Is(err, ErrInvalidCredentials) {
		if ferr := gate.failed(ctx, s.store, s.now()); ferr != nil {
			return nil, ferr
		}
		s.loginFailed(ctx, user, canonical, "wrong_password")
	}
	if err != nil {
		return nil, err
	}
	if user.Disabled {
		// Said only to the holder of the right password, like
		// email_not_verified: a guesser learns nothing.
		s.loginFailed(ctx, user, canonical, "user_disabled")
		return nil, ErrUserDisabled
	}
	factors, err := s.mfaStatus(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	if !factors.Enabled() {
		// With a second factor the password is only half a login: the
		// counters stay until the factor is right too, so that a known
		// password cannot reset the account's limit between code guesses.
		if err := gate.succeeded(ctx, s.store); err != nil {
			return nil, err
		}
	}
	if s.cfg.RequireVerifiedEmail && !user.EmailVerified {
		// Said only to the holder of the right password: no enumeration.
		return nil, ErrEmailNotVerified
	}
	if factors.Enabled() {
		return nil, s.challenge(ctx, user, client, factors)
	}
	grant, err := s.startSession(ctx, user, client, AAL1, []string{AMRPassword})
	if err != nil {
		return nil, err
	}
	grant.User = user
	return grant, nil
}

// loginFailed records a failed login. For an unknown email the event names
// the address in its detail and no user: nothing is created that a later
// registration of that address could collide with.
func (s *Service) loginFailed(ctx context.Context, user *User, canonical, reason string) {
	if user == nil {
		s.appendEvents(ctx, s.newEvent(ctx, EventLoginFailed, "", "", "reason", "unknown_email", "email", canonical))
		return
	}
	s.appendEvents(ctx, s.newEvent(ctx, EventLoginFailed, user.ID, "", "reason", reason))
}

// verifyPassword returns the user whose email and password these are, or
// ErrInvalidCredentials after the same hashing work either way; with
// ErrInvalidCredentials, the user is returned when the email is known.
func (s *Service) verifyPassword(ctx context.Context, typed, canonical string, wellFormed bool, password string) (*User, error) {
	var user *User
	if wellFormed {
		u, err := s.userByEmail(ctx, typed, canonical)
		switch {
		case err == nil:
			user = u
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
	}
	if user == nil {
		if err := s.cfg.Passwords.CompareDummy(ctx, password); err != nil {
			return nil, err
		}
		return nil, ErrInvalidCredentials
	}
	match, rehash, err := s.cfg.Passwords.Compare(ctx, user.PasswordHash, password)
	if err != nil {
		return nil, err
	}
	if !match {
		return user, ErrInvalidCredentials
	}
	if rehash {
		// OWASP Password Storage: upgrade the parameters at the next login.
		if h, err := s.cfg.Passwords.Hash(ctx, password); err == nil {
			if err := s.store.SetPasswordHash(ctx, user.ID, h); err == nil {
				user.PasswordHash = h
			} else {
				s.log.WarnContext(ctx, "rehash not stored", "user_id", user.ID, "err", err)
			}
		}
	}
	return user, nil
}

// ChangePassword replaces the user's password after checking the current
// one, and ends every other session of the user (OWASP ASVS 5.0 7.4.3).
// Failures count against the login limit like failed logins. Returns
// ErrInvalidCredentials, *ValidationError, *RateLimitError, ErrServerBusy.
func (s *Service) ChangePassword(ctx context.Context, c *AccessClaims, current, next string, client ClientInfo) error {
	if err := s.requireAAL2(ctx, c); err != nil {
		return err
	}
	user, err := s.store.UserByID(ctx, c.Subject)
	if err != nil {
		return err
	}
	var verr *ValidationError
	if current == "" {
		verr = verr.Add("current_password", "is required")
	}
	if msg := s.cfg.Passwords.Check(next); msg != "" {
		verr = verr.Add("new_password", msg)
	} else if resemblesAccount(next, user.Email, user.Name) {
		verr = verr.Add("new_password", msgResemblesAccount)
	}
	if err := verr.Err(); err != nil {
		return err
	}
	if err := s.checkCurrentPassword(ctx, user, current, client); err != nil {
		return err
	}
	hash, err := s.cfg.Passwords.Hash(ctx, next)
	if err != nil {
		return err
	}
	ctx, done := s.record(ctx, s.newEvent(ctx, EventPasswordChanged, user.ID, c.SessionID))
	ids, err := s.store.ChangePassword(ctx, user.ID, hash, c.SessionID, s.now().UTC())
	done(err)
	if err != nil {
		return err
	}
	s.revokedSessions(ReasonPasswordChange, ids)
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

const msgResemblesAccount = "must not be built on your email address or name"

// resemblesAccount reports whether password is mostly the account's own
// email, its local part or the user's name: NIST SP 800-63B §5.1.1.2 asks
// verifiers to refuse context-specific words such as the username. What is
// left after removing those words must itself be long enough to count.
func resemblesAccount(password, email, name string) bool {
	p := strings.ToLower(strings.Join(strings.Fields(password), ""))
	local, _, _ := strings.Cut(email, "@")
	words := []string{strings.ToLower(email), strings.ToLower(local), strings.ToLower(strings.Join(strings.Fields(name), ""))}
	left := p
	for _, w := range words {
		if utf8.RuneCountInString(w) >= 4 {
			left = strings.ReplaceAll(left, w, "")
		}
	}
	return left != p && utf8.RuneCountInString(left) < 8
}

// userByEmail finds the account of an address. Addresses stored before
// emails were normalised to NFC may differ from the canonical form; when
// what was typed, lower-cased, is such a stored address, it is the exact
// match and wins, so that two accounts whose forms collide both log in.
func (s *Service) userByEmail(ctx context.Context, typed, canonical string) (*User, error) {
	if legacy := strings.ToLower(strings.TrimSpace(typed)); legacy != canonical {
		u, err := s.store.UserByEmail(ctx, legacy)
		if !errors.Is(err, ErrNotFound) {
			return u, err
		}
	}
	return s.store.UserByEmail(ctx, canonical)
}

// checkCurrentPassword checks the password of a signed-in user before a
// sensitive change (OWASP ASVS 5.0 6.2.3), counted like a login.
func (s *Service) checkCurrentPassword(ctx context.Context, u *User, password string, client ClientInfo) error {
	gate, err := s.reserveLogin(ctx, u.Email, client.IP)
	if err != nil {
		return err
	}
	match, _, err := s.cfg.Passwords.Compare(ctx, u.PasswordHash, password)
	if err != nil {
		return err
	}
	if !match {
		return errors.Join(ErrInvalidCredentials, gate.failed(ctx, s.store, s.now()))
	}
	return gate.succeeded(ctx, s.store)
}

// cleanName trims a display name and says what is wrong with it, if
// anything.
func cleanName(name string) (string, string) {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > 100 || !utf8.ValidString(name) || strings.ContainsFunc(name, isControl) {
		return name, "must be at most 100 printable characters"
	}
	return name, ""
}

// UpdateProfile replaces the display name of the user of c and returns
// the user. Every instance drops its cached copy through the feed.
func (s *Service) UpdateProfile(ctx context.Context, c *AccessClaims, name string) (*User, error) {
	name, msg := cleanName(name)
	if msg != "" {
		return nil, Invalid("name", msg)
	}
	if err := s.store.SetUserName(ctx, c.Subject, name, s.now().UTC()); err != nil {
		return nil, err
	}
	s.guard.users.invalidate(c.Subject)
	return s.store.UserByID(ctx, c.Subject)
}
