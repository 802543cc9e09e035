package gatehouse

import (
	"context"
	"time"
)

// Event types of the audit log (CONTRACT §9). An event records who did
// what to which account, from where; never a token, code or password
// (OWASP ASVS 5.0 V16.2: log security events, V16.1.3 no secrets in logs).
const (
	EventUserRegistered       = "user.registered"
	EventLoginSucceeded       = "login.succeeded"
	EventLoginFailed          = "login.failed"
	EventLoginRateLimited     = "login.rate_limited"
	EventRefreshReused        = "refresh.reused"
	EventSessionRevoked       = "session.revoked"
	EventPasswordChanged      = "password.changed"
	EventPasswordResetAsked   = "password.reset_requested"
	EventPasswordReset        = "password.reset"
	EventEmailVerified        = "email.verified"
	EventEmailChanged         = "email.changed"
	EventMFAEnrolled          = "mfa.enrolled"
	EventMFARemoved           = "mfa.removed"
	EventMFAFailed            = "mfa.failed"
	EventRecoveryCodeUsed     = "recovery_code.used"
	EventPasskeyAdded         = "passkey.added"
	EventPasskeyRemoved       = "passkey.removed"
	EventUserUpdated          = "user.updated"
	EventUserDeleted          = "user.deleted"
	EventUserDisabled         = "user.disabled"
	EventUserEnabled          = "user.enabled"
	EventClientCreated        = "client.created"
	EventClientDeleted        = "client.deleted"
	EventClientAuthFailed     = "client.auth_failed"
	EventRecoveryCodesRenewed = "recovery_codes.regenerated"
)

// EventTypes lists every event type, for filters and documentation.
var EventTypes = []string{
	EventUserRegistered, EventLoginSucceeded, EventLoginFailed, EventLoginRateLimited,
	EventRefreshReused, EventSessionRevoked, EventPasswordChanged, EventPasswordResetAsked,
	EventPasswordReset, EventEmailVerified, EventEmailChanged, EventMFAEnrolled, EventMFARemoved,
	EventMFAFailed, EventRecoveryCodeUsed, EventPasskeyAdded, EventPasskeyRemoved,
	EventUserUpdated, EventUserDeleted, EventUserDisabled, EventUserEnabled,
	EventClientCreated, EventClientDeleted, EventClientAuthFailed, EventRecoveryCodesRenewed,
}

// Event is one entry of the audit log.
type Event struct {
	ID        string
	Type      string
	At        time.Time
	UserID    string // the account concerned; "" for a failed login of an unknown email
	SessionID string // the session concerned or acting, when there is one
	ActorID   string // who did it when not the user themselves (an admin); "" otherwise
	IP        string
	UserAgent string
	// Detail holds short, non-secret facts: {"reason":"wrong_password"},
	// {"email":"…"} for an unknown account, {"fields":"role,disabled"}.
	Detail map[string]string
}

// EventFilter selects events; zero fields select everything.
type EventFilter struct {
	UserID string
	Type   string
}

// EventCursor is the position after which a page of events continues
// (newest first, ties broken by ID).
type EventCursor struct {
	At time.Time
	ID string
}

// EventStore keeps the audit log.
//
// Events ride on the writes they record: a Store write made with a context
// from [WithEvents] stores those events in the same transaction, when (and
// only when) the write commits a change. So a crash never leaves a change
// without its event, nor an event without its change. The writes that
// find their user from a link token (VerifyEmail, ResetPassword,
// ConfirmEmailChange) fill an event's empty UserID with that user's id.
type EventStore interface {
	// AppendEvents stores events that record no change of their own (a
	// failed login, a rate-limited attempt).
	AppendEvents(ctx context.Context, events ...Event) error
	// Events returns up to limit events matching f, newest first, after
	// the cursor (nil: from the newest).
	Events(ctx context.Context, f EventFilter, after *EventCursor, limit int) ([]Event, error)
	// PruneEvents deletes the events older than before and returns how
	// many it deleted.
	PruneEvents(ctx context.Context, before time.Time) (int, error)
}

type eventsKey struct{}

// WithEvents returns a context whose next Store write stores events in its
// own transaction (see [EventStore]). Attach them at the call of the one
// write they record.
func WithEvents(ctx context.Context, events ...Event) context.Context {
	if len(events) == 0 {
		return ctx
	}
	return context.WithValue(ctx, eventsKey{}, events)
}

// EventsOf returns the events attached to ctx by [WithEvents]; stores call
// it inside their write transactions.
func EventsOf(ctx context.Context) []Event {
	ev, _ := ctx.Value(eventsKey{}).([]Event)
	return ev
}
