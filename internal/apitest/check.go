package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi-validator/errors"
)

// MalformedHeader marks a request that a test sends out of the
// description on purpose (an attack, a wrong type, a missing member). The
// wrappers remove it before the request goes out, check only the
// response, and say so in any failure.
const MalformedHeader = "Apitest-Malformed"

// Malformed marks r as deliberately out of the description, with why.
func Malformed(r *http.Request, why string) *http.Request {
	if why == "" {
		why = "yes"
	}
	r.Header.Set(MalformedHeader, why)
	return r
}

// Check validates one exchange and returns its violations, none when it
// fits the description. reqBody and respBody are the bodies as sent and
// received (r.Body and resp.Body are not read); checkRequest false skips
// the request (a deliberately malformed one).
func (s *Spec) Check(r *http.Request, reqBody []byte, checkRequest bool, resp *http.Response, respBody []byte) []string {
	return s.check(r, reqBody, checkRequest, resp, respBody, options{})
}

func (s *Spec) check(r *http.Request, reqBody []byte, checkRequest bool, resp *http.Response, respBody []byte, o options) []string {
	if r.Method == http.MethodHead || r.Method == http.MethodOptions || resp.StatusCode == 499 {
		return nil // no body to check; a CORS preflight; a client that went away
	}
	path := r.URL.Path
	var out []string
	op, known := s.match(r.Method, path)
	if op != nil && slices.Contains(o.unserved, op.name()) {
		op, known = nil, false // this server leaves the operation out: an unknown path
	}
	if op == nil {
		api := strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/.well-known/")
		if isProblem(resp) {
			// An unknown path (404) or a method the path lacks (405).
			if !slices.Contains(s.generic[resp.StatusCode], problemCode(respBody)) {
				out = append(out, fmt.Sprintf("%s %s: a problem %d %q outside the description's operations (only 404 not_found and 405 method_not_allowed are)",
					r.Method, path, resp.StatusCode, problemCode(respBody)))
			}
		} else if known || api {
			out = append(out, fmt.Sprintf("%s %s: no such operation in the description, yet the server answered %d %s",
				r.Method, path, resp.StatusCode, resp.Header.Get("Content-Type")))
		}
		return out
	}
	req := r.Clone(r.Context())
	if checkRequest {
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
		if ok, errs := s.v.ValidateHttpRequest(req); !ok {
			out = append(out, fmt.Sprintf("request %s %s does not fit the description: %s", r.Method, path, describe(errs)))
		}
	}
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	res := *resp
	res.Body = io.NopCloser(bytes.NewReader(respBody))
	if ok, errs := s.v.ValidateHttpResponse(req, &res); !ok {
		out = append(out, fmt.Sprintf("response %d to %s %s does not fit the description: %s\nbody: %s",
			resp.StatusCode, r.Method, path, describe(errs), truncate(respBody)))
	}
	if isProblem(resp) {
		code := problemCode(respBody)
		if listed, ok := op.codes[resp.StatusCode]; !ok || !slices.Contains(listed, code) {
			out = append(out, fmt.Sprintf("%s %s answered %d %q, a code the description does not list for it (it lists %v)",
				r.Method, path, resp.StatusCode, code, listed))
		}
	}
	return out
}

func isProblem(resp *http.Response) bool {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mt == "application/problem+json"
}

func problemCode(body []byte) string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(body, &p)
	return p.Code
}

func describe(errs []*errors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  - %s", e.Message)
		if e.Reason != "" && e.Reason != e.Message {
			fmt.Fprintf(&b, ": %s", e.Reason)
		}
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n      %s: %s", f.FieldPath, f.Reason)
		}
	}
	return b.String()
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// Option changes what a wrapper checks.
type Option func(*options)

type options struct {
	responsesOnly bool
	unserved      []string
}

// Unserved names operations ("GET /api/posts") that the server under test
// leaves out by its configuration (the demo off, private metrics): they
// are checked as unknown paths, 404 not_found.
func Unserved(ops ...string) Option {
	return func(o *options) { o.unserved = append(o.unserved, ops...) }
}

// ResponsesOnly checks responses only: for a client whose every request is
// deliberately out of the description (an attack suite).
func ResponsesOnly() Option { return func(o *options) { o.responsesOnly = true } }

// Transport wraps next (nil: http.DefaultTransport) so that every exchange
// is checked and each violation fails t.
func Transport(t testing.TB, s *Spec, next http.RoundTripper, opts ...Option) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	var o options
	for _, f := range opts {
		f(&o)
	}
	return &transport{t: t, s: s, next: next, o: o}
}

type transport struct {
	t    testing.TB
	s    *Spec
	next http.RoundTripper
	o    options
}

func (tr *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	malformed := r.Header.Get(MalformedHeader)
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	out := r.Clone(r.Context())
	out.Header.Del(MalformedHeader)
	if r.Body != nil && r.Body != http.NoBody {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	resp, err := tr.next.RoundTrip(out)
	if err != nil {
		return resp, err
	}
	respBody, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if err != nil {
		return resp, nil // the caller sees the short body; nothing to check
	}
	report(tr.t, tr.s.check(out, body, malformed == "" && !tr.o.responsesOnly, resp, respBody, tr.o), malformed)
	return resp, nil
}

// Handler wraps next so that every exchange it serves is checked and each
// violation fails t. The response is buffered: not for streaming.
func Handler(t testing.TB, s *Spec, next http.Handler, opts ...Option) http.Handler {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		malformed := r.Header.Get(MalformedHeader)
		r.Header.Del(MalformedHeader)
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		checked := r.Clone(r.Context())
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		report(t, s.check(checked, body, malformed == "" && !o.responsesOnly, rec.Result(), rec.Body.Bytes(), o), malformed)
	})
}

// CheckRecorded checks one exchange served into a recorder: for tests that
// call a handler directly. reqBody is the body r was made with.
func (s *Spec) CheckRecorded(t testing.TB, r *http.Request, reqBody []byte, rec *httptest.ResponseRecorder, opts ...Option) {
	t.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	malformed := r.Header.Get(MalformedHeader)
	report(t, s.check(r, reqBody, malformed == "" && !o.responsesOnly, rec.Result(), rec.Body.Bytes(), o), malformed)
}

func report(t testing.TB, violations []string, malformed string) {
	t.Helper()
	for _, v := range violations {
		if malformed != "" {
			v += " (request marked malformed: " + malformed + ")"
		}
		t.Errorf("OpenAPI description: %s", v)
	}
}

type malformedKey struct{}

// WithMalformed marks the requests made with ctx as deliberately out of the
// description, for a client that takes no headers from its caller (the Go
// client): its HTTP client's transport must be [Marking].
func WithMalformed(ctx context.Context, why string) context.Context {
	return context.WithValue(ctx, malformedKey{}, why)
}

// Marking wraps next (nil: http.DefaultTransport) so that a request whose
// context came from [WithMalformed] carries [MalformedHeader], for a
// checking [Handler] on the server side.
func Marking(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if why, ok := r.Context().Value(malformedKey{}).(string); ok {
			r = r.Clone(r.Context())
			Malformed(r, why)
		}
		return next.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
