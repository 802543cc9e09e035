package gatehouse

import (
	"errors"
	"fmt"
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

// Errors of second factors (CONTRACT §8).
var (
	// ErrMFARequired: the password was right, and the account has a second
	// factor; the error is a *MFARequiredError carrying the challenge.
	ErrMFARequired = errors.New("a second factor is required: answer the challenge at /api/auth/mfa/verify")
	// ErrMFACodeInvalid: a wrong, replayed or used code or recovery code.
	ErrMFACodeInvalid = errors.New("the code is not valid")
	// errTOTPConfirmCodeInvalid is ErrMFACodeInvalid when confirming an
	// enrolment, answered 400: the session is fine, the input is wrong.
	errTOTPConfirmCodeInvalid = fmt.Errorf("%w: enter the current code of the authenticator app", ErrMFACodeInvalid)
	// ErrMFATokenInvalid: an mfa_token unknown, used, expired, dead after
	// too many wrong codes, or sent from another client address.
	ErrMFATokenInvalid = errors.New("the sign-in challenge is not valid any more: log in again")
	// ErrAlreadyEnrolled: the user already has a TOTP factor.
	ErrAlreadyEnrolled = errors.New("an authenticator app is already set up: turn it off first")
	// ErrMFANotEnrolled: the action needs a second factor the user lacks.
	ErrMFANotEnrolled = errors.New("no second factor is set up")
	// ErrInsufficientAuth: the route needs aal2 and the session is aal1
	// while the user has a factor (RFC 9470).
	ErrInsufficientAuth = errors.New("confirm it's you with your second factor first (step-up)")
	// ErrPasskeyInvalid: a passkey ceremony failed: unknown or used
	// challenge, wrong origin or RP ID, bad signature, unknown credential,
	// a signature counter going backwards (a cloned authenticator).
	ErrPasskeyInvalid = errors.New("the passkey could not be verified")
	// errPasskeyRegisterInvalid is ErrPasskeyInvalid when adding a passkey,
	// answered 400: the session is fine, the credential is not.
	errPasskeyRegisterInvalid = fmt.Errorf("%w: add it again", ErrPasskeyInvalid)
)

// Errors of service clients and the revocation feed (CONTRACT §10).
var (
	// ErrInvalidClient: unknown client or wrong secret (RFC 6749 §5.2).
	ErrInvalidClient = errors.New("client authentication failed")
	// ErrInvalidScope: a scope the client does not hold was asked for.
	ErrInvalidScope = errors.New("the requested scope is not the client's")
	// ErrInsufficientScope: the client's token lacks the route's scope
	// (RFC 6750 §3.1).
	ErrInsufficientScope = errors.New("the token lacks the scope this route needs")
	// ErrFeedGap: entries after the asked seq were pruned; the error is a
	// *FeedGapError saying where the feed resumes.
	ErrFeedGap = errors.New("the revocation feed no longer holds entries after this seq")
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
	{ErrMFARequired, "mfa_required", http.StatusUnauthorized},
	{errTOTPConfirmCodeInvalid, "mfa_code_invalid", http.StatusBadRequest},
	{ErrMFACodeInvalid, "mfa_code_invalid", http.StatusUnauthorized},
	{ErrMFATokenInvalid, "mfa_token_invalid", http.StatusUnauthorized},
	{ErrAlreadyEnrolled, "already_enrolled", http.StatusConflict},
	{ErrMFANotEnrolled, "mfa_not_enrolled", http.StatusConflict},
	{ErrInsufficientAuth, "insufficient_user_authentication", http.StatusForbidden},
	{errPasskeyRegisterInvalid, "passkey_invalid", http.StatusBadRequest},
	{ErrPasskeyInvalid, "passkey_invalid", http.StatusUnauthorized},
	{ErrInvalidClient, "invalid_client", http.StatusUnauthorized},
	{ErrInvalidScope, "invalid_scope", http.StatusBadRequest},
	{ErrInsufficientScope, "insufficient_scope", http.StatusForbidden},
	{ErrFeedGap, "feed_gap", http.StatusGone},
	{ErrUserDisabled, "user_disabled", http.StatusForbidden},
	{ErrLastAdmin, "last_admin", http.StatusConflict},
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
		// A code may appear twice only when the first entry is a special
		// case of the second (a different status for one route); the
		// inverse then names the general sentinel.
		if prev, dup := m[c.Code]; dup && !errors.Is(prev.Err, c.Err) {
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
