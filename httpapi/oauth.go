package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse"
)

// oauthError is an RFC 6749 §5.2 error response. Code carries Gatehouse's
// own code as an extension, so clients can tell a reused token from an
// expired one.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	Code        string `json:"code,omitempty"`
	MFAToken    string `json:"mfa_token,omitempty"` // with mfa_required (CONTRACT §8)
}

// handleToken is the OAuth 2.0 form of login and refresh (RFC 6749 §4.3 and
// §6), so that standard OAuth clients work unchanged. Gatehouse's clients are
// public: client credentials, if sent, are ignored.
func (a *api) handleToken(w http.ResponseWriter, r *http.Request) {
	f, err := decodeForm(w, r, "grant_type", "username", "password", "refresh_token", "client_id", "client_secret", "scope")
	if err != nil {
		a.writeOAuthError(w, r, err)
		return
	}
	var g *gatehouse.Grant
	switch f["grant_type"] {
	case "client_credentials":
		a.handleClientCredentials(w, r, f)
		return
	case "password":
		g, err = a.svc.Login(r.Context(), f["username"], f["password"], a.clientInfo(r))
		a.metrics.countLogin(err)
	case "refresh_token":
		if f["refresh_token"] == "" {
			a.writeOAuthError(w, r, badRequest("refresh_token is required"))
			return
		}
		g, err = a.svc.Refresh(r.Context(), f["refresh_token"])
		a.metrics.countRefresh(g, err)
	case "":
		a.writeOAuthError(w, r, badRequest("grant_type is required"))
		return
	default:
		writeOAuth(w, http.StatusBadRequest, oauthError{Error: "unsupported_grant_type", Description: "grant_type must be password, refresh_token or client_credentials"})
		return
	}
	if err != nil {
		a.writeOAuthError(w, r, err)
		return
	}
	g.User = nil // RFC 6749 §5.1 response: tokens only
	a.writeGrant(w, g, false)
}

// handleRevoke is RFC 7009 token revocation: 200 whatever the token, so
// that the answer reveals nothing about it (§2.2).
func (a *api) handleRevoke(w http.ResponseWriter, r *http.Request) {
	f, err := decodeForm(w, r, "token", "token_type_hint")
	if err != nil {
		a.writeOAuthError(w, r, err)
		return
	}
	if f["token"] == "" {
		a.writeOAuthError(w, r, badRequest("token is required"))
		return
	}
	if err := a.svc.RevokeToken(r.Context(), f["token"]); err != nil {
		a.writeOAuthError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// writeOAuthError maps err to RFC 6749 §5.2: refresh and credential
// failures are 400 invalid_grant (SECURITY.md O2); limits keep the status
// the JSON API uses (429 with Retry-After, 503), as CONTRACT §4 asks.
func (a *api) writeOAuthError(w http.ResponseWriter, r *http.Request, err error) {
	p, ok := problemFor(err)
	if !ok {
		a.log.ErrorContext(r.Context(), "internal error", "err", err, "request_id", requestID(r.Context()))
		writeOAuth(w, 500, oauthError{Error: "server_error", Code: "internal_error"})
		return
	}
	body := oauthError{Description: p.Detail, Code: p.Code}
	status := p.Status
	switch {
	case errors.Is(err, gatehouse.ErrMFARequired):
		// The password was right; the second factor is completed at
		// /api/auth/mfa/verify (CONTRACT §8: 403, as Auth0's grant does).
		status, body.Error, body.MFAToken = http.StatusForbidden, "mfa_required", p.MFAToken
	case errors.Is(err, gatehouse.ErrInvalidClient):
		status, body.Error = http.StatusUnauthorized, "invalid_client"
	case errors.Is(err, gatehouse.ErrInvalidScope):
		status, body.Error = http.StatusBadRequest, "invalid_scope"
	case errors.Is(err, gatehouse.ErrInsufficientScope):
		status, body.Error = http.StatusForbidden, "insufficient_scope"
	case errors.Is(err, gatehouse.ErrTokenInvalid), errors.Is(err, gatehouse.ErrTokenExpired), errors.Is(err, gatehouse.ErrTokenMissing):
		status, body.Error = http.StatusUnauthorized, "invalid_token"
	case errors.Is(err, gatehouse.ErrInvalidCredentials), errors.Is(err, gatehouse.ErrUserDisabled), terminalRefreshError(err):
		// A disabled account's grant is invalid (RFC 6749 §5.2); the code
		// says why.
		status, body.Error = http.StatusBadRequest, "invalid_grant"
	case errors.Is(err, gatehouse.ErrRateLimited):
		var rl *gatehouse.RateLimitError
		if errors.As(err, &rl) {
			w.Header().Set("Retry-After", strconv.Itoa(rl.RetryAfter))
		}
		body.Error = "rate_limited"
	case status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
		body.Error = "temporarily_unavailable"
	default:
		body.Error = "invalid_request"
		if status == http.StatusUnprocessableEntity {
			status = http.StatusBadRequest
		}
	}
	writeOAuth(w, status, body)
}

func writeOAuth(w http.ResponseWriter, status int, body oauthError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
