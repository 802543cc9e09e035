package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"

	"github.com/gatehouse/gatehouse"
)

// Problem is an RFC 9457 problem details object with Gatehouse's stable,
// machine-readable code (CONTRACT §2). SDKs switch on Code.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Code   string       `json:"code"`
	Errors []FieldError `json:"errors,omitempty"`

	// The challenge of mfa_required (CONTRACT §8): complete it at
	// /api/auth/mfa/verify with one of Methods.
	MFAToken string   `json:"mfa_token,omitempty"`
	Methods  []string `json:"methods,omitempty"`

	// The resumption point of feed_gap (CONTRACT §10).
	FirstSeq int64  `json:"first_seq,omitempty"`
	Since    string `json:"since,omitempty"`
}

// FieldError is one entry of a validation problem's "errors".
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// requestError is an error of a sentinel's kind with a detail the client
// may see.
type requestError struct {
	kind   error
	detail string
}

func (e *requestError) Error() string { return e.detail }
func (e *requestError) Unwrap() error { return e.kind }

// withDetail returns kind with detail as the problem's detail.
func withDetail(kind error, detail string) error { return &requestError{kind: kind, detail: detail} }

func badRequest(detail string) error { return withDetail(gatehouse.ErrInvalidRequest, detail) }

// problemFor maps err to a problem; ok is false for an unmapped error,
// which is answered 500 with no detail.
func problemFor(err error) (p Problem, ok bool) {
	c, ok := gatehouse.Code(err)
	p = Problem{
		Type: "urn:gatehouse:problem:" + c.Code, Title: http.StatusText(c.Status),
		Status: c.Status, Code: c.Code,
	}
	if !ok {
		return p, false
	}
	p.Detail = c.Err.Error()
	var re *requestError
	if errors.As(err, &re) {
		p.Detail = re.detail
	}
	var ve *gatehouse.ValidationError
	if errors.As(err, &ve) {
		p.Detail = "some fields are not valid"
		p.Errors = fieldErrors(ve)
	}
	var mfa *gatehouse.MFARequiredError
	if errors.As(err, &mfa) {
		p.MFAToken, p.Methods = mfa.Token, mfa.Methods
	}
	return p, true
}

func fieldErrors(ve *gatehouse.ValidationError) []FieldError {
	out := make([]FieldError, 0, len(ve.Fields))
	for f, m := range ve.Fields {
		out = append(out, FieldError{Field: f, Message: m})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// writeError answers with the problem for err. Unmapped errors are logged
// with their whole chain and answered 500 without detail.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away: nobody reads this answer, and it is no
		// server fault worth an error line.
		a.log.DebugContext(r.Context(), "client gone", "request_id", requestID(r.Context()))
		w.WriteHeader(499)
		return
	}
	p, ok := problemFor(err)
	if !ok {
		a.log.ErrorContext(r.Context(), "internal error", "err", err, "request_id", requestID(r.Context()))
	} else if p.Status >= 500 {
		a.log.WarnContext(r.Context(), "unavailable", "err", err, "request_id", requestID(r.Context()))
	}
	var rl *gatehouse.RateLimitError
	switch {
	case errors.As(err, &rl):
		w.Header().Set("Retry-After", strconv.Itoa(rl.RetryAfter))
	case p.Status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	case errors.Is(err, gatehouse.ErrInsufficientAuth):
		w.Header().Set("WWW-Authenticate", insufficientAuthChallenge)
	}
	writeProblem(w, p)
}

func writeProblem(w http.ResponseWriter, p Problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
