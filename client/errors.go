package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/gatehouse/gatehouse"
)

// ErrLoggedOut means there are no tokens: never logged in, logged out, or
// the session ended at Gatehouse ([*SessionError]). Log in again.
var ErrLoggedOut = errors.New("client: logged out")

// Error is an RFC 9457 problem answered by Gatehouse (or, without a Code,
// any other non-success answer). Unwrap returns the root package's
// sentinel for Code, so errors.Is(err, gatehouse.ErrRateLimited) works.
type Error struct {
	Status     int    // HTTP status
	Code       string // Gatehouse's stable code, e.g. "invalid_credentials"
	Detail     string
	RetryAfter string // the Retry-After header, if any

	// With Code "mfa_required": the challenge to answer with
	// [Session.CompleteMFA], and the methods that can answer it.
	MFAToken string
	Methods  []string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("gatehouse: status %d", e.Status)
	}
	if e.Detail == "" {
		return fmt.Sprintf("gatehouse: %d %s", e.Status, e.Code)
	}
	return fmt.Sprintf("gatehouse: %d %s: %s", e.Status, e.Code, e.Detail)
}

// Unwrap returns the sentinel of e.Code ([gatehouse.ErrorForCode]), or
// nil for a code it does not know.
func (e *Error) Unwrap() error { return gatehouse.ErrorForCode(e.Code) }

// SessionError means Gatehouse refused the refresh token with a 401: the
// session ended (logout elsewhere, expiry, revocation, or reuse detected).
// The stored tokens were cleared. errors.Is(err, ErrLoggedOut) reports
// true, and so does errors.Is with the sentinel of Err.Code.
type SessionError struct {
	Err *Error
}

func (e *SessionError) Error() string { return "client: session ended: " + e.Err.Error() }

// Unwrap returns [ErrLoggedOut] and the problem.
func (e *SessionError) Unwrap() []error { return []error{ErrLoggedOut, e.Err} }

// maxProblem bounds the problem bodies read.
const maxProblem = 64 << 10

// readError turns a non-success response into an *Error. It reads and
// closes the body.
func readError(resp *http.Response) *Error {
	defer resp.Body.Close()
	e := &Error{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxProblem))
	if isProblem(resp.Header) {
		var p struct {
			Code, Detail string
			MFAToken     string   `json:"mfa_token"`
			Methods      []string `json:"methods"`
		}
		if json.Unmarshal(b, &p) == nil {
			e.Code, e.Detail, e.MFAToken, e.Methods = p.Code, p.Detail, p.MFAToken, p.Methods
		}
	}
	return e
}

func isProblem(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == "application/problem+json"
}
