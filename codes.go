package gatehouse

import (
	"errors"
	"net/http"
)

// Accounts by email.
var (
	ErrEmailTokenInvalid = errors.New("the link is not valid: it was used, replaced or never issued")
	ErrEmailTokenExpired = errors.New("the link expired: ask for a new one")
	ErrAlreadyVerified   = errors.New("the email address is already verified")
	ErrEmailNotVerified  = errors.New("the email address is not verified yet")
	// ErrSignupDisabled: the operator turned public sign-up off; accounts
	// come from an administrator (the CLI's "user create").
	ErrSignupDisabled = errors.New("sign-up is turned off: ask an administrator for an account")
)

// Errors of the HTTP edge. They live here, beside the domain sentinels,
// so that the Go client can map their codes back as well.
var (
	ErrInvalidRequest       = errors.New("invalid request")
	ErrPayloadTooLarge      = errors.New("request body larger than 1 MiB")
	ErrUnsupportedMediaType = errors.New("request body must be application/json")
	ErrCSRF                 = errors.New("cross-site request refused")
	ErrMethodNotAllowed     = errors.New("method not allowed")
)

// ErrorCode ties a sentinel error to its stable, machine-readable code and
// the HTTP status it is answered with (RFC 9457 problem details). The HTTP
// layer, the verify middleware, the Go client and the OpenAPI description
// all read [ErrorCodes]: a new code is one line there.
type ErrorCode struct {
	Err    error
	Code   string
	Status int
}

// errorCodes is in match order: the first entry whose Err matches with
// errors.Is wins, so specific errors come before the ones they wrap
// (ErrEmailTaken before ErrConflict).
var errorCodes = []ErrorCode{
	{ErrInvalidInput, "validation_failed", http.StatusUnprocessableEntity},
	{ErrEmailTaken, "email_taken", http.StatusConflict},
	{ErrInvalidCredentials, "invalid_credentials", http.StatusUnauthorized},
	{ErrRateLimited, "rate_limited", http.StatusTooManyRequests},
	{ErrServerBusy, "server_busy", http.StatusServiceUnavailable},
	{ErrTokenMissing, "token_missing", http.StatusUnauthorized},
	{ErrTokenExpired, "token_expired", http.StatusUnauthorized},
	{ErrTokenInvalid, "token_invalid", http.StatusUnauthorized},
	{ErrSessionRevoked, "session_revoked", http.StatusUnauthorized},
	{ErrRefreshTokenInvalid, "refresh_token_invalid", http.StatusUnauthorized},
	{ErrRefreshTokenExpired, "refresh_token_expired", http.StatusUnauthorized},
	{ErrRefreshTokenReused, "refresh_token_reused", http.StatusUnauthorized},
	{ErrForbidden, "forbidden", http.StatusForbidden},
	{ErrNotFound, "not_found", http.StatusNotFound},
	{ErrConflict, "conflict", http.StatusConflict},
	{ErrUnavailable, "unavailable", http.StatusServiceUnavailable},
	{ErrEmailTokenInvalid, "email_token_invalid", http.StatusBadRequest},
	{ErrEmailTokenExpired, "email_token_expired", http.StatusBadRequest},
	{ErrAlreadyVerified, "already_verified", http.StatusConflict},
	{ErrEmailNotVerified, "email_not_verified", http.StatusForbidden},
	{ErrSignupDisabled, "signup_disabled", http.StatusForbidden},
	{ErrInvalidRequest, "invalid_request", http.StatusBadRequest},
	{ErrPayloadTooLarge, "payload_too_large", http.StatusRequestEntityTooLarge},
	{ErrUnsupportedMediaType, "unsupported_media_type", http.StatusUnsupportedMediaType},
	{ErrCSRF, "csrf_failed", http.StatusForbidden},
	{ErrMethodNotAllowed, "method_not_allowed", http.StatusMethodNotAllowed},
}

// InternalErrorCode is the code of every error that has no entry: it is
// answered 500, with no detail.
const InternalErrorCode = "internal_error"

var byCode = func() map[string]ErrorCode {
	m := make(map[string]ErrorCode, len(errorCodes))
	for _, c := range errorCodes {
		if _, dup := m[c.Code]; dup {
			panic("gatehouse: duplicate error code " + c.Code)
		}
		m[c.Code] = c
	}
	return m
}()

// ErrorCodes returns the table of known codes, in match order.
func ErrorCodes() []ErrorCode {
	return append([]ErrorCode(nil), errorCodes...)
}

// Code returns the entry for err: the first whose sentinel err wraps. ok
// is false for an error of no known kind (InternalErrorCode, status 500).
func Code(err error) (c ErrorCode, ok bool) {
	if err == nil {
		return ErrorCode{}, false
	}
	for _, c := range errorCodes {
		if errors.Is(err, c.Err) {
			return c, true
		}
	}
	return ErrorCode{Code: InternalErrorCode, Status: http.StatusInternalServerError}, false
}

// ErrorForCode is the inverse of [Code]: the sentinel answered with code,
// or nil for a code it does not know.
func ErrorForCode(code string) error {
	return byCode[code].Err
}

// ChallengeDescription is the error_description of the WWW-Authenticate
// challenge (RFC 6750 §3) that answers a bearer request refused with err.
func ChallengeDescription(err error) string {
	switch {
	case errors.Is(err, ErrTokenExpired):
		return "the access token expired"
	case errors.Is(err, ErrSessionRevoked):
		return "the session was ended"
	}
	return "the access token is invalid"
}
