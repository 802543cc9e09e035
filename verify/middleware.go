package verify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse"
)

// ClaimsFromContext returns the claims [Verifier.Middleware] put in a
// request's context, or nil. It is [gatehouse.ClaimsFromContext], so code
// that runs under Gatehouse's own handlers reads claims the same way.
func ClaimsFromContext(ctx context.Context) *gatehouse.AccessClaims {
	return gatehouse.ClaimsFromContext(ctx)
}

// Middleware passes requests with a valid bearer token to next, with the
// token's claims in the request context ([ClaimsFromContext]), and answers
// every other request with Gatehouse's 401 problem. Its shape,
// func(http.Handler) http.Handler, fits net/http, chi and gorilla/mux.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, err := v.Authenticate(r)
		if err != nil {
			v.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Authenticate verifies the request's "Authorization: Bearer" token and
// returns the request with the claims in its context. It returns the
// errors of [Verifier.Verify]; hand them to [Verifier.WriteError]. With
// these two, frameworks whose handlers are not http.Handler (gin, echo)
// need a three-line adapter (see the examples).
func (v *Verifier) Authenticate(r *http.Request) (*http.Request, error) {
	bearer, err := gatehouse.BearerToken(r.Header.Values("Authorization"))
	if err != nil {
		return r, err
	}
	c, err := v.Verify(r.Context(), bearer)
	if err != nil {
		return r, err
	}
	return r.WithContext(gatehouse.NewContext(r.Context(), c)), nil
}

// RequireAAL2 wraps a handler that must only run for tokens of sessions
// that passed a second factor (acr "aal2", CONTRACT §8). Put it inside
// [Verifier.Middleware]. Any other token gets 403
// insufficient_user_authentication with RFC 9470's challenge, which the
// Gatehouse SDKs answer by asking the user for a code (step-up) and
// retrying.
func (v *Verifier) RequireAAL2(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := gatehouse.ClaimsFromContext(r.Context())
		if c == nil {
			v.WriteError(w, r, gatehouse.ErrTokenMissing)
			return
		}
		if !c.AAL2() {
			v.WriteError(w, r, gatehouse.ErrInsufficientAuth)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// problem is Gatehouse's RFC 9457 problem (httpapi.Problem), member for
// member and in the same order, so clients switch on the same code.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
}

// WriteError answers a request refused by [Verifier.Authenticate] or
// [Verifier.Verify] with Gatehouse's problem: a 401 carries
// WWW-Authenticate: Bearer, with error="invalid_token" when a token was
// sent (RFC 6750 §3.1). An error of no known kind is a 500 without detail.
func (v *Verifier) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	c, ok := gatehouse.Code(err)
	p := problem{Status: c.Status, Code: c.Code}
	desc := ""
	if ok {
		p.Detail = c.Err.Error()
		desc = gatehouse.ChallengeDescription(err)
	} else {
		v.log.ErrorContext(r.Context(), "verify: internal error", "err", err)
	}
	p.Type = "urn:gatehouse:problem:" + p.Code
	p.Title = http.StatusText(p.Status)
	h := w.Header()
	switch p.Status {
	case http.StatusUnauthorized:
		challenge := `Bearer realm="` + v.realm + `"`
		if r.Header.Get("Authorization") != "" {
			challenge += `, error="invalid_token", error_description="` + desc + `"`
		}
		h.Set("WWW-Authenticate", challenge)
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "1")
	case http.StatusForbidden:
		if errors.Is(err, gatehouse.ErrInsufficientAuth) {
			// RFC 9470 §3: the level the route needs.
			h.Set("WWW-Authenticate", `Bearer realm="`+v.realm+`", error="insufficient_user_authentication", `+
				`error_description="a second factor is required", acr_values="aal2"`)
		}
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
