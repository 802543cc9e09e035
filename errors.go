package gatehouse

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel errors. Every layer wraps them with %w; httpapi maps them to
// RFC 9457 problems with a stable code, and the Go client maps the codes
// back, so errors.Is works on both sides of the wire.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("already exists")
	ErrEmailTaken   = fmt.Errorf("email: %w", ErrConflict)
	ErrInvalidInput = errors.New("invalid input")
	ErrForbidden    = errors.New("forbidden")

	// Login and registration.
	ErrInvalidCredentials = errors.New("invalid credentials")
	ErrRateLimited        = errors.New("too many attempts")
	ErrServerBusy         = errors.New("server busy")

	// Access tokens.
	ErrTokenMissing = errors.New("token missing")
	ErrTokenInvalid = errors.New("token invalid")
	ErrTokenExpired = errors.New("token expired")

	// Refresh tokens (CONTRACT §4, "Refresh failures").
	ErrRefreshTokenInvalid = errors.New("refresh token invalid")
	ErrRefreshTokenExpired = errors.New("refresh token expired")
	ErrRefreshTokenReused  = errors.New("refresh token reused")
	ErrSessionRevoked      = errors.New("session revoked")

	// ErrUnavailable means the database could not be reached.
	ErrUnavailable = errors.New("service unavailable")
)

// ValidationError lists problems with the fields of a request.
// errors.Is(err, ErrInvalidInput) reports true.
type ValidationError struct {
	Fields map[string]string // field name -> message
}

// Invalid returns a ValidationError for one field.
func Invalid(field, message string) *ValidationError {
	return &ValidationError{Fields: map[string]string{field: message}}
}

// Add records a problem with field and returns v, creating it when nil.
func (v *ValidationError) Add(field, message string) *ValidationError {
	if v == nil {
		v = &ValidationError{}
	}
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	if _, ok := v.Fields[field]; !ok {
		v.Fields[field] = message
	}
	return v
}

// Err returns v as an error, or nil when it holds no problem.
func (v *ValidationError) Err() error {
	if v == nil || len(v.Fields) == 0 {
		return nil
	}
	return v
}

func (v *ValidationError) Error() string {
	names := make([]string, 0, len(v.Fields))
	for name := range v.Fields {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = name + ": " + v.Fields[name]
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

func (v *ValidationError) Unwrap() error { return ErrInvalidInput }

// RateLimitError is returned once an attempt limit is reached.
// errors.Is(err, ErrRateLimited) reports true.
type RateLimitError struct {
	RetryAfter int // seconds until the window passes, at least 1
	// first is set on the first refusal of a window (for the audit log).
	first bool
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("too many attempts: retry after %d s", e.RetryAfter)
}

func (e *RateLimitError) Unwrap() error { return ErrRateLimited }
