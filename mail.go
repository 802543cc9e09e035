package gatehouse

import (
	"context"
	"strings"
	"time"
)

// Purposes of an email token: each token serves exactly one.
const (
	PurposeVerifyEmail   = "verify_email"
	PurposeResetPassword = "reset_password"
	PurposeChangeEmail   = "change_email"
)

// EmailToken is a single-use link token (verification, reset, email
// change). Only its SHA-256 is stored: a database dump yields no usable
// link (OWASP Forgot Password cheat sheet: tokens stored hashed, single
// use, expiring).
type EmailToken struct {
	Hash      []byte // SHA-256 of the token
	Purpose   string
	UserID    string
	Email     string // the address it was sent to, and the only one it is good for
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Mail is one message of the outbox. It is stored in the transaction of
// the change that causes it and delivered later, by one sender.
type Mail struct {
	ID        string
	Purpose   string // an EmailToken purpose, or "email_changed" (the notice to the old address)
	To        string
	Subject   string
	Text      string // text/plain part
	HTML      string // text/html part
	CreatedAt time.Time

	Attempts      int       // delivery attempts so far
	NextAttemptAt time.Time // when the next attempt is due
	LastError     string    // why the last attempt failed
}

// MailPurposeEmailChanged is the purpose of the notice sent to the old
// address when a change of email is asked for.
const MailPurposeEmailChanged = "email_changed"

// MailPurposeResetRequest marks an outbox entry that is not a mail but a
// forgot-password request to resolve in the background: the request path
// does the same work for every address, and the sender finds out whether
// the address has an account (see [Service.ResolveMail]).
const MailPurposeResetRequest = "reset_request"

// MailStore is the persistence of accounts by email: email tokens and the
// outbox. Every method that writes is one transaction. A change of a
// user's email or its verification appends a user entry to the feed
// (Revocation.UserID), so that every instance drops its cached copy.
type MailStore interface {
	// IssueEmailToken deletes every token of t.UserID with t.Purpose (a
	// newer token kills the older), stores t and queues mails, in one
	// transaction. With newUser non-nil the user is created in the same
	// transaction first (registration), ErrEmailTaken as CreateUser. With
	// t nil, only the mails are queued.
	IssueEmailToken(ctx context.Context, newUser *User, t *EmailToken, mails ...*Mail) error
	// VerifyEmail uses a verification token: the user's email becomes
	// verified, and the token is deleted. It returns ErrEmailTokenInvalid
	// for a token unknown, used, replaced or bound to an address that is no
	// longer the user's, and ErrEmailTokenExpired (deleting it) past its
	// expiry.
	VerifyEmail(ctx context.Context, tokenHash []byte, now time.Time) (*User, error)
	// ResetPassword uses a reset token: the password hash is replaced,
	// every live session of the user is revoked (appended to the feed) and
	// every reset token of the user deleted. Errors as VerifyEmail.
	ResetPassword(ctx context.Context, tokenHash []byte, passwordHash string, now time.Time) (*User, []string, error)
	// ConfirmEmailChange uses an email-change token: the user's email
	// becomes the token's address, verified. ErrEmailTaken when another
	// account holds that address now; otherwise errors as VerifyEmail.
	ConfirmEmailChange(ctx context.Context, tokenHash []byte, now time.Time) (*User, error)

	// ClaimMails leases up to limit mails that are due at now (and not
	// leased by another sender) until now+lease, oldest first, and returns
	// them. Concurrent claimers, in one process or many, never get the
	// same mail while its lease runs; a crashed sender's lease expires.
	ClaimMails(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Mail, error)
	// MailSent records the delivery of a claimed mail; it leaves the queue.
	MailSent(ctx context.Context, id string, now time.Time) error
	// MailFailed records a failed attempt: with next non-zero the mail is
	// due again at next; with next zero it is given up, and kept with
	// reason for the operator.
	MailFailed(ctx context.Context, id, reason string, next, now time.Time) error
	// Outbox returns how many mails wait to be sent and the creation time
	// of the oldest (zero when none wait).
	Outbox(ctx context.Context) (pending int, oldest time.Time, err error)

	// UsersWithNonASCIIEmail lists the users whose stored email has a
	// byte above 0x7f: the only ones an older, non-NFC normalisation can
	// have stored differently.
	UsersWithNonASCIIEmail(ctx context.Context) ([]User, error)
	// SetUserEmail replaces a user's email (ErrEmailTaken when another
	// account has it), keeping its verified flag, and appends a user entry
	// to the feed.
	SetUserEmail(ctx context.Context, userID, email string, now time.Time) error
}

// MailData is what a mail's templates may use.
type MailData struct {
	Link      string        // the link to follow (token in its fragment), if any
	Email     string        // the address the mail goes to
	NewEmail  string        // for the notice of an email change: the new address
	ExpiresIn time.Duration // how long the link works
}

// MailComposer renders the mail of a purpose (implemented by the mailer
// package, from templates an operator may override).
type MailComposer interface {
	Compose(purpose, to string, data MailData) (*Mail, error)
}

// PrepareMail gives a mail about to be queued its defaults: a new id, and
// due at once. Both stores call it.
func PrepareMail(m *Mail) {
	if m.ID == "" {
		m.ID = NewID()
	}
	if m.NextAttemptAt.IsZero() {
		m.NextAttemptAt = m.CreatedAt
	}
}

// CompareMailAge orders mails oldest first, ties by id: the order in which
// the stores hand out claimed mails.
func CompareMailAge(a, b Mail) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}
